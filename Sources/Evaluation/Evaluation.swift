// Evaluation
//
// One candidate end to end, exactly what a search worker runs: load the FP32 checkpoint and the frames, 
// apply the per-layer quantizers, fine-tune, evaluate accuracy, energy and size.
