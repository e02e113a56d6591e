// Coordinator
//
// The head-node service: the 18/MDP broker loop, leases tied to worker heartbeats, the search driving 
// dispatch, artifact serving, resume.
