// The input gradient of a 3×3 convolution (stride 1, padding 1) two ways, on one thread:
//   im2col: dcols = Wᵀ·dY (one sgemm per frame), then scattered back (col2im) — the engine's path;
//   Winograd F(2×2, 3×3): dY transformed in 4×4 tiles (stride 2), 16 sgemms of the transformed
//   kernel with them, transformed back.
// Prints both times (best of 5), the ratio, and the largest difference, for the paper model's
// convolutions. A measurement only: the engine does not use Winograd (see BENCHMARKS.md).
// Build and run: benchmarks/winograd/run.sh
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct { int cin, cout, size, frames; } Shape;

// dx[ci](p) = Σ_co Σ_tap W[co][ci][tap] · dy[co](p − tap offset), through a [cin·9, plane] buffer.
static void im2colGradient(const float *w, const float *dy, Shape s, float *dx, float *cols) {
    const int plane = s.size * s.size, k = s.cin * 9;
    memset(dx, 0, sizeof(float) * (size_t)s.cin * s.frames * plane);
    for (int f = 0; f < s.frames; f++) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, plane, s.cout, 1, w, k, dy + (size_t)f * plane,
                    s.frames * plane, 0, cols, plane);
        for (int ci = 0; ci < s.cin; ci++)
            for (int tap = 0; tap < 9; tap++) {
                const int ky = tap / 3 - 1, kx = tap % 3 - 1;
                const float *c = cols + (size_t)(ci * 9 + tap) * plane;
                float *o = dx + ((size_t)ci * s.frames + f) * plane;
                for (int y = 0; y < s.size; y++) {
                    const int iy = y + ky;
                    if (iy < 0 || iy >= s.size) continue;
                    for (int x = 0; x < s.size; x++) {
                        const int ix = x + kx;
                        if (ix >= 0 && ix < s.size) o[iy * s.size + ix] += c[y * s.size + x];
                    }
                }
            }
    }
}

// The same as a correlation of dy with the kernel rotated by 180°, by Winograd F(2×2, 3×3):
// U = G g Gᵀ, V = Bᵀ d B per 4×4 tile, M = Σ_co U ⊙ V (16 sgemms), dx tile = Aᵀ M A. Even sizes.
static void winogradGradient(const float *w, const float *dy, Shape s, float *dx, float *u, float *v, float *m) {
    const int size = s.size, half = size / 2, tiles = half * half, plane = size * size, n = s.frames * tiles;
    for (int co = 0; co < s.cout; co++)
        for (int ci = 0; ci < s.cin; ci++) {
            const float *k = w + ((size_t)co * s.cin + ci) * 9;
            float g[3][3], t[4][3];
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) g[a][b] = k[(2 - a) * 3 + (2 - b)];
            for (int b = 0; b < 3; b++) {
                t[0][b] = g[0][b];
                t[1][b] = 0.5f * (g[0][b] + g[1][b] + g[2][b]);
                t[2][b] = 0.5f * (g[0][b] - g[1][b] + g[2][b]);
                t[3][b] = g[2][b];
            }
            for (int a = 0; a < 4; a++) {
                const float row[4] = {t[a][0], 0.5f * (t[a][0] + t[a][1] + t[a][2]), 0.5f * (t[a][0] - t[a][1] + t[a][2]), t[a][2]};
                for (int b = 0; b < 4; b++) u[((size_t)(a * 4 + b) * s.cin + ci) * s.cout + co] = row[b];
            }
        }
    float vertical[4][1024], even[4][513], odd[4][513];
    static const float zero[1024];
    for (int co = 0; co < s.cout; co++)
        for (int f = 0; f < s.frames; f++) {
            const float *src = dy + ((size_t)co * s.frames + f) * plane;
            for (int ty = 0; ty < half; ty++) {
                const float *r[4];
                for (int q = 0; q < 4; q++) {
                    const int iy = 2 * ty - 1 + q;
                    r[q] = iy < 0 || iy >= size ? zero : src + iy * size;
                }
                for (int x = 0; x < size; x++) {  // Bᵀ over the 4 rows
                    vertical[0][x] = r[0][x] - r[2][x];
                    vertical[1][x] = r[1][x] + r[2][x];
                    vertical[2][x] = r[2][x] - r[1][x];
                    vertical[3][x] = r[1][x] - r[3][x];
                }
                const size_t base = (size_t)co * n + (size_t)f * tiles + (size_t)ty * half;
                for (int q = 0; q < 4; q++) {  // B over columns 2tx − 1 … 2tx + 2 (padded)
                    even[q][0] = 0;
                    for (int x = 0; x < half; x++) {
                        odd[q][x] = vertical[q][2 * x];
                        even[q][x + 1] = vertical[q][2 * x + 1];
                    }
                    odd[q][half] = 0;
                    float *v0 = v + (size_t)(q * 4) * s.cout * n + base, *v1 = v0 + (size_t)s.cout * n,
                          *v2 = v1 + (size_t)s.cout * n, *v3 = v2 + (size_t)s.cout * n;
                    for (int x = 0; x < half; x++) {
                        v0[x] = even[q][x] - even[q][x + 1];
                        v1[x] = odd[q][x] + even[q][x + 1];
                        v2[x] = even[q][x + 1] - odd[q][x];
                        v3[x] = odd[q][x] - odd[q][x + 1];
                    }
                }
            }
        }
    for (int xi = 0; xi < 16; xi++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.cin, n, s.cout, 1, u + (size_t)xi * s.cin * s.cout, s.cout,
                    v + (size_t)xi * s.cout * n, n, 0, m + (size_t)xi * s.cin * n, n);
    for (int ci = 0; ci < s.cin; ci++)
        for (int f = 0; f < s.frames; f++) {
            float *dst = dx + ((size_t)ci * s.frames + f) * plane;
            for (int ty = 0; ty < half; ty++) {
                const size_t base = (size_t)ci * n + (size_t)f * tiles + (size_t)ty * half;
                for (int x = 0; x < half; x++) {
                    float e[16], s0[4], s1[4];
                    for (int xi = 0; xi < 16; xi++) e[xi] = m[(size_t)xi * s.cin * n + base + x];
                    for (int b = 0; b < 4; b++) {
                        s0[b] = e[b] + e[4 + b] + e[8 + b];
                        s1[b] = e[4 + b] - e[8 + b] - e[12 + b];
                    }
                    float *d0 = dst + 2 * ty * size + 2 * x, *d1 = d0 + size;
                    d0[0] = s0[0] + s0[1] + s0[2];
                    d0[1] = s0[1] - s0[2] - s0[3];
                    d1[0] = s1[0] + s1[1] + s1[2];
                    d1[1] = s1[1] - s1[2] - s1[3];
                }
            }
        }
}

int main(void) {
    // Spikformer-2-256 on DVS (batch 4 × T 16 = 64 frames): stages 1–3 and the RPE convolution.
    const Shape shapes[] = {{32, 64, 64, 16}, {64, 128, 32, 16}, {128, 256, 16, 32}, {256, 256, 8, 64}};
    srand(1);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const Shape s = shapes[i];
        const size_t plane = (size_t)s.size * s.size, n = (size_t)s.frames * plane / 4;
        float *w = malloc(sizeof(float) * s.cin * s.cout * 9), *dy = malloc(sizeof(float) * s.cout * s.frames * plane);
        float *a = malloc(sizeof(float) * s.cin * s.frames * plane), *b = malloc(sizeof(float) * s.cin * s.frames * plane);
        float *cols = malloc(sizeof(float) * s.cin * 9 * plane), *u = malloc(sizeof(float) * 16 * s.cin * s.cout);
        float *v = malloc(sizeof(float) * 16 * s.cout * n), *m = malloc(sizeof(float) * 16 * s.cin * n);
        for (int j = 0; j < s.cin * s.cout * 9; j++) w[j] = rand() / (float)RAND_MAX - 0.5f;
        for (size_t j = 0; j < (size_t)s.cout * s.frames * plane; j++) dy[j] = rand() / (float)RAND_MAX - 0.5f;
        double direct = 1e9, winograd = 1e9;
        for (int r = 0; r < 5; r++) {
            double t0 = now();
            im2colGradient(w, dy, s, a, cols);
            double t1 = now();
            winogradGradient(w, dy, s, b, u, v, m);
            double t2 = now();
            if (t1 - t0 < direct) direct = t1 - t0;
            if (t2 - t1 < winograd) winograd = t2 - t1;
        }
        double error = 0, scale = 0;
        for (size_t j = 0; j < (size_t)s.cin * s.frames * plane; j++) {
            if (fabs(a[j] - b[j]) > error) error = fabs(a[j] - b[j]);
            if (fabs(a[j]) > scale) scale = fabs(a[j]);
        }
        printf("conv %3d→%3d @%3d×%-3d ×%2d frames: im2col %6.2f ms, Winograd %6.2f ms (%.2f×), max |difference| %.1e of %.1e\n",
               s.cin, s.cout, s.size, s.size, s.frames, direct * 1e3, winograd * 1e3, direct / winograd, error, scale);
        free(w), free(dy), free(a), free(b), free(cols), free(u), free(v), free(m);
    }
    return 0;
}
