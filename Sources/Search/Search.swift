// Search
//
// The multi-objective evolutionary search: typed per-layer genes, steady-state NSGA-II with constrained 
// domination, duplicate elimination and hypervolume. Pure and seeded; no I/O.
