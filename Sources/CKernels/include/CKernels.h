#ifndef CKERNELS_H
#define CKERNELS_H

// Event-driven (sparse-input) products of the spiking engine, in C so that each kernel can be
// compiled for several instruction sets in one binary and picked at run time by CPU features
// (AVX-512, AVX2 + FMA, or the x86-64 / AArch64 baseline). Only the Tensor module calls them.
//
// Every kernel computes exactly the same operations in the same order in every variant (no
// floating-point contraction), so results are bit-identical whichever variant runs. The one
// exception, `CKernels_wideProduct`, stands in for OpenBLAS's GEMM, whose bits differ between
// CPUs anyway.

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The instruction-set variants, best last.
typedef enum {
    CKernels_ISA_generic = 0,
    CKernels_ISA_avx2 = 1,
    CKernels_ISA_avx512 = 2,
} CKernels_ISA;

/// The best variant this CPU (and OS) supports.
CKernels_ISA CKernels_detectedISA(void);
/// The variant in use (the detected one unless lowered with `CKernels_useISA`).
CKernels_ISA CKernels_activeISA(void);
/// The variant chosen at start-up (the detected one, lowered by `SPIKEQ_ISA`), which
/// `CKernels_useISA` does not change. Choices that change results (whether the AVX-512-only wide
/// product and Winograd kernels run, or the direct convolution instead of GEMM) follow it, so a
/// comparison of variants in one thread cannot change another thread's results; the variants
/// themselves agree bit for bit.
CKernels_ISA CKernels_startupISA(void);
/// Uses `isa` if the CPU supports it (else the detected one) for the kernels that come in
/// variants; returns the variant now in use.
CKernels_ISA CKernels_useISA(CKernels_ISA isa);

/// What a product needs to know about its input before choosing a path.
typedef struct {
    int64_t nonZero;
    float maxAbs;
    /// 1 when every element is an integer (so integer weight levels times it are exact).
    int32_t integral;
    /// Sum of the elements (float partial sums of at most 64 per lane, added in double).
    double sum;
    /// 1 when no element is negative.
    int32_t nonNegative;
} CKernels_Inspection;

/// Counts the non-zero elements of `x[0..<count]`, their largest magnitude and sum, and whether all are integers.
CKernels_Inspection CKernels_inspect(const float *x, int64_t count);

/// 1 when `CKernels_levelProduct` runs on AVX-512 VNNI integer dot products (the CPU has them and
/// the active variant is avx512); otherwise it runs portable C, with the same results.
int32_t CKernels_hasIntegerDotProducts(void);

/// Bytes of scratch `CKernels_levelProduct` needs (one packed tile of 128 tokens).
int64_t CKernels_levelProductScratch(int64_t inFeatures);

/// `y[o·ldy + t] = (float)(Σ_i levels[o·4⌈inFeatures/4⌉ + i]·x[i·ldx + t])·scale (+ bias[o])` for
/// tokens t in [begin, end), summed exactly in 32-bit integers. `levels` are int8 rows zero-padded
/// to a multiple of 4; `x` must hold integers in 0...255 (spikes, spike counts).
void CKernels_levelProduct(const float *x, int64_t inFeatures, int64_t ldx, int64_t begin, int64_t end, const int8_t *levels,
                           int64_t outFeatures, const float *bias, float scale, float *y, int64_t ldy, uint8_t *scratch);

/// The same product for a 3×3 convolution with padding 1, reading the patches straight from its
/// input instead of an im2col copy: feature `c·9 + tap` of position p (0 ≤ p < frames·height·width,
/// `total` of them per channel) is `x[c·total + p + ky·width + kx]` (ky, kx = tap/3 − 1, tap%3 − 1)
/// when that neighbour lies inside p's image, else 0. Writes `y[o·total + p]` for p in [begin, end).
/// Uses `CKernels_levelProductScratch(inChannels·9)` bytes of scratch.
void CKernels_patchLevelProduct(const float *x, int64_t inChannels, int64_t total, int64_t height, int64_t width,
                                int64_t begin, int64_t end, const int8_t *levels, int64_t outFeatures, float scale, float *y,
                                uint8_t *scratch);

/// 1 when `CKernels_wideProduct` runs (the start-up variant is avx512); callers use BLAS otherwise.
int32_t CKernels_hasWideProduct(void);

/// `C[i·ldc + j] (+)= Σ_o op(A)[i, o]·B[o·ldb + j]` for `i < m`, `j` in [begin, end): a dense product
/// whose B has many columns, summed over `o` in order with fused multiply-adds, 8 rows × 48
/// columns at a time in registers. `op(A)[i, o]` is `a[i·lda + o]`, or `a[o·lda + i]` when
/// `transposeA`. With `add` each sum is then added to C's value, else it replaces it. AVX-512 only.
void CKernels_wideProduct(int32_t transposeA, const float *a, int64_t lda, int64_t m, int64_t k, const float *b,
                          int64_t ldb, float *c, int64_t ldc, int64_t begin, int64_t end, int32_t add);

/// `CKernels_directConv3x3`'s product (same arguments and layout, no scratch) by Winograd's
/// F(2×2, 3×3): 16 instead of 36 multiplications per 2×2 outputs and input channel, the channel
/// sums taken by `CKernels_wideProduct`. Sums are regrouped, so results differ from the direct
/// kernel's within float rounding. AVX-512 only: call it where `CKernels_hasWideProduct()`.
void CKernels_winogradConv3x3(const float *x, int64_t cin, int64_t frames, int64_t height, int64_t width, int64_t frameBegin,
                              int64_t frameEnd, const float *wt, int64_t cout, float scale, float *y);

/// `out[c·ldo + r] = in[r·ldi + c]` for `r < rows`, `c < columns` (blocked transpose).
void CKernels_transpose(const float *in, int64_t rows, int64_t columns, int64_t ldi, float *out, int64_t ldo);

/// Scratch floats (4-byte elements) `CKernels_sparseLinearForward` needs.
int64_t CKernels_sparseLinearScratch(int64_t inFeatures, int64_t outFeatures);

/// Event-driven `Y = scale·(W·X) + bias` over channel-major tokens, for tokens `begin..<end`.
///
/// - `x`: `[inFeatures, ldx]` (row i = feature i over all tokens); only non-zero entries are read twice.
/// - `wt`: the weight transposed, `[inFeatures, outFeatures]`.
/// - `bias`: `outFeatures` values or NULL.
/// - `y`: `[outFeatures, ldy]`; tokens `begin..<end` of every row are written.
/// - `scratch`: `CKernels_sparseLinearScratch(...)` floats, private to the caller.
/// For each token, the products of its non-zero inputs are added in increasing feature order.
void CKernels_sparseLinearForward(const float *x, int64_t inFeatures, int64_t ldx, int64_t begin, int64_t end,
                                  const float *wt, int64_t outFeatures, const float *bias, float scale,
                                  float *y, int64_t ldy, float *scratch);

/// Scratch floats (4-byte elements) `CKernels_sparseLinearWeightGradient` needs.
int64_t CKernels_sparseLinearWeightGradientScratch(int64_t outFeatures);

/// Event-driven weight gradient `dWᵀ[i, :] = Σ_n X[i, n]·dY[:, n]` over the non-zero `X[i, n]` of
/// tokens `tokenBegin..<tokenEnd`. Tokens are taken in tiles (64 Ki floats of dY, copied
/// token-major), in increasing order within a tile; the tiles' sums are added in order.
///
/// - `x`: `[inFeatures, length]`; `dy`: `[outFeatures, length]` (channel-major).
/// - `dwt`: `[inFeatures, outFeatures]`, overwritten (zeros for an empty token range).
/// - `scratch`: `CKernels_sparseLinearWeightGradientScratch(outFeatures)` floats, private to the caller.
void CKernels_sparseLinearWeightGradient(const float *x, int64_t length, int64_t tokenBegin, int64_t tokenEnd,
                                         int64_t inFeatures, const float *dy, int64_t outFeatures, float *dwt, float *scratch);

/// Scratch floats (4-byte elements) `CKernels_sparseConv3x3Forward` needs.
int64_t CKernels_sparseConv3x3Scratch(int64_t inChannels, int64_t height, int64_t width, int64_t outChannels);

/// Event-driven 3×3 convolution (stride 1, padding 1), `Y = scale·conv(X, W)`, channel-major
/// `[C, F, H, W]`, for frames `frameBegin..<frameEnd`.
///
/// - `wt`: the weight as `[inChannels·9, outChannels]` (row `c·9 + ky·3 + kx`).
/// Per frame, the non-zero channels of every input pixel are listed; each output pixel then adds
/// the weight rows of its neighbours' events, taps in row-major order, channels increasing.
void CKernels_sparseConv3x3Forward(const float *x, int64_t inChannels, int64_t frames, int64_t height, int64_t width,
                                   int64_t frameBegin, int64_t frameEnd, const float *wt, int64_t outChannels, float scale,
                                   float *y, float *scratch);

/// Scratch floats (4-byte elements) `CKernels_directConv3x3` needs.
int64_t CKernels_directConv3x3Scratch(int64_t inChannels, int64_t height, int64_t width);

/// Dense 3×3 convolution (stride 1, padding 1) without im2col, `Y = scale·conv(X, W)`,
/// channel-major `[C, F, H, W]`, for frames `frameBegin..<frameEnd`: per frame the input planes
/// are copied between zero rows, then 16 consecutive positions (of any row width) of up to 16
/// output channels are summed in registers, over input channels, then taps in row-major order.
///
/// - `wt`: the weight as `[inChannels·9, outChannels]` (row `c·9 + ky·3 + kx`).
/// - `y`: `[outChannels, frames, height, width]`; the frames' positions are overwritten.
/// - `scratch`: `CKernels_directConv3x3Scratch(...)` floats, private to the caller.
void CKernels_directConv3x3(const float *x, int64_t inChannels, int64_t frames, int64_t height, int64_t width,
                            int64_t frameBegin, int64_t frameEnd, const float *wt, int64_t outChannels, float scale,
                            float *y, float *scratch);

/// Scratch floats (4-byte elements) `CKernels_sparseConv3x3WeightGradient` needs.
int64_t CKernels_sparseConv3x3WeightGradientScratch(int64_t height, int64_t width, int64_t outChannels);

/// Event-driven weight gradient of the 3×3 convolution (stride 1, padding 1) over frames
/// `frameBegin..<frameEnd`: `dWᵀ[c·9 + tap, :] += Σ X[c, f, p]·dY[:, f, p − offset(tap)]` over the
/// non-zero inputs. A frame goes in bands of rows: dY around the band is copied pixel-major into
/// a zero-bordered buffer of at most CKERNELS_CONV_BAND_FLOATS floats, which stays in L2; each
/// input channel's events in the band then add their nine neighbours' rows into registers.
///
/// - `x`: `[inChannels, frames, height, width]`; `dy`: `[outChannels, frames, height, width]`.
/// - `dwt`: `[inChannels·9, outChannels]`, added to (events in frame, band, then position order;
///   one band's sums added at a time).
/// - `scratch`: `CKernels_sparseConv3x3WeightGradientScratch(...)` floats, private to the caller.
void CKernels_sparseConv3x3WeightGradient(const float *x, int64_t inChannels, int64_t frames, int64_t height,
                                          int64_t width, int64_t frameBegin, int64_t frameEnd, const float *dy,
                                          int64_t outChannels, float *dwt, float *scratch);

/// Bit masks of `rows` rows of `length` values (row r at `x + r·stride`): bit t of word w of row
/// r's `(length + 63) / 64` words is set when `x[r][64·w + t] != 0`. Returns 1 when every value is
/// 0 or 1 (spikes), 0 otherwise (the masks are then of no use for products).
int32_t CKernels_binaryRows(const float *x, int64_t stride, int64_t rows, int64_t length, uint64_t *masks);

/// `out[i·rows + j] = scale·popcount(a_i ∧ b_j)` for binary rows given as bit masks of `words`
/// words each: the products of two spike matrices, counted exactly.
void CKernels_countProducts(const uint64_t *a, const uint64_t *b, int64_t rows, int64_t words, float scale, float *out);

/// `out_o[t] = Σ_i c[o·d + i]·rows_i[t]` for `o, i < d`, `t < n` (`rows_i = rows + i·stride`,
/// `out_o = out + o·stride`): each output row a combination of the `d` input rows, as in spiking
/// self-attention's `M·V` and its gradients. Every sum starts at 0 and adds `c·row` over `i` in
/// order, so all variants give the same bits.
void CKernels_combineRows(const float *rows, const float *c, int64_t stride, int64_t d, int64_t n, float *out);

/// `CKernels_combineRows` when every `rows_i[t]` is 0 or 1 (spikes): the same bits, summing only the
/// firing tokens' coefficients. `scratch` holds `(d + 16)·⌈d/16⌉·16` floats.
void CKernels_combineSpikeRows(const float *rows, const float *c, int64_t stride, int64_t d, int64_t n, float *out, float *scratch);

/// `out[i·d + j] = scale · Σ_t a_i[t]·b_j[t]` for rows `a_i = a + i·stride`, `b_j = b + j·stride`
/// (`t < n`): spiking self-attention's `KᵀV` when K or V is not binary, and `Q·dYᵀ`. `b` is
/// transposed into `bt` (`n·d` floats) so that row i is a sum of d-wide rows of `bt`, over the
/// tokens where `a_i` is non-zero (a is a spike tensor), in token order; then scaled.
void CKernels_attentionProducts(const float *a, const float *b, int64_t stride, int64_t d, int64_t n, float scale, float *bt,
                                float *out);

/// Max pooling of one `height × width` plane with a 3×3 window, stride 2 and padding 1 (padding
/// never wins) into `out` (`oh × ow`, `oh = (height − 1)/2 + 1`, the same for `ow`). Ties go to the
/// first maximum in row-major window order, as in PyTorch; `arguments` (when not NULL) receives the
/// plane index of each output's element. Separable: `rowMax` and `rowArg` (`height · ow` each) hold
/// every row's maximum over its 3 columns.
void CKernels_maxPool3x3(const float *plane, int64_t height, int64_t width, float *out, int32_t *arguments, float *rowMax,
                         int32_t *rowArg);

/// Positions of a LIF row that the kernels below take through all T steps together: enough
/// independent neurons to hide the recurrence's latency, few enough that their state stays in L1.
#define CKERNELS_LIF_CHUNK 128

/// The convolution event weight gradient's band of dY (floats): a band of rows at a time, so that
/// the rows its events read stay in L2.
#define CKERNELS_CONV_BAND_FLOATS 65536

/// The LIF forward pass (Heaviside spike, hard reset to 0) over positions `[0, returned)` of one
/// channel's row `x` (T blocks of `block` inputs, BatchNorm folded into `a·x + b`), a multiple of 16:
/// `H = decay·V + gain·(a·x + b)`, spike where `H ≥ threshold`, then `V = H` or 0. The caller
/// computes the remaining positions with the same operations. Positions go in chunks of
/// CKERNELS_LIF_CHUNK, each step over the whole chunk, so every neuron's chain runs beside others.
/// `*spikeCount` receives the number of spikes written (at most 2³¹ per row).
int64_t CKernels_lifForward(const float *x, float a, float b, int64_t timeSteps, int64_t block, float decay, float gain,
                            float threshold, float *spikes, int64_t *spikeCount);

/// The backward pass of a LIF neuron (Heaviside spike, hard reset detached from the graph, sigmoid
/// surrogate) over one channel's row, for positions `[0, returned)`, a multiple of 16; the caller
/// finishes the rest. Input `x[t·block + p]` is mapped to `a·x + b` as in the forward pass, whose
/// membrane potentials are recomputed, a chunk of CKERNELS_LIF_CHUNK positions at a time as there;
/// `g` is dL/dS, `out` receives dL/d(a·x + b) and may be `g` (each position is read before it is
/// written). `scratch`: `CKERNELS_LIF_CHUNK·(timeSteps + 1)` floats. Operation for operation as
/// SpikingNN's `LIFNeuron.backwardRow`, so every variant and the Swift lanes agree bit for bit.
///
/// When `sums` is not NULL, BatchNorm's gradient sums over the positions done are added to it:
/// `sums[0] += Σ out`, `sums[1] += Σ out·(x − mean)·inverseStd`, in float lanes over a chunk and
/// in double across chunks, so the BatchNorm backward pass needs no pass of its own to take them.
int64_t CKernels_lifBackward(const float *x, float a, float b, const float *g, int64_t timeSteps, int64_t block, float decay,
                             float gain, float threshold, float alpha, float mean, float inverseStd, double *sums, float *out,
                             float *scratch);

/// One AdamW step (PyTorch's order of operations) over `count` parameters `w` with gradients `g`
/// and moments `m`, `v`, updated in place: `m = β₁m + (1 − β₁)g`, `v = β₂v + (1 − β₂)g²`,
/// `w = w·decay − lr·(m / correction1) / (√(v / correction2) + ε)`.
void CKernels_adamW(float *w, const float *g, float *m, float *v, int64_t count, float beta1, float beta2, float learningRate,
                    float correction1, float correction2, float epsilon, float decay);

#ifdef __cplusplus
}
#endif

#endif
