// Picks the best kernel variant for this CPU once, and forwards every call to it.
#include "CKernels.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CK_DECLARE(suffix)                                                                                            \
    CKernels_Inspection CKernels_inspect_##suffix(const float *, int64_t);                                          \
    void CKernels_transpose_##suffix(const float *, int64_t, int64_t, int64_t, float *, int64_t);                  \
    void CKernels_sparseLinearForward_##suffix(const float *, int64_t, int64_t, int64_t, int64_t, const float *,   \
                                               int64_t, const float *, float, float *, int64_t, float *);           \
    void CKernels_sparseLinearWeightGradient_##suffix(const float *, int64_t, int64_t, int64_t, int64_t,           \
                                                      const float *, int64_t, float *, float *);                    \
    void CKernels_sparseConv3x3Forward_##suffix(const float *, int64_t, int64_t, int64_t, int64_t, int64_t,        \
                                                int64_t, const float *, int64_t, float, float *, float *);          \
    void CKernels_directConv3x3_##suffix(const float *, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,       \
                                         const float *, int64_t, float, float *, float *);                          \
    void CKernels_sparseConv3x3WeightGradient_##suffix(const float *, int64_t, int64_t, int64_t, int64_t, int64_t, \
                                                       int64_t, const float *, int64_t, float *, float *);     \
    int32_t CKernels_binaryRows_##suffix(const float *, int64_t, int64_t, int64_t, uint64_t *);                   \
    void CKernels_countProducts_##suffix(const uint64_t *, const uint64_t *, int64_t, int64_t, float, float *);       \
    void CKernels_combineRows_##suffix(const float *, const float *, int64_t, int64_t, int64_t, float *);             \
    void CKernels_combineSpikeRows_##suffix(const float *, const float *, int64_t, int64_t, int64_t, float *, float *); \
    void CKernels_attentionProducts_##suffix(const float *, const float *, int64_t, int64_t, int64_t, float, float *, float *); \
    void CKernels_maxPool3x3_##suffix(const float *, int64_t, int64_t, float *, int32_t *, float *, int32_t *);       \
    int64_t CKernels_lifForward_##suffix(const float *, float, float, int64_t, int64_t, float, float, float, float *, int64_t *); \
    int64_t CKernels_lifBackward_##suffix(const float *, float, float, const float *, int64_t, int64_t, float, float,   \
                                          float, float, float, float, double *, float *, float *);                     \
    void CKernels_adamW_##suffix(float *, const float *, float *, float *, int64_t, float, float, float, float, float,  \
                                 float, float);

CK_DECLARE(generic)
#if defined(__x86_64__)
CK_DECLARE(avx2)
CK_DECLARE(avx512)
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static CKernels_ISA detected = CKernels_ISA_generic;
static volatile CKernels_ISA active = CKernels_ISA_generic;
static CKernels_ISA startup = CKernels_ISA_generic;

static CKernels_ISA parseISA(const char *name, CKernels_ISA fallback) {
    if (!name) return fallback;
    if (strcmp(name, "generic") == 0) return CKernels_ISA_generic;
    if (strcmp(name, "avx2") == 0) return CKernels_ISA_avx2;
    if (strcmp(name, "avx512") == 0) return CKernels_ISA_avx512;
    return fallback;
}

static void detect(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        detected = CKernels_ISA_avx512;
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        detected = CKernels_ISA_avx2;
    }
#endif
    // SPIKEQ_ISA=generic|avx2|avx512 lowers the choice (for comparisons); it never raises it.
    CKernels_ISA wanted = parseISA(getenv("SPIKEQ_ISA"), detected);
    active = wanted < detected ? wanted : detected;
    startup = active;
}

CKernels_ISA CKernels_detectedISA(void) {
    pthread_once(&once, detect);
    return detected;
}

CKernels_ISA CKernels_activeISA(void) {
    pthread_once(&once, detect);
    return active;
}

CKernels_ISA CKernels_startupISA(void) {
    pthread_once(&once, detect);
    return startup;
}

CKernels_ISA CKernels_useISA(CKernels_ISA isa) {
    pthread_once(&once, detect);
    active = isa < detected ? isa : detected;
    return active;
}

#if defined(__x86_64__)
#define CK_DISPATCH(call, ...)                                                                   \
    switch (CKernels_activeISA()) {                                                              \
    case CKernels_ISA_avx512: return CKernels_##call##_avx512(__VA_ARGS__);                      \
    case CKernels_ISA_avx2: return CKernels_##call##_avx2(__VA_ARGS__);                          \
    default: return CKernels_##call##_generic(__VA_ARGS__);                                      \
    }
#else
#define CK_DISPATCH(call, ...) return CKernels_##call##_generic(__VA_ARGS__);
#endif

CKernels_Inspection CKernels_inspect(const float *x, int64_t count) { CK_DISPATCH(inspect, x, count) }

void CKernels_transpose(const float *in, int64_t rows, int64_t columns, int64_t ldi, float *out, int64_t ldo) {
    CK_DISPATCH(transpose, in, rows, columns, ldi, out, ldo)
}

int64_t CKernels_sparseLinearScratch(int64_t inFeatures, int64_t outFeatures) {
    return 64 + 64 * inFeatures * 2 + 64 * outFeatures;
}

void CKernels_sparseLinearForward(const float *x, int64_t inFeatures, int64_t ldx, int64_t begin, int64_t end,
                                  const float *wt, int64_t outFeatures, const float *bias, float scale,
                                  float *y, int64_t ldy, float *scratch) {
    CK_DISPATCH(sparseLinearForward, x, inFeatures, ldx, begin, end, wt, outFeatures, bias, scale, y, ldy, scratch)
}

int64_t CKernels_sparseLinearWeightGradientScratch(int64_t outFeatures) {
    const int64_t tile = (65536 / (outFeatures > 0 ? outFeatures : 1)) & ~(int64_t)15;
    return (tile > 16 ? tile : 16) * (outFeatures + 2) + 32;  // + the slack of two compressed lists
}

void CKernels_sparseLinearWeightGradient(const float *x, int64_t length, int64_t tokenBegin, int64_t tokenEnd,
                                         int64_t inFeatures, const float *dy, int64_t outFeatures, float *dwt, float *scratch) {
    CK_DISPATCH(sparseLinearWeightGradient, x, length, tokenBegin, tokenEnd, inFeatures, dy, outFeatures, dwt, scratch)
}

int64_t CKernels_sparseConv3x3Scratch(int64_t inChannels, int64_t height, int64_t width, int64_t outChannels) {
    const int64_t plane = height * width;
    // Per pixel its event count, the frame's events, a tile's outputs, the tile's lists, their starts.
    return plane + 2 * (plane * inChannels + 16) + 64 * outChannels + 2 * (64 * 9 * inChannels + 16) + 64 + 1;
}

void CKernels_sparseConv3x3Forward(const float *x, int64_t inChannels, int64_t frames, int64_t height, int64_t width,
                                   int64_t frameBegin, int64_t frameEnd, const float *wt, int64_t outChannels, float scale,
                                   float *y, float *scratch) {
    CK_DISPATCH(sparseConv3x3Forward, x, inChannels, frames, height, width, frameBegin, frameEnd, wt, outChannels, scale, y,
                scratch)
}

int64_t CKernels_directConv3x3Scratch(int64_t inChannels, int64_t height, int64_t width) {
    // The channels' padded planes, then two lane masks per block of 16 positions.
    return inChannels * (height * width + 2 * width + 32) + 2 * ((height * width + 15) & ~(int64_t)15);
}

void CKernels_directConv3x3(const float *x, int64_t inChannels, int64_t frames, int64_t height, int64_t width,
                            int64_t frameBegin, int64_t frameEnd, const float *wt, int64_t outChannels, float scale,
                            float *y, float *scratch) {
    CK_DISPATCH(directConv3x3, x, inChannels, frames, height, width, frameBegin, frameEnd, wt, outChannels, scale, y, scratch)
}

int64_t CKernels_sparseConv3x3WeightGradientScratch(int64_t height, int64_t width, int64_t outChannels) {
    const int64_t plane = height * width;
    return (height + 2) * (width + 2) * outChannels + 2 * plane + 32;  // + the slack of two compressed lists
}

void CKernels_sparseConv3x3WeightGradient(const float *x, int64_t inChannels, int64_t frames, int64_t height,
                                          int64_t width, int64_t frameBegin, int64_t frameEnd, const float *dy,
                                          int64_t outChannels, float *dwt, float *scratch) {
    CK_DISPATCH(sparseConv3x3WeightGradient, x, inChannels, frames, height, width, frameBegin, frameEnd, dy, outChannels,
                dwt, scratch)
}

int32_t CKernels_binaryRows(const float *x, int64_t stride, int64_t rows, int64_t length, uint64_t *masks) {
    CK_DISPATCH(binaryRows, x, stride, rows, length, masks)
}

void CKernels_countProducts(const uint64_t *a, const uint64_t *b, int64_t rows, int64_t words, float scale, float *out) {
    CK_DISPATCH(countProducts, a, b, rows, words, scale, out)
}

void CKernels_combineRows(const float *rows, const float *c, int64_t stride, int64_t d, int64_t n, float *out) {
    CK_DISPATCH(combineRows, rows, c, stride, d, n, out)
}

void CKernels_combineSpikeRows(const float *rows, const float *c, int64_t stride, int64_t d, int64_t n, float *out, float *scratch) {
    CK_DISPATCH(combineSpikeRows, rows, c, stride, d, n, out, scratch)
}

void CKernels_attentionProducts(const float *a, const float *b, int64_t stride, int64_t d, int64_t n, float scale, float *bt,
                                float *out) {
    CK_DISPATCH(attentionProducts, a, b, stride, d, n, scale, bt, out)
}

void CKernels_maxPool3x3(const float *plane, int64_t height, int64_t width, float *out, int32_t *arguments, float *rowMax,
                         int32_t *rowArg) {
    CK_DISPATCH(maxPool3x3, plane, height, width, out, arguments, rowMax, rowArg)
}

int64_t CKernels_lifForward(const float *x, float a, float b, int64_t timeSteps, int64_t block, float decay, float gain,
                            float threshold, float *spikes, int64_t *spikeCount) {
    CK_DISPATCH(lifForward, x, a, b, timeSteps, block, decay, gain, threshold, spikes, spikeCount)
}

int64_t CKernels_lifBackward(const float *x, float a, float b, const float *g, int64_t timeSteps, int64_t block, float decay,
                             float gain, float threshold, float alpha, float mean, float inverseStd, double *sums, float *out,
                             float *scratch) {
    CK_DISPATCH(lifBackward, x, a, b, g, timeSteps, block, decay, gain, threshold, alpha, mean, inverseStd, sums, out, scratch)
}

void CKernels_adamW(float *w, const float *g, float *m, float *v, int64_t count, float beta1, float beta2, float learningRate,
                    float correction1, float correction2, float epsilon, float decay) {
    CK_DISPATCH(adamW, w, g, m, v, count, beta1, beta2, learningRate, correction1, correction2, epsilon, decay)
}
