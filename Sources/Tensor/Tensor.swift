// Tensor
//
// Contiguous Float32 tensors, GEMM through OpenBLAS, and multi-threaded element-wise and reduction kernels 
// on a fixed-size thread pool.
