#ifndef COPENBLAS_SHIM_H
#define COPENBLAS_SHIM_H
#include <cblas.h>
/* openblas_set_num_threads and openblas_get_num_threads are declared in cblas.h (OpenBLAS). */
#endif
