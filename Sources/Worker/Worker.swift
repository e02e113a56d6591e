// Worker
//
// The compute-node service: connect, heartbeat, fetch the base checkpoint, run the evaluation, report 
// progress and results, reconnect with back-off.
