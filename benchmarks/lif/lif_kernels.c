// Times two builds of the LIF kernels (`before_*`, `after_*`, see run.sh) on the same rows,
// interleaved, and prints the medians: T = 8 time steps, `channels` rows of 8 × `block` values.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef int64_t (*backward_fn)(const float *, float, float, const float *, int64_t, int64_t, float, float, float, float,
                               float *, float *);
typedef int64_t (*forward_fn)(const float *, float, float, int64_t, int64_t, float, float, float, float *, int64_t *);
int64_t before_lifBackward(const float *, float, float, const float *, int64_t, int64_t, float, float, float, float, float *,
                           float *);
int64_t after_lifBackward(const float *, float, float, const float *, int64_t, int64_t, float, float, float, float, float *,
                          float *);
int64_t before_lifForward(const float *, float, float, int64_t, int64_t, float, float, float, float *, int64_t *);
int64_t after_lifForward(const float *, float, float, int64_t, int64_t, float, float, float, float *, int64_t *);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int ascending(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { rounds = 15, steps = 8 };

int main(int argc, char **argv) {
    if (argc != 3) return fprintf(stderr, "usage: lif BLOCK CHANNELS\n"), 2;
    const int64_t block = atol(argv[1]), channels = atol(argv[2]), row = steps * block, n = row * channels;
    float *x = aligned_alloc(64, n * 4), *g = aligned_alloc(64, n * 4), *out = aligned_alloc(64, n * 4);
    float *scratch = aligned_alloc(64, 128 * (steps + 1) * 4);
    for (int64_t i = 0; i < n; i++) {  // currents around the threshold, gradients of both signs
        x[i] = (float)((i * 2654435761u) % 1000) / 250.0f - 1.0f;
        g[i] = (float)((i * 40503u) % 1000) / 1000.0f - 0.5f;
    }
    double back[2][rounds], fwd[2][rounds];
    int64_t spikes;
    for (int r = 0; r < rounds; r++) {
        for (int side = 0; side < 2; side++) {
            const backward_fn backward = side ? after_lifBackward : before_lifBackward;
            const forward_fn forward = side ? after_lifForward : before_lifForward;
            float *target = side && IN_PLACE ? g : out;
            double t0 = now();
            for (int64_t c = 0; c < channels; c++)
                backward(x + c * row, 1.1f, 0.1f, g + c * row, steps, block, 0.5f, 0.5f, 1.0f, 4.0f, target + c * row, scratch);
            back[side][r] = now() - t0;
            t0 = now();
            for (int64_t c = 0; c < channels; c++)
                forward(x + c * row, 1.1f, 0.1f, steps, block, 0.5f, 0.5f, 1.0f, out + c * row, &spikes);
            fwd[side][r] = now() - t0;
        }
    }
    for (int side = 0; side < 2; side++) {
        qsort(back[side], rounds, sizeof(double), ascending);
        qsort(fwd[side], rounds, sizeof(double), ascending);
    }
    const int m = rounds / 2;
    printf("block %ld × %ld rows (%.0f MB per array): backward %.2f → %.2f ms (%.2f×), forward %.2f → %.2f ms (%.2f×)\n",
           (long)block, (long)channels, n * 4 / 1e6, back[0][m] * 1e3, back[1][m] * 1e3, back[0][m] / back[1][m],
           fwd[0][m] * 1e3, fwd[1][m] * 1e3, fwd[0][m] / fwd[1][m]);
    return 0;
}
