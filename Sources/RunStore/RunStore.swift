// RunStore
//
// The run directory and its SQLite database (GRDB): candidates, attempts, results, events, hypervolume 
// history and RNG state, written transactionally.
