// Quantization
//
// Per-layer heterogeneous weight quantization (uniform with a learned step, power-of-two), the quantization 
// config and its canonical hash, bit packing, the energy model and packed-model export.
