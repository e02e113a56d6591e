// The kernel bodies, included once per instruction-set variant by Variant*.c, which define
//   CK_NAME(base)   the exported name of this variant's function (base ## _avx512, …)
//   ck_mask16(p)    a bit per non-zero float of p[0..<16] (NaN counts as non-zero)
// and compile these functions for their instruction set. The code uses 16-lane vectors of the
// GNU vector extension: one AVX-512 register, two AVX2 registers, four SSE registers.
//
// Floating-point contraction is off, so every variant performs the same roundings in the same
// order and produces bit-identical results.

#pragma clang fp contract(off)
#pragma clang diagnostic ignored "-Wpsabi"

#include <stdint.h>
#include <string.h>

typedef float ck_v16 __attribute__((vector_size(64)));
typedef int32_t ck_i16 __attribute__((vector_size(64)));

static inline __attribute__((always_inline)) ck_v16 ck_load(const float *p) {
    ck_v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) void ck_store(float *p, ck_v16 v) { memcpy(p, &v, sizeof v); }

/// Bits of the non-zero elements among the first `n < 16`.
static inline __attribute__((always_inline)) uint32_t ck_mask_partial(const float *p, int64_t n) {
    uint32_t m = 0;
    for (int64_t i = 0; i < n; i++) m |= (uint32_t)(p[i] != 0) << i;
    return m;
}

/// dst[0..<n] += v·src[0..<n].
static inline __attribute__((always_inline)) void ck_axpy(float *dst, float v, const float *src, int64_t n) {
    int64_t o = 0;
    for (; o + 16 <= n; o += 16) ck_store(dst + o, ck_load(dst + o) + v * ck_load(src + o));
    for (; o < n; o++) dst[o] += v * src[o];
}

/// out[o] = Σ_k val[k]·rows[index[k]·ld + o] for o < n, terms in k order; with `add`, the sum is
/// added to out[o] instead (one rounding more, the same in every variant).
static inline __attribute__((always_inline)) void ck_gather_sum(float *out, const int32_t *index, const float *val, int64_t count,
                                 const float *rows, int64_t ld, int64_t n, int add) {
    int64_t o = 0;
    for (; o + 64 <= n; o += 64) {
        ck_v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        for (int64_t k = 0; k < count; k++) {
            const float *r = rows + (int64_t)index[k] * ld + o;
            const float v = val[k];
            a0 += v * ck_load(r);
            a1 += v * ck_load(r + 16);
            a2 += v * ck_load(r + 32);
            a3 += v * ck_load(r + 48);
        }
        if (add) {
            a0 = ck_load(out + o) + a0;
            a1 = ck_load(out + o + 16) + a1;
            a2 = ck_load(out + o + 32) + a2;
            a3 = ck_load(out + o + 48) + a3;
        }
        ck_store(out + o, a0);
        ck_store(out + o + 16, a1);
        ck_store(out + o + 32, a2);
        ck_store(out + o + 48, a3);
    }
    for (; o + 16 <= n; o += 16) {
        ck_v16 a0 = {0};
        for (int64_t k = 0; k < count; k++) a0 += val[k] * ck_load(rows + (int64_t)index[k] * ld + o);
        ck_store(out + o, add ? ck_load(out + o) + a0 : a0);
    }
    for (; o < n; o++) {
        float a = 0;
        for (int64_t k = 0; k < count; k++) a += val[k] * rows[(int64_t)index[k] * ld + o];
        out[o] = add ? out[o] + a : a;
    }
}

/// Tokens per tile of the linear weight gradient: 64 Ki floats of dY (256 KiB), a multiple of 16.
static inline __attribute__((always_inline)) int64_t ck_linear_gradient_tile(int64_t cout) {
    const int64_t tile = (65536 / (cout > 0 ? cout : 1)) & ~(int64_t)15;
    return tile > 16 ? tile : 16;
}

/// A 16×16 transpose in four stages; stage b swaps the off-diagonal b×b blocks of every 2b×2b block.
static inline __attribute__((always_inline)) void ck_transpose16(ck_v16 *m) {
    _Pragma("clang loop unroll(full)") for (int r = 0; r < 16; r++) {
        if (r & 8) continue;
        ck_v16 x0 = m[r], x1 = m[r + 8];
        m[r] = __builtin_shufflevector(x0, x1, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
        m[r + 8] = __builtin_shufflevector(x0, x1, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    }
    _Pragma("clang loop unroll(full)") for (int r = 0; r < 16; r++) {
        if (r & 4) continue;
        ck_v16 x0 = m[r], x1 = m[r + 4];
        m[r] = __builtin_shufflevector(x0, x1, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
        m[r + 4] = __builtin_shufflevector(x0, x1, 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
    }
    _Pragma("clang loop unroll(full)") for (int r = 0; r < 16; r++) {
        if (r & 2) continue;
        ck_v16 x0 = m[r], x1 = m[r + 2];
        m[r] = __builtin_shufflevector(x0, x1, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);
        m[r + 2] = __builtin_shufflevector(x0, x1, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
    }
    _Pragma("clang loop unroll(full)") for (int r = 0; r < 16; r++) {
        if (r & 1) continue;
        ck_v16 x0 = m[r], x1 = m[r + 1];
        m[r] = __builtin_shufflevector(x0, x1, 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
        m[r + 1] = __builtin_shufflevector(x0, x1, 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
    }
}

void CK_NAME(transpose)(const float *in, int64_t rows, int64_t columns, int64_t ldi, float *out, int64_t ldo) {
    int64_t r0 = 0;
    for (; r0 + 16 <= rows; r0 += 16) {
        int64_t c0 = 0;
        for (; c0 + 16 <= columns; c0 += 16) {
            ck_v16 m[16];
            _Pragma("clang loop unroll(full)") for (int r = 0; r < 16; r++) m[r] = ck_load(in + (r0 + r) * ldi + c0);
            ck_transpose16(m);
            _Pragma("clang loop unroll(full)") for (int c = 0; c < 16; c++) ck_store(out + (c0 + c) * ldo + r0, m[c]);
        }
        for (int64_t c = c0; c < columns; c++) {
            for (int64_t r = r0; r < r0 + 16; r++) out[c * ldo + r] = in[r * ldi + c];
        }
    }
    for (int64_t c = 0; c < columns; c++) {
        for (int64_t r = r0; r < rows; r++) out[c * ldo + r] = in[r * ldi + c];
    }
}

/// `y[o·ldy + t] = tile[t·cout + o]·scale (+ bias[o])` for t < n, o < cout: a token-major tile
/// back to channel-major rows, 16×16 blocks at a time.
static inline __attribute__((always_inline)) void ck_store_transposed(const float *tile, int64_t n, int64_t cout,
                                                                      const float *bias, float scale, float *y, int64_t ldy) {
    int64_t o0 = 0;
    for (; o0 + 16 <= cout; o0 += 16) {
        int64_t t0 = 0;
        for (; t0 + 16 <= n; t0 += 16) {
            ck_v16 m[16];
            _Pragma("clang loop unroll(full)") for (int r = 0; r < 16; r++) m[r] = ck_load(tile + (t0 + r) * cout + o0);
            ck_transpose16(m);
            _Pragma("clang loop unroll(full)") for (int r = 0; r < 16; r++) {
                ck_v16 v = m[r] * scale;
                if (bias) v = v + bias[o0 + r];
                ck_store(y + (o0 + r) * ldy + t0, v);
            }
        }
        for (int64_t o = o0; o < o0 + 16; o++) {
            for (int64_t t = t0; t < n; t++) y[o * ldy + t] = bias ? tile[t * cout + o] * scale + bias[o] : tile[t * cout + o] * scale;
        }
    }
    for (int64_t o = o0; o < cout; o++) {
        for (int64_t t = 0; t < n; t++) y[o * ldy + t] = bias ? tile[t * cout + o] * scale + bias[o] : tile[t * cout + o] * scale;
    }
}

CKernels_Inspection CK_NAME(inspect)(const float *x, int64_t count) {
    ck_i16 nonZero = {0};
    ck_v16 maxAbs = {0};
    ck_i16 integral = ~(ck_i16){0};
    ck_i16 nonNegative = ~(ck_i16){0};
    double sum = 0;
    int64_t i = 0;
    // Blocks of 64 vectors: lane sums stay short in float (exact for spike counts), the block
    // totals are added in double.
    while (i + 16 <= count) {
        ck_v16 partial = {0};
        const int64_t end = i + 1024 <= count ? i + 1024 : count;
        for (; i + 16 <= end; i += 16) {
            ck_v16 v = ck_load(x + i);
            nonZero -= (ck_i16)(v != 0);
            maxAbs = __builtin_elementwise_max(maxAbs, __builtin_elementwise_abs(v));
            integral &= (ck_i16)(v == __builtin_elementwise_roundeven(v));
            nonNegative &= (ck_i16)(v >= 0);
            partial += v;
        }
        for (int lane = 0; lane < 16; lane++) sum += partial[lane];
    }
    CKernels_Inspection result;
    result.nonZero = __builtin_reduce_add(nonZero);
    float m = __builtin_reduce_max(maxAbs);
    int32_t whole = __builtin_reduce_and(integral) != 0;
    int32_t positive = __builtin_reduce_and(nonNegative) != 0;
    for (; i < count; i++) {
        float v = x[i];
        result.nonZero += v != 0;
        if (!(v >= 0)) positive = 0;
        float a = v < 0 ? -v : v;
        if (a > m) m = a;
        if (v != __builtin_roundevenf(v)) whole = 0;
        sum += v;
    }
    result.maxAbs = m;
    result.integral = whole;
    result.nonNegative = positive;
    result.sum = sum;
    return result;
}

void CK_NAME(sparseLinearForward)(const float *x, int64_t cin, int64_t ldx, int64_t begin, int64_t end,
                                  const float *wt, int64_t cout, const float *bias, float scale,
                                  float *y, int64_t ldy, float *scratch) {
    enum { tileTokens = 64 };
    int32_t *counts = (int32_t *)scratch;
    int32_t *index = counts + tileTokens;
    float *value = (float *)(index + tileTokens * cin);
    float *tile = value + tileTokens * cin;
    for (int64_t p0 = begin; p0 < end; p0 += tileTokens) {
        const int64_t n = end - p0 < tileTokens ? end - p0 : tileTokens;
        for (int64_t t = 0; t < n; t++) counts[t] = 0;
        // Per token, its non-zero inputs in increasing feature order.
        for (int64_t i = 0; i < cin; i++) {
            const float *row = x + i * ldx + p0;
            // The next tile's part of this row: rows are far apart, too many streams for the
            // hardware prefetcher.
            if (p0 + 2 * tileTokens <= end) {
                for (int64_t q = 0; q < tileTokens; q += 16) __builtin_prefetch(row + tileTokens + q, 0, 3);
            }
            for (int64_t b = 0; b < n; b += 16) {
                uint32_t m = b + 16 <= n ? ck_mask16(row + b) : ck_mask_partial(row + b, n - b);
                while (m) {
                    const int64_t t = b + __builtin_ctz(m);
                    m &= m - 1;
                    const int64_t k = counts[t]++;
                    index[t * cin + k] = (int32_t)i;
                    value[t * cin + k] = row[t];
                }
            }
        }
        for (int64_t t = 0; t < n; t++) {
            ck_gather_sum(tile + t * cout, index + t * cin, value + t * cin, counts[t], wt, cout, cout, 0);
        }
        ck_store_transposed(tile, n, cout, bias, scale, y + p0, ldy);
    }
}

/// The non-zero entries of `row[0..<length]` into `pos`/`val`; returns their number. With lane
/// compression (`CK_COMPRESS16`) each block of 16 is stored whole, so both need 16 entries of slack.
static inline __attribute__((always_inline)) int64_t ck_collect(const float *row, int64_t length, int32_t *pos, float *val) {
    int64_t count = 0;
    for (int64_t b = 0; b < length; b += 16) {
        uint32_t m = b + 16 <= length ? ck_mask16(row + b) : ck_mask_partial(row + b, length - b);
#ifdef CK_COMPRESS16
        ck_compress16_values(m, row + b, val + count);
        count += ck_compress16(m, (int32_t)b, pos + count);
        continue;
#endif
        while (m) {
            const int64_t t = b + __builtin_ctz(m);
            m &= m - 1;
            pos[count] = (int32_t)t;
            val[count] = row[t];
            count++;
        }
    }
    return count;
}

void CK_NAME(sparseLinearWeightGradient)(const float *x, int64_t length, int64_t tokenBegin, int64_t tokenEnd, int64_t cin,
                                         const float *dy, int64_t cout, float *dwt, float *scratch) {
    // Tokens in tiles whose token-major copy of dY (tile × cout) stays in L2; each feature's
    // events of the tile gather that copy's rows into register sums.
    const int64_t tile = ck_linear_gradient_tile(cout);
    float *dyt = scratch;
    int32_t *pos = (int32_t *)(dyt + tile * cout);
    float *val = (float *)(pos + tile + 16);  // ck_collect's slack after each
    if (tokenEnd <= tokenBegin) memset(dwt, 0, sizeof(float) * cin * cout);
    for (int64_t t0 = tokenBegin; t0 < tokenEnd; t0 += tile) {
        const int64_t n = t0 + tile <= tokenEnd ? tile : tokenEnd - t0;
        CK_NAME(transpose)(dy + t0, cout, n, length, dyt, cout);
        for (int64_t i = 0; i < cin; i++) {
            const int64_t count = ck_collect(x + i * length + t0, n, pos, val);
            ck_gather_sum(dwt + i * cout, pos, val, count, dyt, cout, cout, t0 > tokenBegin);
        }
    }
}

/// Output channels a direct-convolution block keeps in registers: 16 vectors fill half of
/// AVX-512's 32 registers; the narrower variants set fewer (`CK_CONV_BLOCK`) to avoid spills.
#ifndef CK_CONV_BLOCK
#define CK_CONV_BLOCK 2
#endif

/// Sixteen consecutive output positions of a frame (`pad`: the block's first position in `cin`
/// planes copied between zero rows, `plane` floats apart, rows `width` apart) for `block` output
/// channels.
/// Taps left and right read the neighbouring row at the image's edges; `keepLeft` and `keepRight`
/// clear those lanes. Each sum runs over channels, then taps in row-major order, one rounding per
/// term, so every variant and every block width gives the same bits.
static inline __attribute__((always_inline)) void ck_direct_block(const float *pad, int64_t cin, int64_t plane, int64_t width,
                                                                  ck_i16 keepLeft, ck_i16 keepRight, const float *wt, int64_t cout,
                                                                  int block, float scale, float *y, int64_t ystride, int64_t n) {
    ck_v16 acc[16];
    _Pragma("clang loop unroll(full)") for (int j = 0; j < block; j++) acc[j] = (ck_v16){0};
    for (int64_t c = 0; c < cin; c++) {
        const float *in = pad + c * plane;
        const float *w = wt + c * 9 * cout;
        _Pragma("clang loop unroll(full)") for (int tap = 0; tap < 9; tap++) {
            ck_v16 v = ck_load(in + (tap / 3 - 1) * width + tap % 3 - 1);
            if (tap % 3 == 0) v = (ck_v16)((ck_i16)v & keepLeft);
            if (tap % 3 == 2) v = (ck_v16)((ck_i16)v & keepRight);
            const float *wtap = w + tap * cout;
            _Pragma("clang loop unroll(full)") for (int j = 0; j < block; j++) acc[j] += wtap[j] * v;
        }
    }
    _Pragma("clang loop unroll(full)") for (int j = 0; j < block; j++) {
        const ck_v16 r = acc[j] * scale;
        if (n == 16) ck_store(y + j * ystride, r);
        else memcpy(y + j * ystride, &r, (size_t)n * sizeof(float));
    }
}

void CK_NAME(directConv3x3)(const float *x, int64_t cin, int64_t frames, int64_t height, int64_t width,
                            int64_t frameBegin, int64_t frameEnd, const float *wt, int64_t cout, float scale,
                            float *y, float *scratch) {
    const int64_t area = height * width;
    // Per channel: 16 floats of slack, a zero row, the frame's plane, a zero row, 16 of slack.
    const int64_t plane = area + 2 * width + 32;
    const int64_t total = frames * area;
    memset(scratch, 0, (size_t)(cin * plane) * sizeof(float));
    // The lanes to keep for left and right taps, per block of 16 positions (the same in every frame).
    int32_t *keep = (int32_t *)(scratch + cin * plane);
    for (int64_t p = 0, column = 0; p < ((area + 15) & ~(int64_t)15); p++, column = column + 1 == width ? 0 : column + 1) {
        keep[(p / 16) * 32 + p % 16] = column == 0 ? 0 : -1;
        keep[(p / 16) * 32 + 16 + p % 16] = column == width - 1 ? 0 : -1;
    }
    for (int64_t f = frameBegin; f < frameEnd; f++) {
        for (int64_t c = 0; c < cin; c++) {
            memcpy(scratch + c * plane + 16 + width, x + c * total + f * area, (size_t)area * sizeof(float));
        }
        for (int64_t p0 = 0; p0 < area; p0 += 16) {
            const int64_t n = area - p0 < 16 ? area - p0 : 16;
            ck_i16 keepLeft, keepRight;
            memcpy(&keepLeft, keep + (p0 / 16) * 32, sizeof keepLeft);
            memcpy(&keepRight, keep + (p0 / 16) * 32 + 16, sizeof keepRight);
            const float *pad = scratch + 16 + width + p0;
            float *out = y + f * area + p0;
            int64_t o = 0;
#if CK_CONV_BLOCK >= 16
            for (; o + 16 <= cout; o += 16)
                ck_direct_block(pad, cin, plane, width, keepLeft, keepRight, wt + o, cout, 16, scale, out + o * total, total, n);
#endif
#if CK_CONV_BLOCK >= 8
            for (; o + 8 <= cout; o += 8)
                ck_direct_block(pad, cin, plane, width, keepLeft, keepRight, wt + o, cout, 8, scale, out + o * total, total, n);
#endif
#if CK_CONV_BLOCK >= 4
            for (; o + 4 <= cout; o += 4)
                ck_direct_block(pad, cin, plane, width, keepLeft, keepRight, wt + o, cout, 4, scale, out + o * total, total, n);
#endif
            for (; o + 2 <= cout; o += 2)
                ck_direct_block(pad, cin, plane, width, keepLeft, keepRight, wt + o, cout, 2, scale, out + o * total, total, n);
            for (; o < cout; o++)
                ck_direct_block(pad, cin, plane, width, keepLeft, keepRight, wt + o, cout, 1, scale, out + o * total, total, n);
        }
    }
}

/// Sums, for 16·`lanes` output channels from `o`, the weight rows at `offsets[0..<count]` (times
/// `values` unless `binary`, where every value is 1 and 1·w = w exactly): the even and the odd
/// entries in list order in two sums, which are added at the end.
static inline __attribute__((always_inline)) void ck_conv_gather(const int32_t *offsets, const float *values, int64_t count,
                                                                 const float *wt, int64_t o, int lanes, int binary, float *out) {
    // Two sums, so that twice as many additions are in flight.
    ck_v16 a[4] = {{0}, {0}, {0}, {0}}, b[4] = {{0}, {0}, {0}, {0}};
    int64_t k = 0;
    for (; k + 2 <= count; k += 2) {
        const float *r = wt + offsets[k] + o;
        const float *s = wt + offsets[k + 1] + o;
        const float v = values[k], w = values[k + 1];
        _Pragma("clang loop unroll(full)") for (int l = 0; l < lanes; l++) {
            a[l] += binary ? ck_load(r + 16 * l) : v * ck_load(r + 16 * l);
            b[l] += binary ? ck_load(s + 16 * l) : w * ck_load(s + 16 * l);
        }
    }
    if (k < count) {
        const float *r = wt + offsets[k] + o;
        const float v = values[k];
        _Pragma("clang loop unroll(full)") for (int l = 0; l < lanes; l++) a[l] += binary ? ck_load(r + 16 * l) : v * ck_load(r + 16 * l);
    }
    _Pragma("clang loop unroll(full)") for (int l = 0; l < lanes; l++) ck_store(out + o + 16 * l, a[l] + b[l]);
}

void CK_NAME(sparseConv3x3Forward)(const float *x, int64_t cin, int64_t frames, int64_t height, int64_t width,
                                   int64_t frameBegin, int64_t frameEnd, const float *wt, int64_t cout, float scale,
                                   float *y, float *scratch) {
    enum { tilePixels = 64 };
    const int64_t plane = height * width;
    const int64_t total = frames * plane;
    int32_t *counts = (int32_t *)scratch;
    int32_t *index = counts + plane;
    float *value = (float *)(index + plane * cin + 16);  // 16 of slack after each list: copied 16 at a time
    float *tile = value + plane * cin + 16;
    int32_t *offsets = (int32_t *)(tile + tilePixels * cout);  // the tile's lists, one after another
    float *values = (float *)(offsets + tilePixels * 9 * cin + 16);
    int32_t *starts = (int32_t *)(values + tilePixels * 9 * cin + 16);  // where each pixel's list begins
    for (int64_t f = frameBegin; f < frameEnd; f++) {
        // Per input pixel of this frame, its non-zero channels in increasing order.
        for (int64_t p = 0; p < plane; p++) counts[p] = 0;
        int binary = 1;
        for (int64_t c = 0; c < cin; c++) {
            const float *row = x + c * total + f * plane;
            for (int64_t b = 0; b < plane; b += 16) {
                uint32_t m = b + 16 <= plane ? ck_mask16(row + b) : ck_mask_partial(row + b, plane - b);
                while (m) {
                    const int64_t p = b + __builtin_ctz(m);
                    m &= m - 1;
                    const int64_t k = counts[p]++;
                    index[p * cin + k] = (int32_t)(c * 9 * cout);
                    value[p * cin + k] = row[p];
                    binary &= row[p] == 1;
                }
            }
        }
        // Each output pixel gathers the weight rows of its 9 neighbours' events, taps in order,
        // from one list: the neighbours' lists are copied 16 entries at a time (no branch on how
        // many events a neighbour has, which is unpredictable at these densities). The tile's
        // lists are made first, then summed 64 outputs at a time over all its pixels, so that the
        // weight columns in use stay in L2 (a wide layer's whole table does not fit).
        for (int64_t p0 = 0; p0 < plane; p0 += tilePixels) {
            const int64_t n = plane - p0 < tilePixels ? plane - p0 : tilePixels;
            int64_t count = 0;
            for (int64_t q = 0; q < n; q++) {
                starts[q] = (int32_t)count;
                const int64_t oy = (p0 + q) / width, ox = (p0 + q) % width;
                for (int64_t ky = 0; ky < 3; ky++) {
                    const int64_t iy = oy + ky - 1;
                    if (iy < 0 || iy >= height) continue;
                    for (int64_t kx = 0; kx < 3; kx++) {
                        const int64_t ix = ox + kx - 1;
                        if (ix < 0 || ix >= width) continue;
                        const int64_t source = iy * width + ix;
                        const int32_t *idx = index + source * cin;
                        const float *val = value + source * cin;
                        const ck_i16 tap = (ck_i16){0} + (int32_t)((ky * 3 + kx) * cout);
                        const int64_t events = counts[source];
                        int64_t k = 0;
                        do {
                            ck_i16 shifted;
                            memcpy(&shifted, idx + k, sizeof shifted);
                            shifted += tap;
                            memcpy(offsets + count + k, &shifted, sizeof shifted);
                            ck_store(values + count + k, ck_load(val + k));
                            k += 16;
                        } while (k < events);
                        count += events;
                    }
                }
            }
            starts[n] = (int32_t)count;
            int64_t o = 0;
            for (; o + 64 <= cout; o += 64) {
                for (int64_t q = 0; q < n; q++) {
                    const int64_t b = starts[q], e = starts[q + 1] - b;
                    if (binary) ck_conv_gather(offsets + b, values + b, e, wt, o, 4, 1, tile + q * cout);
                    else ck_conv_gather(offsets + b, values + b, e, wt, o, 4, 0, tile + q * cout);
                }
            }
            for (; o + 16 <= cout; o += 16) {
                for (int64_t q = 0; q < n; q++) {
                    const int64_t b = starts[q], e = starts[q + 1] - b;
                    if (binary) ck_conv_gather(offsets + b, values + b, e, wt, o, 1, 1, tile + q * cout);
                    else ck_conv_gather(offsets + b, values + b, e, wt, o, 1, 0, tile + q * cout);
                }
            }
            for (; o < cout; o++) {
                for (int64_t q = 0; q < n; q++) {
                    float a = 0;
                    for (int64_t k = starts[q]; k < starts[q + 1]; k++) a += values[k] * wt[offsets[k] + o];
                    tile[q * cout + o] = a;
                }
            }
            ck_store_transposed(tile, n, cout, 0, scale, y + f * plane + p0, total);
        }
    }
}

/// Adds one channel's events (padded-plane offsets `pos`, values `val`) to its nine rows of dWᵀ for
/// output channels `o..<o + 16·lanes`, keeping the 9 × `lanes` sums in registers. `binary` (every
/// value 1) skips the multiply, which changes nothing since 1·g = g exactly.
static inline __attribute__((always_inline)) void ck_conv_dw_block(const int32_t *pos, const float *val, int64_t count,
                                                                    const float *pad, const int64_t *offsets, int64_t o,
                                                                    int lanes, int binary, float *out, int64_t cout) {
    ck_v16 a[9][2];
#pragma clang loop unroll(full)
    for (int tap = 0; tap < 9; tap++) {
        a[tap][0] = (ck_v16){0};
        a[tap][1] = (ck_v16){0};
    }
    for (int64_t k = 0; k < count; k++) {
        const float *base = pad + pos[k] + o;
        const float v = val[k];
#pragma clang loop unroll(full)
        for (int tap = 0; tap < 9; tap++) {
#pragma clang loop unroll(full)
            for (int l = 0; l < lanes; l++) {
                const ck_v16 g = ck_load(base + offsets[tap] + 16 * l);
                a[tap][l] += binary ? g : v * g;
            }
        }
    }
#pragma clang loop unroll(full)
    for (int tap = 0; tap < 9; tap++) {
#pragma clang loop unroll(full)
        for (int l = 0; l < lanes; l++) {
            float *d = out + tap * cout + o + 16 * l;
            ck_store(d, ck_load(d) + a[tap][l]);
        }
    }
}

void CK_NAME(sparseConv3x3WeightGradient)(const float *x, int64_t cin, int64_t frames, int64_t height, int64_t width,
                                          int64_t frameBegin, int64_t frameEnd, const float *dy, int64_t cout,
                                          float *dwt, float *scratch) {
    const int64_t plane = height * width;
    const int64_t total = frames * plane;
    const int64_t pw = width + 2;
    // The frame goes in bands of input rows whose zero-bordered, pixel-major copy of dY (the
    // band's rows and one more on each side) stays in L2 while the band's events read it: the
    // whole frame's copy of a wide layer does not fit. Consecutive bands share two dY rows,
    // which move to the top of the buffer instead of being copied again.
    int64_t band = CKERNELS_CONV_BAND_FLOATS / (pw * cout) - 2;
    band = band < 1 ? 1 : band > height ? height : band;
    float *pad = scratch;  // rows y0 … y0 + band + 1 of the zero-bordered frame, for the band from input row y0
    int32_t *pos = (int32_t *)(pad + (band + 2) * pw * cout);
    float *val = (float *)(pos + band * width + 16);  // ck_collect's slack after each
    memset(pad, 0, sizeof(float) * (band + 2) * pw * cout);
    // Tap (ky, kx) of an input at padded offset q reads the output gradient at q + offsets[tap]
    // (the border is zero, so taps that fall outside the image add nothing).
    int64_t offsets[9];
    for (int64_t tap = 0; tap < 9; tap++) offsets[tap] = ((1 - tap / 3) * pw + (1 - tap % 3)) * cout;
    for (int64_t f = frameBegin; f < frameEnd; f++) {
        for (int64_t y0 = 0; y0 < height; y0 += band) {
            const int64_t rows = height - y0 < band ? height - y0 : band;
            // Buffer row r holds padded row y0 + r, i.e. dY row y0 + r − 1 (zero outside the image).
            int64_t r = 0;
            if (y0 > 0) {
                memmove(pad, pad + band * pw * cout, sizeof(float) * 2 * pw * cout);
                r = 2;
            }
            for (; r < rows + 2; r++) {
                const int64_t yy = y0 + r - 1;
                float *target = pad + r * pw * cout;
                if (yy < 0 || yy >= height) memset(target, 0, sizeof(float) * pw * cout);
                else CK_NAME(transpose)(dy + f * plane + yy * width, cout, width, total, target + cout, cout);
            }
            for (int64_t c = 0; c < cin; c++) {
                const int64_t count = ck_collect(x + c * total + f * plane + y0 * width, rows * width, pos, val);
                int binary = 1;
                for (int64_t k = 0; k < count; k++) {
                    const int64_t p = pos[k];
                    pos[k] = (int32_t)(((p / width + 1) * pw + p % width + 1) * cout);
                    binary &= val[k] == 1;
                }
                float *out = dwt + c * 9 * cout;
                int64_t o = 0;
                for (; o + 32 <= cout; o += 32) {
                    if (binary) ck_conv_dw_block(pos, val, count, pad, offsets, o, 2, 1, out, cout);
                    else ck_conv_dw_block(pos, val, count, pad, offsets, o, 2, 0, out, cout);
                }
                for (; o + 16 <= cout; o += 16) {
                    if (binary) ck_conv_dw_block(pos, val, count, pad, offsets, o, 1, 1, out, cout);
                    else ck_conv_dw_block(pos, val, count, pad, offsets, o, 1, 0, out, cout);
                }
                for (; o < cout; o++) {
                    for (int64_t tap = 0; tap < 9; tap++) {
                        float sum = 0;
                        for (int64_t k = 0; k < count; k++) sum += val[k] * pad[pos[k] + offsets[tap] + o];
                        out[tap * cout + o] += sum;
                    }
                }
            }
        }
    }
}

int32_t CK_NAME(binaryRows)(const float *x, int64_t stride, int64_t rows, int64_t length, uint64_t *masks) {
    const int64_t words = (length + 63) / 64;
    int32_t binary = 1;
    for (int64_t r = 0; r < rows; r++) {
        const float *row = x + r * stride;
        uint64_t *out = masks + r * words;
        for (int64_t w = 0; w < words; w++) out[w] = 0;
        int64_t b = 0;
        for (; b + 16 <= length; b += 16) {
            const ck_v16 v = ck_load(row + b);
            if (__builtin_reduce_or((ck_i16)(v != 0) & (ck_i16)(v != 1))) binary = 0;
            out[b / 64] |= (uint64_t)ck_mask16(row + b) << (b % 64);
        }
        for (; b < length; b++) {
            if (row[b] != 0 && row[b] != 1) binary = 0;
            if (row[b] != 0) out[b / 64] |= (uint64_t)1 << (b % 64);
        }
    }
    return binary;
}

void CK_NAME(countProducts)(const uint64_t *a, const uint64_t *b, int64_t rows, int64_t words, float scale, float *out) {
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t j = 0; j < rows; j++) {
            int64_t count = 0;
            for (int64_t w = 0; w < words; w++) count += __builtin_popcountll(a[i * words + w] & b[j * words + w]);
            out[i * rows + j] = (float)count * scale;
        }
    }
}

void CK_NAME(attentionProducts)(const float *a, const float *b, int64_t stride, int64_t d, int64_t n, float scale, float *bt,
                                float *out) {
    CK_NAME(transpose)(b, d, n, stride, bt, d);
#ifdef CK_COMPRESS16
    // Every (row, token) event listed first, then one loop over them: the same axpys in the same
    // order, without a mispredicted loop exit per block of 16 tokens.
    enum { listed = 4096 };
    if (d * ((n + 15) / 16 * 16) <= listed && n <= 65536) {  // an event is row << 16 | token
        int32_t events[listed + 16];
        int64_t count = 0;
        for (int64_t i = 0; i < d; i++) {
            const float *ai = a + i * stride;
            for (int64_t t0 = 0; t0 < n; t0 += 16) {
                const uint32_t m = t0 + 16 <= n ? ck_mask16(ai + t0) : ck_mask_partial(ai + t0, n - t0);
                count += ck_compress16(m, (int32_t)(i << 16 | t0), events + count);
            }
        }
        for (int64_t j = 0; j < d * d; j++) out[j] = 0;
        for (int64_t e = 0; e < count; e++) {
            const int64_t i = events[e] >> 16, t = events[e] & 0xFFFF;
            ck_axpy(out + i * d, a[i * stride + t], bt + t * d, d);
        }
        for (int64_t j = 0; j < d * d; j++) out[j] = scale * out[j];
        return;
    }
#endif
    for (int64_t i = 0; i < d; i++) {
        const float *ai = a + i * stride;
        float *oi = out + i * d;
        for (int64_t j = 0; j < d; j++) oi[j] = 0;
        for (int64_t t0 = 0; t0 < n; t0 += 16) {
            uint32_t m = t0 + 16 <= n ? ck_mask16(ai + t0) : ck_mask_partial(ai + t0, n - t0);
            while (m) {
                const int64_t t = t0 + __builtin_ctz(m);
                m &= m - 1;
                ck_axpy(oi, ai[t], bt + t * d, d);
            }
        }
        for (int64_t j = 0; j < d; j++) oi[j] = scale * oi[j];
    }
}

/// One output row of `combineRows` over tokens `[t, t + 16·V)`, for outputs o0 and o0 + 1 when `pair`:
/// the sum over input rows in order, in registers, stored once.
#define CK_COMBINE_BLOCK(V, pair)                                                                    \
    do {                                                                                             \
        ck_v16 y0[V], y1[V];                                                                         \
        for (int v = 0; v < V; v++) y0[v] = y1[v] = (ck_v16){0};                                     \
        for (int64_t i = 0; i < d; i++) {                                                            \
            const float *r = rows + i * stride + t;                                                  \
            const float c0 = c[o0 * d + i], c1 = pair ? c[(o0 + 1) * d + i] : 0;                     \
            for (int v = 0; v < V; v++) {                                                            \
                const ck_v16 x = ck_load(r + 16 * v);                                                \
                y0[v] = y0[v] + c0 * x;                                                              \
                if (pair) y1[v] = y1[v] + c1 * x;                                                    \
            }                                                                                        \
        }                                                                                            \
        for (int v = 0; v < V; v++) {                                                                \
            ck_store(out + o0 * stride + t + 16 * v, y0[v]);                                         \
            if (pair) ck_store(out + (o0 + 1) * stride + t + 16 * v, y1[v]);                         \
        }                                                                                            \
    } while (0)

void CK_NAME(combineRows)(const float *rows, const float *c, int64_t stride, int64_t d, int64_t n, float *out) {
    for (int64_t o0 = 0; o0 < d; o0 += 2) {
        const int pair = o0 + 1 < d;
        int64_t t = 0;
        if (pair) {
            for (; t + 64 <= n; t += 64) CK_COMBINE_BLOCK(4, 1);
            for (; t + 16 <= n; t += 16) CK_COMBINE_BLOCK(1, 1);
        } else {
            for (; t + 64 <= n; t += 64) CK_COMBINE_BLOCK(4, 0);
            for (; t + 16 <= n; t += 16) CK_COMBINE_BLOCK(1, 0);
        }
        for (int64_t o = o0; o < o0 + 1 + pair; o++) {
            for (int64_t u = t; u < n; u++) {
                float y = 0;
                for (int64_t i = 0; i < d; i++) y = y + c[o * d + i] * rows[i * stride + u];
                out[o * stride + u] = y;
            }
        }
    }
}
#undef CK_COMBINE_BLOCK

/// `combineRows` for rows that hold only 0 and 1 (spikes), event by event: per block of 16 tokens,
/// each row's firing tokens add the row's coefficient column to their sums, rows in order, and the
/// block's sums are transposed into place. A silent token's term `c·0` adds nothing to a sum that
/// starts at +0, so these are combineRows' bits, in a fraction of the operations at the firing
/// rates of attention. `scratch`: `(d + 16)·⌈d/16⌉·16` floats.
void CK_NAME(combineSpikeRows)(const float *rows, const float *c, int64_t stride, int64_t d, int64_t n, float *out, float *scratch) {
    const int64_t dp = (d + 15) / 16 * 16;
    float *columns = scratch;       // [i][o]: row i's coefficient for each output o, zero-padded to dp
    float *sums = scratch + d * dp;  // [token][o] for one block
    for (int64_t i = 0; i < d; i++) {
        for (int64_t o = 0; o < dp; o++) columns[i * dp + o] = o < d ? c[o * d + i] : 0;
    }
    for (int64_t t0 = 0; t0 < n; t0 += 16) {
        const int64_t count = n - t0 < 16 ? n - t0 : 16;
        memset(sums, 0, (size_t)(count * dp) * sizeof(float));
#ifdef CK_COMPRESS16
        // Where the CPU compresses lanes, the block's events (row, token) are listed first without a
        // branch per firing token, then added in one loop: the same adds in the same order (rows
        // ascending per token), without a mispredicted loop exit per row.
        if (d <= 64) {
            int32_t events[64 * 16 + 16];
            int64_t k = 0;
            for (int64_t i = 0; i < d; i++) {
                const float *row = rows + i * stride + t0;
                const uint32_t firing = count == 16 ? ck_mask16(row) : ck_mask_partial(row, count);
                k += ck_compress16(firing, (int32_t)(i * dp * 16), events + k);
            }
            for (int64_t e = 0; e < k; e++) {
                float *sum = sums + (events[e] & 15) * dp;
                const float *column = columns + (events[e] >> 4);
                for (int64_t o = 0; o < dp; o += 16) ck_store(sum + o, ck_load(sum + o) + ck_load(column + o));
            }
            CK_NAME(transpose)(sums, count, d, dp, out + t0, stride);
            continue;
        }
#endif
        for (int64_t i = 0; i < d; i++) {
            const float *row = rows + i * stride + t0;
            uint32_t firing = count == 16 ? ck_mask16(row) : ck_mask_partial(row, count);
            const float *column = columns + i * dp;
            while (firing) {
                float *sum = sums + (int64_t)__builtin_ctz(firing) * dp;
                firing &= firing - 1;
                for (int64_t o = 0; o < dp; o += 16) ck_store(sum + o, ck_load(sum + o) + ck_load(column + o));
            }
        }
        CK_NAME(transpose)(sums, count, d, dp, out + t0, stride);
    }
}

/// `a` where `mask`, else `b`, lane by lane (bitwise, so exact for floats too).
static inline __attribute__((always_inline)) ck_i16 ck_select_i(ck_i16 mask, ck_i16 a, ck_i16 b) { return (a & mask) | (b & ~mask); }

static inline __attribute__((always_inline)) ck_v16 ck_select(ck_i16 mask, ck_v16 a, ck_v16 b) {
    return (ck_v16)ck_select_i(mask, (ck_i16)a, (ck_i16)b);
}

/// Horizontal pass of `maxPool3x3` for outputs `[from, to)` of row y, one at a time.
static inline __attribute__((always_inline)) void ck_pool_row(const float *plane, int64_t width, int64_t y, int64_t from, int64_t to,
                                                              float *out, int32_t *arguments) {
    const float *row = plane + y * width;
    for (int64_t ox = from; ox < to; ox++) {
        const int64_t center = 2 * ox;
        float best = row[center];
        int64_t argument = center;
        if (center > 0 && row[center - 1] >= best) {
            best = row[center - 1];
            argument = center - 1;
        }
        if (center + 1 < width && row[center + 1] > best) {
            best = row[center + 1];
            argument = center + 1;
        }
        out[ox] = best;
        arguments[ox] = (int32_t)(y * width + argument);
    }
}

void CK_NAME(maxPool3x3)(const float *plane, int64_t height, int64_t width, float *out, int32_t *arguments, float *rowMax,
                         int32_t *rowArg) {
    const int64_t oh = (height - 1) / 2 + 1, ow = (width - 1) / 2 + 1;
    // Horizontal: every row's max over 3 columns at stride 2. For even widths output o's centre is
    // plane element 2·o, so the plane is one strided sequence and 16 outputs come from four loads
    // split into even and odd lanes; outputs starting a row (whose left neighbour belongs to the
    // row before) are then redone one at a time.
    int64_t o = 1;
    if (width % 2 == 0) {
        const int64_t count = height * ow, total = height * width;
        for (; 2 * o + 33 <= total && o + 16 <= count; o += 16) {
            const float *p = plane + 2 * o - 1;
            const ck_v16 a = ck_load(p), b = ck_load(p + 16), c = ck_load(p + 2), d = ck_load(p + 18);
            const ck_v16 left = __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            const ck_v16 center = __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            const ck_v16 right = __builtin_shufflevector(c, d, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            const ck_i16 columns = (ck_i16){0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30} + (int32_t)(2 * o);
            // First maximum in window order: the left neighbour wins ties with the centre, the
            // right one only a strict comparison.
            const ck_i16 leftWins = (ck_i16)(left >= center);
            ck_v16 best = ck_select(leftWins, left, center);
            ck_i16 argument = ck_select_i(leftWins, columns - 1, columns);
            const ck_i16 rightWins = (ck_i16)(right > best);
            best = ck_select(rightWins, right, best);
            argument = ck_select_i(rightWins, columns + 1, argument);
            ck_store(rowMax + o, best);
            memcpy(rowArg + o, &argument, sizeof argument);
        }
    }
    for (int64_t y = 0; y < height; y++) {
        const int64_t start = y * ow;
        int64_t done = o - start;  // outputs of this row the vector loop got right
        done = done < 1 ? 1 : (done > ow ? ow : done);
        ck_pool_row(plane, width, y, 0, 1, rowMax + start, rowArg + start);
        ck_pool_row(plane, width, y, done, ow, rowMax + start, rowArg + start);
    }
    // Vertical: the first of up to 3 rows, replaced only by a strictly larger later one.
    for (int64_t oy = 0; oy < oh; oy++) {
        const int64_t y0 = 2 * oy - 1 < 0 ? 0 : 2 * oy - 1, y1 = 2 * oy + 2 < height ? 2 * oy + 2 : height;
        float *target = out + oy * ow;
        int32_t *index = arguments ? arguments + oy * ow : 0;
        int64_t i = 0;
        for (; i + 16 <= ow; i += 16) {
            ck_v16 best = ck_load(rowMax + y0 * ow + i);
            ck_i16 argument;
            memcpy(&argument, rowArg + y0 * ow + i, sizeof argument);
            for (int64_t yy = y0 + 1; yy < y1; yy++) {
                const ck_v16 candidate = ck_load(rowMax + yy * ow + i);
                ck_i16 candidateArgument;
                memcpy(&candidateArgument, rowArg + yy * ow + i, sizeof candidateArgument);
                const ck_i16 wins = (ck_i16)(candidate > best);
                best = ck_select(wins, candidate, best);
                argument = ck_select_i(wins, candidateArgument, argument);
            }
            ck_store(target + i, best);
            if (index) memcpy(index + i, &argument, sizeof argument);
        }
        for (; i < ow; i++) {
            float best = rowMax[y0 * ow + i];
            int32_t argument = rowArg[y0 * ow + i];
            for (int64_t yy = y0 + 1; yy < y1; yy++) {
                if (rowMax[yy * ow + i] > best) {
                    best = rowMax[yy * ow + i];
                    argument = rowArg[yy * ow + i];
                }
            }
            target[i] = best;
            if (index) index[i] = argument;
        }
    }
}

typedef uint32_t ck_u16 __attribute__((vector_size(64)));

static inline __attribute__((always_inline)) ck_v16 ck_splat(float value) { return (ck_v16){0} + value; }

/// `exp(x)` for x ≤ 0, operation for operation as SpikingNN's `RowKernels.expNonPositive`.
static inline __attribute__((always_inline)) ck_v16 ck_exp_nonpositive(ck_v16 x) {
    const ck_v16 floor87 = ck_splat(-87);
    const ck_i16 low = x < floor87;
    const ck_v16 clamped = ck_select(low, floor87, x);
    const float magic = 12582912.0f;
    const ck_v16 shifted = clamped * 1.44269504f + magic;
    const ck_v16 n = shifted - magic;
    const ck_v16 r = clamped - n * 0.69314718f;
    ck_v16 p = ck_splat(1.0f / 720);
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1;
    p = p * r + 1;
    uint32_t magicBits;
    memcpy(&magicBits, &magic, sizeof magicBits);
    const ck_u16 k = (ck_u16)shifted - magicBits;
    return p * (ck_v16)((k + 127) << 23);
}

/// The length of the next chunk of a LIF row from `start`: up to CKERNELS_LIF_CHUNK positions, a
/// multiple of 16 (0 when fewer than 16 are left).
static inline __attribute__((always_inline)) int64_t ck_lif_chunk(int64_t start, int64_t block) {
    const int64_t left = block - start;
    const int64_t n = left < CKERNELS_LIF_CHUNK ? left : CKERNELS_LIF_CHUNK;
    return n - n % 16;
}

int64_t CK_NAME(lifForward)(const float *x, float a, float b, int64_t timeSteps, int64_t block, float decay, float gain,
                            float threshold, float *spikes, int64_t *spikeCount) {
    float v[CKERNELS_LIF_CHUNK];
    ck_i16 fires = {0};  // minus the spikes per lane (a fired lane is −1)
    int64_t start = 0;
    for (int64_t n; (n = ck_lif_chunk(start, block)) > 0; start += n) {
        for (int64_t j = 0; j < n; j += 16) ck_store(v + j, (ck_v16){0});
        for (int64_t t = 0; t < timeSteps; t++) {
            const float *xt = x + t * block + start;
            float *st = spikes + t * block + start;
            for (int64_t j = 0; j < n; j += 16) {
                // The T rows are T streams `block` apart, each waited on (benchmarks/lif): ask for
                // every row's next chunk while this one is computed, here and in the backward pass.
                __builtin_prefetch(xt + j + CKERNELS_LIF_CHUNK, 0, 3);
                const ck_v16 h = decay * ck_load(v + j) + gain * (a * ck_load(xt + j) + b);
                const ck_i16 fired = (ck_i16)(h >= threshold);
                ck_store(st + j, (ck_v16)((ck_i16)ck_splat(1) & fired));
                ck_store(v + j, (ck_v16)((ck_i16)h & ~fired));
                fires += fired;
            }
        }
    }
    int64_t count = 0;
    for (int lane = 0; lane < 16; lane++) count -= fires[lane];
    *spikeCount = count;
    return start;
}

/// The body of lifBackward; `withSums` (a constant) adds BatchNorm's gradient sums.
static inline __attribute__((always_inline)) int64_t ck_lif_backward(const float *x, float a, float b, const float *g,
                                                                     int64_t timeSteps, int64_t block, float decay, float gain,
                                                                     float threshold, float alpha, float mean, float inverseStd,
                                                                     double *sums, int withSums, float *out, float *scratch) {
    float *carried = scratch + CKERNELS_LIF_CHUNK * timeSteps;  // V going forward, then dL/dV going back
    int64_t start = 0;
    for (int64_t n; (n = ck_lif_chunk(start, block)) > 0; start += n) {
        for (int64_t j = 0; j < n; j += 16) ck_store(carried + j, (ck_v16){0});
        for (int64_t t = 0; t < timeSteps; t++) {
            const float *xt = x + t * block + start;
            float *ht = scratch + CKERNELS_LIF_CHUNK * t;
            for (int64_t j = 0; j < n; j += 16) {
                __builtin_prefetch(xt + j + CKERNELS_LIF_CHUNK, 0, 3);
                const ck_v16 h = decay * ck_load(carried + j) + gain * (a * ck_load(xt + j) + b);
                ck_store(ht + j, h);
                ck_store(carried + j, (ck_v16)((ck_i16)h & ~(ck_i16)(h >= threshold)));
            }
        }
        for (int64_t j = 0; j < n; j += 16) ck_store(carried + j, (ck_v16){0});
        ck_v16 sumG = {0}, sumGX = {0};
        for (int64_t t = timeSteps - 1; t >= 0; t--) {
            const float *gt = g + t * block + start;
            const float *ht = scratch + CKERNELS_LIF_CHUNK * t;
            const float *xt = x + t * block + start;
            float *ot = out + t * block + start;
            for (int64_t j = 0; j < n; j += 16) {
                __builtin_prefetch(gt + j + CKERNELS_LIF_CHUNK, 0, 3);
                const ck_v16 xm = ck_load(ht + j) - threshold;
                const ck_v16 magnitude = (ck_v16)((ck_i16)xm & 0x7FFFFFFF);
                const ck_v16 e = ck_exp_nonpositive(-alpha * magnitude);
                const ck_v16 d = 1 + e;
                const ck_v16 surrogate = alpha * e / (d * d);
                const ck_v16 keep = (ck_v16)((ck_i16)ck_splat(1) & ~(ck_i16)(xm >= 0));
                const ck_v16 gh = ck_load(gt + j) * surrogate + ck_load(carried + j) * keep;
                const ck_v16 dy = gh * gain;
                ck_store(ot + j, dy);
                ck_store(carried + j, gh * decay);
                if (withSums) {  // x of this chunk is still in L1 from the recomputation above
                    sumG += dy;
                    sumGX += dy * ((ck_load(xt + j) - mean) * inverseStd);
                }
            }
        }
        if (withSums) {
            for (int l = 0; l < 16; l++) {
                sums[0] += (double)sumG[l];
                sums[1] += (double)sumGX[l];
            }
        }
    }
    return start;
}

int64_t CK_NAME(lifBackward)(const float *x, float a, float b, const float *g, int64_t timeSteps, int64_t block, float decay,
                             float gain, float threshold, float alpha, float mean, float inverseStd, double *sums, float *out,
                             float *scratch) {
    if (sums) return ck_lif_backward(x, a, b, g, timeSteps, block, decay, gain, threshold, alpha, mean, inverseStd, sums, 1, out, scratch);
    return ck_lif_backward(x, a, b, g, timeSteps, block, decay, gain, threshold, alpha, 0, 0, 0, 0, out, scratch);
}

/// One AdamW step over `count` parameters, operation for operation as the scalar tail below
/// (and as the Swift loop this replaced), so every variant gives the same bits.
void CK_NAME(adamW)(float *w, const float *g, float *m, float *v, int64_t count, float beta1, float beta2, float learningRate,
                    float correction1, float correction2, float epsilon, float decay) {
    int64_t i = 0;
    for (; i + 16 <= count; i += 16) {
        const ck_v16 gi = ck_load(g + i);
        const ck_v16 mi = beta1 * ck_load(m + i) + (1 - beta1) * gi;
        const ck_v16 vi = beta2 * ck_load(v + i) + (1 - beta2) * gi * gi;
        ck_store(m + i, mi);
        ck_store(v + i, vi);
        const ck_v16 step = learningRate * (mi / correction1) / (__builtin_elementwise_sqrt(vi / correction2) + epsilon);
        ck_store(w + i, ck_load(w + i) * decay - step);
    }
    for (; i < count; i++) {
        const float gi = g[i];
        const float mi = beta1 * m[i] + (1 - beta1) * gi;
        const float vi = beta2 * v[i] + (1 - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i] * decay - learningRate * (mi / correction1) / (__builtin_sqrtf(vi / correction2) + epsilon);
    }
}
