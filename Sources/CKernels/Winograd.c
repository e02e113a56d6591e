// 3×3 convolutions (stride 1, padding 1) by Winograd's minimal filtering F(2×2, 3×3): each 2×2
// block of outputs comes from a 4×4 block of inputs with 16 multiplications per input channel
// instead of 36, so the products, which dominate, shrink 2.25×. Per tile of 4×4 inputs:
//
//   V = Bᵀ d B  (inputs),  U = G g Gᵀ  (weights),  M = Σ_c U ⊙ V  (16 products over channels),
//   Y = Aᵀ M A  (the 2×2 outputs)
//
// The 16 channel sums are 16 dense products (outChannels × inChannels) · (inChannels × tiles),
// computed by `CKernels_wideProduct`. Transforms take 16 tiles at a time in AVX-512 registers
// (16 of a tile row, or on planes 15–16 or 7–8 wide the tiles of 2 or 4 tile rows), from a
// zero-bordered copy of the frame's planes: a tile row's even and odd columns are picked out of
// contiguous loads, and the outputs interleaved back before contiguous stores. Groups of tiles
// follow one another across frames, so that narrow planes still fill the products' columns.
//
// AVX-512 only, like the wide product it calls. The sums are regrouped by the transforms, so
// results differ from the direct kernel's within float rounding (the transforms' constants are
// 0, ±½ and ±1).
#include "CKernels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma"))), apply_to = function)

/// Tiles transformed and multiplied together (6 groups of 16 along a row of tiles; two 48-column
/// strips of the wide product), so that V and M (16 rows each per channel) stay in L2.
enum { ckWinogradChunk = 96 };

/// This thread's scratch of at least `floats` floats, kept for the next call: fresh pages cost a
/// fault each, more than the transforms they hold.
static float *ck_winograd_scratch(size_t floats) {
    static _Thread_local float *buffer = NULL;
    static _Thread_local size_t capacity = 0;
    if (floats > capacity) {
        free(buffer);
        capacity = floats + floats / 2;
        buffer = aligned_alloc(64, (capacity * sizeof(float) + 63) & ~(size_t)63);
    }
    return buffer;
}

/// U[ξ][c][o] for ξ = 4·i + j: G g Gᵀ of channel c's kernel for output o (`wt`: row c·9 + tap),
/// 16 outputs at a time.
static void ck_winograd_weights(const float *wt, int64_t cin, int64_t cout, float *u) {
    const __m512 half = _mm512_set1_ps(0.5f);
    for (int64_t c = 0; c < cin; c++) {
        for (int64_t o = 0; o < cout; o += 16) {
            const __mmask16 lanes = cout - o >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (cout - o)) - 1);
            __m512 g[3][3], t[4][3];
            for (int tap = 0; tap < 9; tap++) g[tap / 3][tap % 3] = _mm512_maskz_loadu_ps(lanes, wt + (c * 9 + tap) * cout + o);
            for (int k = 0; k < 3; k++) {
                t[0][k] = g[0][k];
                t[1][k] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(g[0][k], g[1][k]), g[2][k]));
                t[2][k] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(g[0][k], g[1][k]), g[2][k]));
                t[3][k] = g[2][k];
            }
            for (int i = 0; i < 4; i++) {
                const __m512 r[4] = {t[i][0], _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(t[i][0], t[i][1]), t[i][2])),
                                     _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(t[i][0], t[i][1]), t[i][2])), t[i][2]};
                for (int j = 0; j < 4; j++) _mm512_mask_storeu_ps(u + ((int64_t)(4 * i + j) * cin + c) * cout + o, lanes, r[j]);
            }
        }
    }
}

/// The Bᵀ d B transform of 16 tiles (d[i][j] in registers), written to v[ξ·stride].
static inline __attribute__((always_inline)) void ck_winograd_input(__m512 d[4][4], float *v, int64_t stride) {
    __m512 t[4][4];
    for (int j = 0; j < 4; j++) {
        t[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
        t[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
        t[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
        t[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
    }
    for (int i = 0; i < 4; i++) {
        _mm512_storeu_ps(v + (4 * i + 0) * stride, _mm512_sub_ps(t[i][0], t[i][2]));
        _mm512_storeu_ps(v + (4 * i + 1) * stride, _mm512_add_ps(t[i][1], t[i][2]));
        _mm512_storeu_ps(v + (4 * i + 2) * stride, _mm512_sub_ps(t[i][2], t[i][1]));
        _mm512_storeu_ps(v + (4 * i + 3) * stride, _mm512_sub_ps(t[i][1], t[i][3]));
    }
}

/// The even (`odd` = 0) or odd elements of the 32 floats at `p`: lane l holds p[2l + odd].
static inline __attribute__((always_inline)) __m512 ck_winograd_pick(const float *p, __m512i index) {
    return _mm512_permutex2var_ps(_mm512_loadu_ps(p), index, _mm512_loadu_ps(p + 16));
}

/// Where a group of 16 tiles lies: its frame and its first tile row and column.
typedef struct {
    int64_t frame, tileRow, tileColumn;
} ck_winograd_group;

void CKernels_winogradConv3x3(const float *x, int64_t cin, int64_t frames, int64_t height, int64_t width, int64_t frameBegin,
                              int64_t frameEnd, const float *wt, int64_t cout, float scale, float *y) {
    const int64_t area = height * width, total = frames * area;
    const int64_t tilesDown = (height + 1) / 2, tilesAcross = (width + 1) / 2;
    // A group is 16 tiles along a row of tiles, or on narrow planes (4 or 8 tiles across) the
    // tiles of 4 or 2 consecutive tile rows, so that no lane idles.
    const int64_t rowsPerGroup = tilesAcross == 8 ? 2 : tilesAcross == 4 ? 4 : 1;
    const int64_t groupRows = (tilesDown + rowsPerGroup - 1) / rowsPerGroup;
    const int64_t groupsAcross = (tilesAcross + 15) / 16, groupsPerFrame = groupRows * groupsAcross;
    // A frame's zero-bordered planes: one zero row and column before, enough after for whole
    // groups, and slack for the last group of a row, which reads 34 columns from its first.
    const int64_t paddedWidth = 2 * tilesAcross + 2, paddedPlane = (2 * groupRows * rowsPerGroup + 2) * paddedWidth;
    const int64_t stride = ckWinogradChunk;  // one row of V or M: up to 6 groups of 16 tiles
    const int64_t padFloats = cin * paddedPlane + 64;
    float *u = ck_winograd_scratch((size_t)(16 * cin * cout + padFloats + 16 * (cin + cout) * stride));
    float *pad = u + 16 * cin * cout;
    float *v = pad + padFloats;
    float *m = v + 16 * cin * stride;
    memset(pad, 0, (size_t)padFloats * sizeof(float));
    ck_winograd_weights(wt, cin, cout, u);

    __m512i even, odd, low, high, quarter;
    {
        int32_t e[16], o[16], l[16], h[16], q[16];
        for (int k = 0; k < 16; k++) {
            e[k] = 2 * k;
            o[k] = 2 * k + 1;
            l[k] = k % 2 ? 16 + k / 2 : k / 2;            // interleave lanes 0–7 of two vectors
            h[k] = k % 2 ? 24 + k / 2 : 8 + k / 2;        // … and lanes 8–15
            q[k] = k < 4 ? 2 * k : 16 + 2 * (k % 4);      // 4 even lanes of each (lanes 8–15 unused)
        }
        even = _mm512_loadu_si512(e), odd = _mm512_loadu_si512(o), low = _mm512_loadu_si512(l), high = _mm512_loadu_si512(h);
        quarter = _mm512_loadu_si512(q);
    }
    const __m512 s = _mm512_set1_ps(scale);

    int64_t padFrame = -1;  // the frame whose planes `pad` holds
    const int64_t lastGroup = frameEnd * groupsPerFrame;
    for (int64_t g0 = frameBegin * groupsPerFrame; g0 < lastGroup; g0 += stride / 16) {
        const int64_t count = lastGroup - g0 < stride / 16 ? lastGroup - g0 : stride / 16;
        ck_winograd_group groups[ckWinogradChunk / 16];
        for (int64_t g = 0; g < count; g++) {
            const int64_t local = (g0 + g) % groupsPerFrame;
            groups[g] = (ck_winograd_group){(g0 + g) / groupsPerFrame, local / groupsAcross * rowsPerGroup, local % groupsAcross * 16};
        }
        // V[ξ][c][16·group + lane]
        for (int64_t g = 0; g < count; g++) {
            const ck_winograd_group group = groups[g];
            if (group.frame != padFrame) {
                for (int64_t c = 0; c < cin; c++) {
                    const float *source = x + c * total + group.frame * area;
                    float *plane = pad + c * paddedPlane + paddedWidth + 1;
                    for (int64_t row = 0; row < height; row++) {
                        memcpy(plane + row * paddedWidth, source + row * width, (size_t)width * sizeof(float));
                    }
                }
                padFrame = group.frame;
            }
            for (int64_t c = 0; c < cin; c++) {
                const float *block = pad + c * paddedPlane + 2 * group.tileRow * paddedWidth + 2 * group.tileColumn;
                __m512 d[4][4];
                for (int i = 0; i < 4; i++) {
                    const float *row = block + i * paddedWidth;
                    const int64_t next = 2 * paddedWidth;  // the same row of the next tile row
                    for (int j = 0; j < 4; j++) {
                        if (rowsPerGroup == 2) {
                            d[i][j] = _mm512_permutex2var_ps(_mm512_loadu_ps(row + j), even, _mm512_loadu_ps(row + next + j));
                        } else if (rowsPerGroup == 4) {
                            const __m512 first = _mm512_permutex2var_ps(_mm512_loadu_ps(row + j), quarter, _mm512_loadu_ps(row + next + j));
                            const __m512 second = _mm512_permutex2var_ps(_mm512_loadu_ps(row + 2 * next + j), quarter,
                                                                         _mm512_loadu_ps(row + 3 * next + j));
                            d[i][j] = _mm512_insertf32x8(first, _mm512_castps512_ps256(second), 1);
                        } else {
                            d[i][j] = ck_winograd_pick(row + 2 * (j / 2), j % 2 ? odd : even);
                        }
                    }
                }
                ck_winograd_input(d, v + c * stride + 16 * g, cin * stride);
            }
        }
        // M[ξ] = U[ξ]ᵀ · V[ξ]: (cout × cin) · (cin × 16·count), stored M[o][ξ][tile] so that the
        // output transform reads each output channel's 16 rows from one stretch of memory.
        for (int xi = 0; xi < 16; xi++) {
            CKernels_wideProduct(1, u + (int64_t)xi * cin * cout, cout, cout, cin, v + (int64_t)xi * cin * stride, stride,
                                 m + (int64_t)xi * stride, 16 * stride, 0, 16 * count, 0);
        }
        // Y = Aᵀ M A: each group's outputs, two columns per tile interleaved back into rows.
        for (int64_t o = 0; o < cout; o++) {
            for (int64_t g = 0; g < count; g++) {
                const ck_winograd_group group = groups[g];
                float *out = y + o * total + group.frame * area;
                __m512 q[4][4];
                for (int xi = 0; xi < 16; xi++) q[xi / 4][xi % 4] = _mm512_loadu_ps(m + (o * 16 + xi) * stride + 16 * g);
                for (int i = 0; i < 2; i++) {
                    __m512 r[4];
                    for (int j = 0; j < 4; j++) {
                        r[j] = i == 0 ? _mm512_add_ps(_mm512_add_ps(q[0][j], q[1][j]), q[2][j])
                                      : _mm512_sub_ps(_mm512_sub_ps(q[1][j], q[2][j]), q[3][j]);
                    }
                    const __m512 left = _mm512_mul_ps(_mm512_add_ps(_mm512_add_ps(r[0], r[1]), r[2]), s);
                    const __m512 right = _mm512_mul_ps(_mm512_sub_ps(_mm512_sub_ps(r[1], r[2]), r[3]), s);
                    const __m512 lanes[2] = {_mm512_permutex2var_ps(left, low, right), _mm512_permutex2var_ps(left, high, right)};
                    if (rowsPerGroup == 1) {
                        const int64_t outputRow = 2 * group.tileRow + i, from = 2 * group.tileColumn;
                        if (outputRow >= height) continue;
                        const int64_t span = width - from < 32 ? width - from : 32;
                        const __mmask16 first = span >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << span) - 1);
                        const __mmask16 second = span >= 32 ? (__mmask16)0xFFFF : span <= 16 ? 0 : (__mmask16)((1u << (span - 16)) - 1);
                        _mm512_mask_storeu_ps(out + outputRow * width + from, first, lanes[0]);
                        _mm512_mask_storeu_ps(out + outputRow * width + from + 16, second, lanes[1]);
                        continue;
                    }
                    // Tile row k of the group: a whole row of outputs (16 or 8 at most).
                    const __mmask16 mask = (__mmask16)((1u << width) - 1);
                    for (int64_t k = 0; k < rowsPerGroup; k++) {
                        const int64_t outputRow = 2 * (group.tileRow + k) + i;
                        if (outputRow >= height) break;
                        float *to = out + outputRow * width;
                        if (rowsPerGroup == 2) {
                            _mm512_mask_storeu_ps(to, mask, lanes[k]);
                        } else {
                            const __m512 half = k % 2 ? _mm512_shuffle_f32x4(lanes[k / 2], lanes[k / 2], 0xEE) : lanes[k / 2];
                            _mm512_mask_storeu_ps(to, mask, half);
                        }
                    }
                }
            }
        }
    }
}

#pragma clang attribute pop
#else
void CKernels_winogradConv3x3(const float *x, int64_t cin, int64_t frames, int64_t height, int64_t width, int64_t frameBegin,
                              int64_t frameEnd, const float *wt, int64_t cout, float scale, float *y) {
    (void)x, (void)cin, (void)frames, (void)height, (void)width, (void)frameBegin, (void)frameEnd, (void)wt, (void)cout,
        (void)scale, (void)y;
}
#endif
