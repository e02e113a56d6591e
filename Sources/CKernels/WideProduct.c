// Dense float products C = op(A)·B where B has many columns (tokens, positions) and few rows, the
// shape of every token-linear and im2col product in the engine: C is m × n, A is m × k (or k × m
// read transposed), B is k × n row-major, with k and m in the tens to thousands and n in the
// thousands. With k ≤ 256, OpenBLAS reached 106–129 GFLOP/s per core on these shapes (it packs A
// and B for every call) and this register tile 207–253 (Zen 5, one thread, BENCHMARKS.md).
//
// Each tile keeps 8 rows × 48 columns of C in 24 AVX-512 registers: per step of the sum it loads
// 48 floats of one row of B and broadcasts 8 elements of A, 24 fused multiply-adds. B's 48-column
// strip stays in cache while every row block of A passes over it (copied once into a contiguous
// buffer when B's rows are a power of two apart, see ck_wide_strip).
//
// AVX-512 only (F + FMA); elsewhere callers keep OpenBLAS. Sums run over k in order, one fused
// rounding per term, so results differ from OpenBLAS's blocked sums within float rounding.
#include "CKernels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma"))), apply_to = function)

enum { ckWideColumns = 48, ckWideRows = 8 };

/// Rows [i0, i0 + R) of C over the `n` ≤ 48 columns from `column` (`full`: n = 48, no masks),
/// reading B's strip at `strip`, its rows `stripStride` floats apart (the copy, or B in place).
static inline __attribute__((always_inline)) void ck_wide_tile(const float *a, int64_t rowStride, int64_t kStride, int64_t k,
                                                               const float *strip, int64_t stripStride, float *c, int64_t ldc, int64_t i0,
                                                               int64_t column, int R, int full, const __mmask16 masks[3],
                                                               int add) {
    __m512 acc[ckWideRows][3];
    for (int r = 0; r < R; r++) {
        // C's rows are far apart (often a power of two), too many streams for the hardware
        // prefetcher: ask for the lines now, add them after the sum.
        if (add) {
            for (int j = 0; j < 3; j++) _mm_prefetch((const char *)(c + (i0 + r) * ldc + column + 16 * j), _MM_HINT_T0);
        }
        for (int j = 0; j < 3; j++) acc[r][j] = _mm512_setzero_ps();
    }
    const float *row = strip;
    const float *column0 = a + i0 * rowStride;
    for (int64_t o = 0; o < k; o++, row += stripStride, column0 += kStride) {
        __m512 v[3];
        for (int j = 0; j < 3; j++) v[j] = _mm512_loadu_ps(row + 16 * j);
        for (int r = 0; r < R; r++) {
            const __m512 w = _mm512_set1_ps(column0[r * rowStride]);
            for (int j = 0; j < 3; j++) acc[r][j] = _mm512_fmadd_ps(w, v[j], acc[r][j]);
        }
    }
    for (int r = 0; r < R; r++) {
        for (int j = 0; j < 3; j++) {
            float *to = c + (i0 + r) * ldc + column + 16 * j;
            if (add) acc[r][j] = _mm512_add_ps(full ? _mm512_loadu_ps(to) : _mm512_maskz_loadu_ps(masks[j], to), acc[r][j]);
            if (full) _mm512_storeu_ps(to, acc[r][j]);
            else _mm512_mask_storeu_ps(to, masks[j], acc[r][j]);
        }
    }
}

/// Whether a strip of B is copied before use (see ck_wide_strip): a partial strip, for its zero
/// padding, or B's rows a multiple of 256 floats apart.
static inline int ck_wide_copies(int full, int64_t ldb) { return !full || ldb % 256 == 0; }

/// Every row of C over one strip of columns; the last row block has R = m mod 8 rows. Where B's
/// rows are a multiple of 256 floats apart (8192 tokens, say), the strip is copied first to
/// `strip` (k × 48, zero past n): read in place, every row of the strip would fall in the same few
/// cache sets and evict the others before the next row block comes back to them. Whole strips of
/// other B (Winograd's transformed tiles, 96 apart) are read in place.
static inline __attribute__((always_inline)) void ck_wide_strip(const float *a, int64_t rowStride, int64_t kStride, int64_t m,
                                                                int64_t k, const float *b, int64_t ldb, float *c, int64_t ldc,
                                                                int64_t column, int full, const __mmask16 masks[3], int add,
                                                                float *strip) {
    const float *source = b + column;
    int64_t sourceStride = ldb;
    if (ck_wide_copies(full, ldb)) {
        for (int64_t o = 0; o < k; o++) {
            const float *row = b + o * ldb + column;
            for (int j = 0; j < 3; j++) {
                const __m512 v = full ? _mm512_loadu_ps(row + 16 * j) : _mm512_maskz_loadu_ps(masks[j], row + 16 * j);
                _mm512_storeu_ps(strip + o * ckWideColumns + 16 * j, v);
            }
        }
        source = strip;
        sourceStride = ckWideColumns;
    }
    int64_t i0 = 0;
    for (; i0 + ckWideRows <= m; i0 += ckWideRows)
        ck_wide_tile(a, rowStride, kStride, k, source, sourceStride, c, ldc, i0, column, ckWideRows, full, masks, add);
    switch (m - i0) {
#define CK_WIDE_REST(R) \
    case R: ck_wide_tile(a, rowStride, kStride, k, source, sourceStride, c, ldc, i0, column, R, full, masks, add); break;
        CK_WIDE_REST(1) CK_WIDE_REST(2) CK_WIDE_REST(3) CK_WIDE_REST(4) CK_WIDE_REST(5) CK_WIDE_REST(6) CK_WIDE_REST(7)
#undef CK_WIDE_REST
        default: break;
    }
}

static void ck_wide_product(const float *a, int64_t rowStride, int64_t kStride, int64_t m, int64_t k, const float *b,
                            int64_t ldb, float *c, int64_t ldc, int64_t begin, int64_t end, int add, float *strip) {
    const __mmask16 all[3] = {0xFFFF, 0xFFFF, 0xFFFF};
    int64_t column = begin;
    for (; column + ckWideColumns <= end; column += ckWideColumns)
        ck_wide_strip(a, rowStride, kStride, m, k, b, ldb, c, ldc, column, 1, all, add, strip);
    if (column < end) {
        __mmask16 masks[3];
        for (int j = 0; j < 3; j++) {
            const int64_t lanes = end - column - 16 * j;
            masks[j] = lanes >= 16 ? (__mmask16)0xFFFF : lanes <= 0 ? (__mmask16)0 : (__mmask16)((1u << lanes) - 1);
        }
        ck_wide_strip(a, rowStride, kStride, m, k, b, ldb, c, ldc, column, 0, masks, add, strip);
    }
}

#pragma clang attribute pop
#endif

int32_t CKernels_hasWideProduct(void) {
#if defined(__x86_64__)
    return CKernels_startupISA() == CKernels_ISA_avx512;
#else
    return 0;
#endif
}

void CKernels_wideProduct(int32_t transposeA, const float *a, int64_t lda, int64_t m, int64_t k, const float *b,
                          int64_t ldb, float *c, int64_t ldc, int64_t begin, int64_t end, int32_t add) {
#if defined(__x86_64__)
    // Element (i, o) of op(A): A[i·lda + o], or A[o·lda + i] transposed.
    const int64_t rowStride = transposeA ? 1 : lda;
    const int64_t kStride = transposeA ? lda : 1;
    if (k <= 0 || m <= 0) {
        for (int64_t i = 0; i < m && !add; i++) memset(c + i * ldc + begin, 0, (size_t)(end - begin) * sizeof(float));
        return;
    }
    // The copy's buffer only where some strip is copied (Winograd's 16 products per chunk copy none).
    const int copies = ck_wide_copies((end - begin) % ckWideColumns == 0, ldb);
    float *strip = copies ? aligned_alloc(64, (size_t)(k * ckWideColumns) * sizeof(float)) : NULL;
    ck_wide_product(a, rowStride, kStride, m, k, b, ldb, c, ldc, begin, end, add, strip);
    free(strip);
#else
    (void)transposeA, (void)a, (void)lda, (void)m, (void)k, (void)b, (void)ldb, (void)c, (void)ldc, (void)begin, (void)end,
        (void)add;
#endif
}
