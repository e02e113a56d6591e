// The AVX2 + FMA variant (x86-64 since 2013/2015), chosen at run time.
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,bmi,bmi2,popcnt"))), apply_to = function)

#define CK_NAME(base) CKernels_##base##_avx2

static inline uint32_t ck_mask16(const float *p) {
    const __m256 zero = _mm256_setzero_ps();
    uint32_t lo = (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p), zero, _CMP_NEQ_UQ));
    uint32_t hi = (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p + 8), zero, _CMP_NEQ_UQ));
    return lo | hi << 8;
}

#define CK_CONV_BLOCK 4

#include "KernelBodies.h"

#pragma clang attribute pop
#endif
