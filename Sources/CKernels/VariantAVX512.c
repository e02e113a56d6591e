// The AVX-512 variant (F, BW, VL, DQ: Skylake-SP, Ice Lake, Sapphire Rapids, Zen 4 and later), chosen at run time.
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,bmi,bmi2,popcnt"))), apply_to = function)

#define CK_NAME(base) CKernels_##base##_avx512

static inline uint32_t ck_mask16(const float *p) {
    return (uint32_t)_mm512_cmp_ps_mask(_mm512_loadu_ps(p), _mm512_setzero_ps(), _CMP_NEQ_UQ);
}

#include "KernelBodies.h"

#pragma clang attribute pop
#endif
