// The AVX-512 variant (F, BW, VL, DQ: Skylake-SP, Ice Lake, Sapphire Rapids, Zen 4 and later), chosen at run time.
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,bmi,bmi2,popcnt"))), apply_to = function)

#define CK_NAME(base) CKernels_##base##_avx512

static inline uint32_t ck_mask16(const float *p) {
    return (uint32_t)_mm512_cmp_ps_mask(_mm512_loadu_ps(p), _mm512_setzero_ps(), _CMP_NEQ_UQ);
}

/// Writes `base + t` for every set bit t of `mask`, in ascending order, to `dst` (16 values are
/// stored; the ones past the count are zero) and returns how many bits were set.
static inline int64_t ck_compress16(uint32_t mask, int32_t base, int32_t *dst) {
    const __m512i lanes = _mm512_add_epi32(_mm512_set1_epi32(base),
                                           _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    _mm512_storeu_si512(dst, _mm512_maskz_compress_epi32((__mmask16)mask, lanes));
    return __builtin_popcount(mask);
}

/// The values of `src[0..<16]` at the set bits of `mask`, in order, to `dst` (16 stored; lanes
/// outside the mask are not read).
static inline void ck_compress16_values(uint32_t mask, const float *src, float *dst) {
    _mm512_storeu_ps(dst, _mm512_maskz_compress_ps((__mmask16)mask, _mm512_maskz_loadu_ps((__mmask16)mask, src)));
}
#define CK_COMPRESS16 1
#define CK_CONV_BLOCK 16

#include "KernelBodies.h"

#pragma clang attribute pop
#endif
