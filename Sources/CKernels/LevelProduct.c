// Dense products of int8 weight levels with spikes or spike counts (0...255) in 32-bit integer
// arithmetic: AVX-512 VNNI (`vpdpbusd`: four u8·s8 products added into each 32-bit lane) where the
// CPU has it, plain C otherwise. Integer sums are exact, so both give the same bits.
//
// Per tile of 128 tokens the input is packed once as unsigned bytes, four consecutive input
// features per 32-bit lane and 16 tokens per 64-byte vector: [token block][feature group][16][4].
// Each output row then broadcasts its four levels of a feature group and multiplies them into the
// tile's vectors.
#include "CKernels.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#pragma clang fp contract(off)

enum { ckTileTokens = 128, ckBlockTokens = 16 };

static inline int64_t ck_groups(int64_t inFeatures) { return (inFeatures + 3) / 4; }

int64_t CKernels_levelProductScratch(int64_t inFeatures) { return ck_groups(inFeatures) * 4 * ckTileTokens; }

/// Packs tokens [t0, t0 + n) of x (n ≤ 128) as described above; tokens past n and features past
/// inFeatures are zero.
static void ck_pack_generic(const float *x, int64_t inFeatures, int64_t ldx, int64_t t0, int64_t n, uint8_t *packed) {
    const int64_t groups = ck_groups(inFeatures);
    const int64_t blocks = (n + ckBlockTokens - 1) / ckBlockTokens;
    memset(packed, 0, (size_t)(blocks * groups * 64));
    for (int64_t i = 0; i < inFeatures; i++) {
        const float *row = x + i * ldx + t0;
        for (int64_t t = 0; t < n; t++) {
            packed[((t / 16) * groups + i / 4) * 64 + (t % 16) * 4 + i % 4] = (uint8_t)row[t];
        }
    }
}

/// For every position of one image (`height·width`), which taps of its 3×3 neighbourhood lie
/// inside the image: bit `tap` (ky·3 + kx order). Built once per call, without divisions.
static uint16_t *ck_inside_taps(int64_t height, int64_t width) {
    uint16_t *taps = malloc((size_t)(height * width) * sizeof(uint16_t));
    for (int64_t row = 0; row < height; row++) {
        const uint32_t rows = (row > 0 ? 1u : 0u) | 2u | (row < height - 1 ? 4u : 0u);  // ky = -1, 0, 1
        for (int64_t column = 0; column < width; column++) {
            const uint32_t columns = (column > 0 ? 1u : 0u) | 2u | (column < width - 1 ? 4u : 0u);  // kx = -1, 0, 1
            uint32_t inside = 0;
            for (int ky = 0; ky < 3; ky++) {
                if (rows >> ky & 1) inside |= columns << (3 * ky);
            }
            taps[row * width + column] = (uint16_t)inside;
        }
    }
    return taps;
}

/// `ck_pack_generic` of the 3×3 patches of positions [p0, p0 + n) (see `CKernels_patchLevelProduct`);
/// `inside` is `ck_inside_taps`' table.
static void ck_pack_patches_generic(const float *x, int64_t inChannels, int64_t total, int64_t plane, int64_t width,
                                    const uint16_t *inside, int64_t p0, int64_t n, uint8_t *packed) {
    const int64_t inFeatures = inChannels * 9;
    const int64_t groups = ck_groups(inFeatures);
    const int64_t blocks = (n + ckBlockTokens - 1) / ckBlockTokens;
    memset(packed, 0, (size_t)(blocks * groups * 64));
    for (int64_t t = 0; t < n; t++) {
        const int64_t p = p0 + t;
        const uint32_t taps = inside[p % plane];
        for (int64_t i = 0; i < inFeatures; i++) {
            const int64_t c = i / 9, tap = i % 9;
            if (!(taps >> tap & 1)) continue;
            const float value = x[c * total + p + (tap / 3 - 1) * width + tap % 3 - 1];
            packed[((t / 16) * groups + i / 4) * 64 + (t % 16) * 4 + i % 4] = (uint8_t)value;
        }
    }
}

/// The output of one row and token: the exact sum as a float, times the scale, plus the bias.
static inline float ck_finish(int32_t sum, float scale, const float *bias, int64_t o) {
    const float y = (float)sum * scale;
    return bias ? y + bias[o] : y;
}

/// The `n` tokens of a packed tile times every output row, into `y` (the tile's first column).
static void ck_tile_generic(const uint8_t *packed, int64_t n, int64_t groups, const int8_t *levels, int64_t outFeatures,
                            const float *bias, float scale, float *y, int64_t ldy) {
    for (int64_t o = 0; o < outFeatures; o++) {
        const int8_t *w = levels + o * groups * 4;
        for (int64_t t = 0; t < n; t++) {
            const uint8_t *column = packed + (t / 16) * groups * 64 + (t % 16) * 4;
            int32_t sum = 0;
            for (int64_t g = 0; g < groups; g++) {
                for (int j = 0; j < 4; j++) sum += (int32_t)w[g * 4 + j] * (int32_t)column[g * 64 + j];
            }
            y[o * ldy + t] = ck_finish(sum, scale, bias, o);
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))), apply_to = function)

static void ck_pack_vnni(const float *x, int64_t inFeatures, int64_t ldx, int64_t t0, int64_t n, uint8_t *packed) {
    const int64_t groups = ck_groups(inFeatures);
    const int64_t blocks = (n + ckBlockTokens - 1) / ckBlockTokens;
    // Feature groups outer, so each input row is read once, front to back.
    for (int64_t g = 0; g < groups; g++) {
        for (int64_t b = 0; b < blocks; b++) {
            const int64_t count = n - b * 16 < 16 ? n - b * 16 : 16;
            const __mmask16 mask = count == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
            __m512i word = _mm512_setzero_si512();
            for (int j = 0; j < 4; j++) {
                const int64_t i = 4 * g + j;
                if (i >= inFeatures) break;
                const __m512i v = _mm512_cvttps_epi32(_mm512_maskz_loadu_ps(mask, x + i * ldx + t0 + b * 16));
                word = _mm512_or_si512(word, _mm512_slli_epi32(v, 8 * j));
            }
            _mm512_storeu_si512(packed + (b * groups + g) * 64, word);
        }
    }
}

/// `ck_pack_vnni` of the 3×3 patches of positions [p0, p0 + n): each feature's 16 tokens are one
/// masked load at the tap's offset, the mask holding the positions whose tap lies inside the image
/// (masked lanes are neither read nor faulted on, so taps past the buffer's ends are safe).
static void ck_pack_patches_vnni(const float *x, int64_t inChannels, int64_t total, int64_t plane, int64_t width,
                                 const uint16_t *inside, int64_t p0, int64_t n, uint8_t *packed) {
    const int64_t inFeatures = inChannels * 9;
    const int64_t groups = ck_groups(inFeatures);
    const int64_t blocks = (n + ckBlockTokens - 1) / ckBlockTokens;
    __mmask16 masks[9][ckTileTokens / ckBlockTokens];
    for (int64_t b = 0; b < blocks; b++) {
        // The 16 positions' tap bits (wrapping into the next image), one 32-bit lane each.
        const int64_t count = n - b * 16 < 16 ? n - b * 16 : 16;
        uint32_t lanes[16] = {0};
        int64_t s = (p0 + b * 16) % plane;
        for (int64_t j = 0; j < count; j++) {
            lanes[j] = inside[s];
            if (++s == plane) s = 0;
        }
        const __m512i taps = _mm512_loadu_si512(lanes);
        for (int tap = 0; tap < 9; tap++) masks[tap][b] = _mm512_test_epi32_mask(taps, _mm512_set1_epi32(1 << tap));
    }
    for (int64_t g = 0; g < groups; g++) {
        for (int64_t b = 0; b < blocks; b++) {
            __m512i word = _mm512_setzero_si512();
            for (int j = 0; j < 4; j++) {
                const int64_t i = 4 * g + j;
                if (i >= inFeatures) break;
                const int64_t c = i / 9, tap = i % 9;
                const int64_t offset = c * total + p0 + b * 16 + (tap / 3 - 1) * width + tap % 3 - 1;
                const float *source = (const float *)((uintptr_t)x + (uintptr_t)(offset * (int64_t)sizeof(float)));
                const __m512i v = _mm512_cvttps_epi32(_mm512_maskz_loadu_ps(masks[tap][b], source));
                word = _mm512_or_si512(word, _mm512_slli_epi32(v, 8 * j));
            }
            _mm512_storeu_si512(packed + (b * groups + g) * 64, word);
        }
    }
}

/// Rows [o, o + R) times `blocks` (1 or 2) token blocks of the packed tile.
#define CK_VNNI_ROWS(R)                                                                                                \
    static inline __attribute__((always_inline)) void ck_vnni_rows##R(                                                 \
        const int8_t *levels, int64_t groups, int64_t o, const uint8_t *p0, const uint8_t *p1, int blocks,            \
        int32_t sums[R][2][16]) {                                                                                      \
        __m512i a0[R], a1[R];                                                                                          \
        for (int r = 0; r < R; r++) a0[r] = a1[r] = _mm512_setzero_si512();                                           \
        for (int64_t g = 0; g < groups; g++) {                                                                         \
            const __m512i b0 = _mm512_loadu_si512(p0 + g * 64);                                                        \
            const __m512i b1 = blocks > 1 ? _mm512_loadu_si512(p1 + g * 64) : _mm512_setzero_si512();                \
            for (int r = 0; r < R; r++) {                                                                              \
                int32_t four;                                                                                          \
                memcpy(&four, levels + (o + r) * groups * 4 + g * 4, 4);                                               \
                const __m512i w = _mm512_set1_epi32(four);                                                             \
                a0[r] = _mm512_dpbusd_epi32(a0[r], b0, w);                                                             \
                a1[r] = _mm512_dpbusd_epi32(a1[r], b1, w);                                                             \
            }                                                                                                          \
        }                                                                                                              \
        for (int r = 0; r < R; r++) {                                                                                  \
            _mm512_storeu_si512(sums[r][0], a0[r]);                                                                    \
            _mm512_storeu_si512(sums[r][1], a1[r]);                                                                    \
        }                                                                                                              \
    }
CK_VNNI_ROWS(8)
CK_VNNI_ROWS(1)

/// Writes `count` (≤ 16) outputs of row o from 16 sums.
static inline __attribute__((always_inline)) void ck_vnni_store(const int32_t *sums, float scale, const float *bias, int64_t o,
                                                                float *out, int64_t count) {
    const __mmask16 mask = count == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(sums)), _mm512_set1_ps(scale));
    if (bias) v = _mm512_add_ps(v, _mm512_set1_ps(bias[o]));
    _mm512_mask_storeu_ps(out, mask, v);
}

static void ck_tile_vnni(const uint8_t *packed, int64_t n, int64_t groups, const int8_t *levels, int64_t outFeatures,
                         const float *bias, float scale, float *y, int64_t ldy) {
    const int64_t blocks = (n + ckBlockTokens - 1) / ckBlockTokens;
    for (int64_t b = 0; b < blocks; b += 2) {
        const int pair = b + 1 < blocks ? 2 : 1;
        const uint8_t *p0 = packed + b * groups * 64;
        const uint8_t *p1 = p0 + groups * 64;
        const int64_t first = n - b * 16 < 16 ? n - b * 16 : 16;
        const int64_t second = pair > 1 ? (n - (b + 1) * 16 < 16 ? n - (b + 1) * 16 : 16) : 0;
        float *out = y + b * 16;
        int64_t o = 0;
        for (; o + 8 <= outFeatures; o += 8) {
            int32_t sums[8][2][16];
            ck_vnni_rows8(levels, groups, o, p0, p1, pair, sums);
            for (int r = 0; r < 8; r++) {
                ck_vnni_store(sums[r][0], scale, bias, o + r, out + (o + r) * ldy, first);
                if (pair > 1) ck_vnni_store(sums[r][1], scale, bias, o + r, out + (o + r) * ldy + 16, second);
            }
        }
        for (; o < outFeatures; o++) {
            int32_t sums[1][2][16];
            ck_vnni_rows1(levels, groups, o, p0, p1, pair, sums);
            ck_vnni_store(sums[0][0], scale, bias, o, out + o * ldy, first);
            if (pair > 1) ck_vnni_store(sums[0][1], scale, bias, o, out + o * ldy + 16, second);
        }
    }
}

#pragma clang attribute pop
#endif

static pthread_once_t vnniOnce = PTHREAD_ONCE_INIT;
static int32_t vnniDetected = 0;

static void detectVNNI(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    vnniDetected = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw");
#endif
}

int32_t CKernels_hasIntegerDotProducts(void) {
    pthread_once(&vnniOnce, detectVNNI);
    return vnniDetected && CKernels_activeISA() == CKernels_ISA_avx512;
}

/// Where a product's input bytes come from: rows of `x` `ldx` apart, or, when `inside` is set,
/// the 3×3 patches of images `width` wide with `plane` positions each (`ldx` positions per channel).
typedef struct {
    const float *x;
    int64_t inFeatures;
    int64_t ldx;
    const uint16_t *inside;  // ck_inside_taps' table, or NULL for rows
    int64_t plane, width;
} ck_source;

/// The tile loop both products share: pack up to 128 tokens of `source`, multiply them by every
/// output row, next tile.
static void ck_product(const ck_source *source, int64_t begin, int64_t end, const int8_t *levels, int64_t outFeatures,
                       const float *bias, float scale, float *y, int64_t ldy, uint8_t *scratch) {
    const int64_t groups = ck_groups(source->inFeatures);
    const int64_t channels = source->inFeatures / 9;  // patches only
#if defined(__x86_64__)
    const int32_t vnni = CKernels_hasIntegerDotProducts();
#endif
    for (int64_t t0 = begin; t0 < end; t0 += ckTileTokens) {
        const int64_t n = end - t0 < ckTileTokens ? end - t0 : ckTileTokens;
#if defined(__x86_64__)
        if (vnni) {
            if (source->inside) {
                ck_pack_patches_vnni(source->x, channels, source->ldx, source->plane, source->width, source->inside, t0, n, scratch);
            } else {
                ck_pack_vnni(source->x, source->inFeatures, source->ldx, t0, n, scratch);
            }
            ck_tile_vnni(scratch, n, groups, levels, outFeatures, bias, scale, y + t0, ldy);
            continue;
        }
#endif
        if (source->inside) {
            ck_pack_patches_generic(source->x, channels, source->ldx, source->plane, source->width, source->inside, t0, n, scratch);
        } else {
            ck_pack_generic(source->x, source->inFeatures, source->ldx, t0, n, scratch);
        }
        ck_tile_generic(scratch, n, groups, levels, outFeatures, bias, scale, y + t0, ldy);
    }
}

void CKernels_levelProduct(const float *x, int64_t inFeatures, int64_t ldx, int64_t begin, int64_t end, const int8_t *levels,
                           int64_t outFeatures, const float *bias, float scale, float *y, int64_t ldy, uint8_t *scratch) {
    const ck_source rows = {x, inFeatures, ldx, NULL, 0, 0};
    ck_product(&rows, begin, end, levels, outFeatures, bias, scale, y, ldy, scratch);
}

void CKernels_patchLevelProduct(const float *x, int64_t inChannels, int64_t total, int64_t height, int64_t width,
                                int64_t begin, int64_t end, const int8_t *levels, int64_t outFeatures, float scale, float *y,
                                uint8_t *scratch) {
    uint16_t *inside = ck_inside_taps(height, width);
    const ck_source patches = {x, inChannels * 9, total, inside, height * width, width};
    ck_product(&patches, begin, end, levels, outFeatures, NULL, scale, y, total, scratch);
    free(inside);
}
