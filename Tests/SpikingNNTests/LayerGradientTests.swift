import Seeding
import SpikingNN
import Tensor
import TestSupport
import Testing

struct LayerGradientTests {
    /// Output `(o, f, y, x)` of a 3×3 convolution (padding 1) of `x` `[C, F, H, W]` with `w`
    /// `[out, C, 3, 3]`, summed in Float over channels, then taps in row-major order.
    static func directSum(_ x: Tensor, _ w: Tensor, inChannels: Int, frames: Int, height: Int, width: Int,
                          o: Int, f: Int, y: Int, x column: Int) -> Float {
        var sum: Float = 0
        for c in 0..<inChannels {
            for ky in 0..<3 {
                for kx in 0..<3 {
                    let (sy, sx) = (y + ky - 1, column + kx - 1)
                    guard (0..<height).contains(sy), (0..<width).contains(sx) else { continue }
                    sum += w[flat: ((o * inChannels + c) * 3 + ky) * 3 + kx] * x[flat: ((c * frames + f) * height + sy) * width + sx]
                }
            }
        }
        return sum
    }

    @Test func conv2dForwardMatchesDirectConvolution() {
        var rng = SeededGenerator(seed: 1)
        let conv = Conv2d(name: "c", inChannels: 2, outChannels: 3, height: 5, width: 4, generator: &rng)
        let x = GradientCheck.random([2, 3, 5, 4], &rng)
        let y = conv.forward(x, training: false)
        let w = conv.weight.value
        for o in 0..<3 {
            for f in 0..<3 {
                for yy in 0..<5 {
                    for xx in 0..<4 {
                        let expected = Self.directSum(x, w, inChannels: 2, frames: 3, height: 5, width: 4, o: o, f: f, y: yy, x: xx)
                        #expect(isClose(y[flat: ((o * 3 + f) * 5 + yy) * 4 + xx], expected, relative: 1e-5, absolute: 1e-5))
                    }
                }
            }
        }
    }

    @Test func conv2dGradients() {
        var rng = SeededGenerator(seed: 2)
        let conv = Conv2d(name: "c", inChannels: 2, outChannels: 3, height: 4, width: 5, generator: &rng)
        let x = GradientCheck.random([2, 2, 4, 5], &rng)
        let r = GradientCheck.random([3, 2, 4, 5], &rng)
        _ = conv.forward(x, training: true)
        let dx = conv.backward(r)!
        let dw = conv.weight.gradient!
        GradientCheck.expectMatches(dx, at: x, indices: GradientCheck.sample(x.count, 16, &rng), eps: 1e-2, "dx") { xp in
            GradientCheck.project(conv.forward(xp, training: false), r)
        }
        GradientCheck.expectMatches(dw, at: conv.weight.value, indices: GradientCheck.sample(dw.count, 16, &rng), eps: 1e-2, "dW") { wp in
            conv.weight.value = wp
            return GradientCheck.project(conv.forward(x, training: false), r)
        }
    }

    @Test func conv2dRowBandTilesMatchDirectSum() {
        // 64×64 planes are split into row bands (72·9 = 648 patch rows; 512 columns, 8 rows, per
        // tile). 72 input and 132 output channels keep both directions on im2col and GEMM: the
        // direct kernel sums up to 64 channels forward and 128 backward.
        var rng = SeededGenerator(seed: 3)
        let conv = Conv2d(name: "c", inChannels: 72, outChannels: 132, height: 64, width: 64, generator: &rng)
        let x = GradientCheck.binary([72, 5, 64, 64], &rng)
        let y = conv.forward(x, training: false)
        #expect(conv.tiles(frames: 0..<5).count > 5)
        // Check outputs on band edges against the direct sum.
        let w = conv.weight.value
        for (f, yy, xx) in [(4, 10, 20), (0, 0, 0), (2, 63, 63), (3, 27, 5), (3, 28, 5), (1, 56, 40), (1, 57, 40)] {
            let expected = Self.directSum(x, w, inChannels: 72, frames: 5, height: 64, width: 64, o: 2, f: f, y: yy, x: xx)
            #expect(isClose(y[flat: ((2 * 5 + f) * 64 + yy) * 64 + xx], expected, relative: 1e-5, absolute: 1e-5))
        }
        // Backward across bands against finite differences of a linear loss.
        let r = GradientCheck.random(y.shape, &rng)
        _ = conv.forward(x, training: true)
        let dx = conv.backward(r)!
        GradientCheck.expectMatches(dx, at: x, indices: [((3 * 5 + 2) * 64 + 28) * 64 + 7, ((0 * 5 + 4) * 64 + 29) * 64 + 63, 17],
                                    eps: 1e-1, relative: 1e-3, absolute: 1e-3, "dx") { xp in
            GradientCheck.project(conv.forward(xp, training: false), r)
        }
    }

    /// Few channels: on AVX-512 both directions take the direct kernel (im2col and GEMM elsewhere
    /// and for the wide layers of the row-band test). 20 columns: vectors of 16 positions cross
    /// rows; 21 output channels: blocks of 16, 4 and 1.
    @Test func conv2dDirectPathMatchesSumsAndFiniteDifferences() {
        var rng = SeededGenerator(seed: 5)
        let (cin, cout, frames, height, width) = (6, 21, 3, 5, 20)
        let conv = Conv2d(name: "c", inChannels: cin, outChannels: cout, height: height, width: width, generator: &rng)
        let x = GradientCheck.random([cin, frames, height, width], &rng)
        let y = conv.forward(x, training: false)
        let w = conv.weight.value
        for o in [0, 15, 16, 20] {
            for f in 0..<frames {
                for yy in [0, 2, height - 1] {
                    for xx in [0, 7, 15, 16, width - 1] {
                        let expected = Self.directSum(x, w, inChannels: cin, frames: frames, height: height, width: width,
                                                      o: o, f: f, y: yy, x: xx)
                        #expect(isClose(y[flat: ((o * frames + f) * height + yy) * width + xx], expected, relative: 1e-5, absolute: 1e-5),
                                "y[\(o), \(f), \(yy), \(xx)]")
                    }
                }
            }
        }
        let r = GradientCheck.random(y.shape, &rng)
        _ = conv.forward(x, training: true)
        let dx = conv.backward(r)!
        GradientCheck.expectMatches(dx, at: x, indices: GradientCheck.sample(x.count, 24, &rng) + [0, width - 1, x.count - 1],
                                    eps: 1e-2, "dx") { xp in
            GradientCheck.project(conv.forward(xp, training: false), r)
        }
    }

    /// The input gradient's Winograd path (`ProductCrossover.winogradGradient`) against finite
    /// differences: 64 output channels summed over rows of 33 positions (an odd width, so the last
    /// tile of each row is partial), then 160 (more than the direct kernel takes, so Winograd
    /// replaces col2im) over planes 16 and 7 wide, whose groups take 2 and 4 rows of tiles.
    @Test(.enabled(if: ConvolutionKernels.hasWinograd, "the Winograd kernel needs AVX-512"),
          arguments: [(3, 64, 2, 5, 33), (2, 160, 3, 6, 16), (3, 160, 2, 7, 7)])
    func conv2dWinogradInputGradientMatchesFiniteDifferences(shape: (Int, Int, Int, Int, Int)) {
        var rng = SeededGenerator(seed: 8)
        let (cin, cout, frames, height, width) = shape
        let conv = Conv2d(name: "c", inChannels: cin, outChannels: cout, height: height, width: width, generator: &rng)
        let x = GradientCheck.random([cin, frames, height, width], &rng)
        let y = conv.forward(x, training: true)
        let r = GradientCheck.random(y.shape, &rng)
        let dx = conv.backward(r)!
        GradientCheck.expectMatches(dx, at: x, indices: GradientCheck.sample(x.count, 24, &rng) + [0, width - 1, x.count - 1],
                                    eps: 1e-2, "dx") { xp in
            GradientCheck.project(conv.forward(xp, training: false), r)
        }
    }

    @Test func tokenLinearGradients() {
        var rng = SeededGenerator(seed: 4)
        let linear = TokenLinear(name: "l", inFeatures: 5, outFeatures: 3, bias: true, tokens: 4, generator: &rng)
        let x = GradientCheck.random([5, 2, 4], &rng)
        let r = GradientCheck.random([3, 2, 4], &rng)
        _ = linear.forward(x, training: true)
        let dx = linear.backward(r)!
        GradientCheck.expectMatches(dx, at: x, indices: Array(0..<x.count), eps: 1e-2, "dx") { xp in
            GradientCheck.project(linear.forward(xp, training: false), r)
        }
        GradientCheck.expectMatches(linear.weight.gradient!, at: linear.weight.value, indices: Array(0..<15), eps: 1e-2, "dW") { wp in
            linear.weight.value = wp
            return GradientCheck.project(linear.forward(x, training: false), r)
        }
        GradientCheck.expectMatches(linear.bias!.gradient!, at: linear.bias!.value, indices: Array(0..<3), eps: 1e-2, "db") { bp in
            linear.bias!.value = bp
            return GradientCheck.project(linear.forward(x, training: false), r)
        }
    }

    @Test func batchNormGradientsAndStatistics() {
        var rng = SeededGenerator(seed: 5)
        let bn = BatchNorm(name: "bn", channels: 3)
        bn.weight.value = Tensor(shape: [3], scalars: [0.5, 1.5, -1])
        bn.bias.value = Tensor(shape: [3], scalars: [0.1, 0, 0.3])
        let x = GradientCheck.random([3, 4, 5], &rng, scale: 2)
        let r = GradientCheck.random([3, 4, 5], &rng)
        let y = bn.forward(x, training: true)
        // Normalised per channel: mean β, std |γ|.
        for c in 0..<3 {
            let row = (0..<20).map { Double(y[flat: c * 20 + $0]) }
            let mean = row.reduce(0, +) / 20
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 20
            #expect(isClose(mean, Double(bn.bias.value[flat: c]), relative: 1e-4, absolute: 1e-5))
            #expect(isClose(variance.squareRoot(), Double(abs(bn.weight.value[flat: c])), relative: 1e-3))
        }
        // Running statistics: 0.9·init + 0.1·batch (unbiased variance).
        let row0 = (0..<20).map { Double(x[flat: $0]) }
        let mean0 = row0.reduce(0, +) / 20
        let unbiased0 = row0.map { ($0 - mean0) * ($0 - mean0) }.reduce(0, +) / 19
        #expect(isClose(Double(bn.runningMean.value[flat: 0]), 0.1 * mean0, relative: 1e-4, absolute: 1e-6))
        #expect(isClose(Double(bn.runningVar.value[flat: 0]), 0.9 + 0.1 * unbiased0, relative: 1e-4))

        let dx = bn.backward(r)
        let (dGamma, dBeta) = (bn.weight.gradient!, bn.bias.gradient!)
        let (running, runningVar) = (bn.runningMean.value, bn.runningVar.value)
        func loss(_ xp: Tensor) -> Double {
            let out = GradientCheck.project(bn.forward(xp, training: true), r)
            bn.runningMean.value = running
            bn.runningVar.value = runningVar
            return out
        }
        GradientCheck.expectMatches(dx, at: x, indices: Array(0..<x.count), eps: 1e-2, relative: 2e-2, absolute: 2e-3, "dx", loss)
        GradientCheck.expectMatches(dGamma, at: bn.weight.value, indices: [0, 1, 2], eps: 1e-2, "dγ") { g in
            bn.weight.value = g
            return loss(x)
        }
        GradientCheck.expectMatches(dBeta, at: bn.bias.value, indices: [0, 1, 2], eps: 1e-2, "dβ") { b in
            bn.bias.value = b
            return loss(x)
        }
        // Evaluation uses the running statistics.
        let evalOut = bn.forward(x, training: false)
        let expected = (x[flat: 0] - running[flat: 0]) / (runningVar[flat: 0] + 1e-5).squareRoot() * bn.weight.value[flat: 0] + bn.bias.value[flat: 0]
        #expect(isClose(evalOut[flat: 0], expected, relative: 1e-5))
    }

    @Test func maxPoolPicksFirstMaximumAndRoutesGradient() {
        // One 4×4 plane of binary values; windows 3×3, stride 2, padding 1 → 2×2.
        let x = Tensor(shape: [1, 1, 4, 4], scalars: [
            0, 1, 1, 0,
            0, 0, 0, 1,
            1, 0, 0, 0,
            0, 0, 0, 0,
        ])
        let pool = MaxPool2d()
        let y = pool.forward(x, training: true)
        #expect(y.shape == [1, 1, 2, 2])
        #expect(y.scalars == [1, 1, 1, 1])
        let dx = pool.backward(Tensor(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4]))
        // Window (0,0): rows 0–1, cols 0–1 → first max at (0,1). (0,1): rows 0–1, cols 1–3 → (0,1).
        // (1,0): rows 1–3, cols 0–1 → (2,0). (1,1): rows 1–3, cols 1–3 → (1,3).
        var expected = [Float](repeating: 0, count: 16)
        expected[1] = 1 + 2
        expected[8] = 3
        expected[7] = 4
        #expect(dx.scalars == expected)
    }

    @Test func maxPoolGradientOnRealValues() {
        var rng = SeededGenerator(seed: 6)
        let pool = MaxPool2d()
        let x = GradientCheck.random([2, 2, 5, 6], &rng)
        let y = pool.forward(x, training: true)
        #expect(y.shape == [2, 2, 3, 3])
        let r = GradientCheck.random(y.shape, &rng)
        let dx = pool.backward(r)
        GradientCheck.expectMatches(dx, at: x, indices: Array(0..<x.count), eps: 1e-3, "dx") { xp in
            GradientCheck.project(pool.forward(xp, training: false), r)
        }
    }

    @Test func attentionProductGradients() {
        var rng = SeededGenerator(seed: 7)
        let attention = SpikingSelfAttention(prefix: "a", dimension: 8, heads: 2, tokens: 5, timeSteps: 1, generator: &rng)
        let shape = [8, 3, 5]
        let q = GradientCheck.random(shape, &rng)
        let k = GradientCheck.random(shape, &rng)
        let v = GradientCheck.random(shape, &rng)
        let r = GradientCheck.random(shape, &rng)
        let (y, products) = attention.attend(q: q, k: k, v: v, keepProducts: true)
        // Direct formula for one frame and head: y[j,n] = 0.125 Σ_i Σ_m K[i,m] V[j,m] Q[i,n].
        let (f, h, j, n) = (1, 1, 2, 3)
        var direct: Float = 0
        for i in 0..<4 {
            var m: Float = 0
            for t in 0..<5 { m += k[flat: ((h * 4 + i) * 3 + f) * 5 + t] * v[flat: ((h * 4 + j) * 3 + f) * 5 + t] }
            direct += m * q[flat: ((h * 4 + i) * 3 + f) * 5 + n]
        }
        #expect(isClose(y[flat: ((h * 4 + j) * 3 + f) * 5 + n], direct * 0.125, relative: 1e-5, absolute: 1e-6))
        let (dq, dk, dv) = attention.attendBackward(r, q: q, k: k, v: v, products: products!)
        let indices = GradientCheck.sample(q.count, 20, &rng)
        GradientCheck.expectMatches(dq, at: q, indices: indices, eps: 1e-2, "dQ") { GradientCheck.project(attention.attend(q: $0, k: k, v: v, keepProducts: false).0, r) }
        GradientCheck.expectMatches(dk, at: k, indices: indices, eps: 1e-2, "dK") { GradientCheck.project(attention.attend(q: q, k: $0, v: v, keepProducts: false).0, r) }
        GradientCheck.expectMatches(dv, at: v, indices: indices, eps: 1e-2, "dV") { GradientCheck.project(attention.attend(q: q, k: k, v: $0, keepProducts: false).0, r) }
    }
}

extension LayerGradientTests {
    /// The separable pool against a direct window scan (first maximum in row-major order), on
    /// binary input full of ties and odd sizes, under every instruction-set variant this CPU has
    /// (even widths from 34 on also take the 16-lane path in the middle of rows, and 32 × 32 across
    /// row ends).
    @Test(arguments: [(7, 9), (8, 8), (5, 6), (32, 32), (9, 40), (6, 34), (33, 20)])
    func maxPoolMatchesDirectWindowScan(height: Int, width: Int) {
        defer { EventKernels.useInstructionSet(EventKernels.detectedInstructionSet) }
        for variant in ["generic", "avx2", "avx512"] where EventKernels.useInstructionSet(variant) == variant {
            maxPoolMatchesDirectWindowScan(height: height, width: width, variant: variant)
        }
    }

    private func maxPoolMatchesDirectWindowScan(height: Int, width: Int, variant: String) {
        var rng = SeededGenerator(seed: 61)
        let x = GradientCheck.binary([2, 3, height, width], &rng, rate: 0.3)
        let pool = MaxPool2d()
        let y = pool.forward(x, training: true)
        let (oh, ow) = (MaxPool2d.outputSize(height), MaxPool2d.outputSize(width))
        var expectedGradient = [Float](repeating: 0, count: x.count)
        let dy = GradientCheck.random(y.shape, &rng)
        for plane in 0..<6 {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var best = -Float.infinity
                    var bestIndex = 0
                    for yy in max(0, 2 * oy - 1)..<min(height, 2 * oy + 2) {
                        for xx in max(0, 2 * ox - 1)..<min(width, 2 * ox + 2) where x[flat: plane * height * width + yy * width + xx] > best {
                            best = x[flat: plane * height * width + yy * width + xx]
                            bestIndex = yy * width + xx
                        }
                    }
                    let o = plane * oh * ow + oy * ow + ox
                    #expect(y[flat: o] == best, "\(variant)")
                    expectedGradient[plane * height * width + bestIndex] += dy[flat: o]
                }
            }
        }
        let dx = pool.backward(dy)
        #expect(firstMismatch(dx.scalars, expectedGradient, relative: 1e-6, absolute: 1e-7) == nil, "\(variant)")
        #expect(pool.forward(x, training: false) == y, "\(variant)")
    }

    /// On spikes the attention adds only the firing tokens' terms (``EventKernels/combineSpikeRows``):
    /// its output and gradients against the formulas, summed directly in Double.
    @Test func attentionOnSpikesMatchesTheFormulas() {
        var rng = SeededGenerator(seed: 8)
        let attention = SpikingSelfAttention(prefix: "a", dimension: 8, heads: 2, tokens: 5, timeSteps: 1, generator: &rng)
        let shape = [8, 3, 5]
        func spikes() -> Tensor { Tensor(shape: shape, scalars: (0..<120).map { _ in rng.nextUnitFloat() < 0.4 ? 1 : 0 }) }
        let (q, k, v) = (spikes(), spikes(), spikes())
        let dy = GradientCheck.random(shape, &rng)
        let (y, products) = attention.attend(q: q, k: k, v: v, keepProducts: true)
        let (_, dk, dv) = attention.attendBackward(dy, q: q, k: k, v: v, products: products!)
        // Told that the rows are spikes, it skips the checks and gives the same bits.
        let (told, toldProducts) = attention.attend(q: q, k: k, v: v, keepProducts: true, spikes: true)
        let (_, toldDK, toldDV) = attention.attendBackward(dy, q: q, k: k, v: v, products: toldProducts!, spikes: true)
        #expect(told.scalars == y.scalars && toldDK.scalars == dk.scalars && toldDV.scalars == dv.scalars)
        func at(_ x: Tensor, _ h: Int, _ c: Int, _ f: Int, _ t: Int) -> Double { Double(x[flat: ((h * 4 + c) * 3 + f) * 5 + t]) }
        for h in 0..<2 {
            for f in 0..<3 {
                var m = [[Double]](repeating: [Double](repeating: 0, count: 4), count: 4)
                var dm = m
                for i in 0..<4 {
                    for j in 0..<4 {
                        for t in 0..<5 {
                            m[i][j] += at(k, h, i, f, t) * at(v, h, j, f, t)
                            dm[i][j] += 0.125 * at(q, h, i, f, t) * at(dy, h, j, f, t)
                        }
                    }
                }
                for c in 0..<4 {
                    for t in 0..<5 {
                        let expectedY = (0..<4).reduce(0.0) { $0 + 0.125 * m[$1][c] * at(q, h, $1, f, t) }
                        let expectedDK = (0..<4).reduce(0.0) { $0 + dm[c][$1] * at(v, h, $1, f, t) }
                        let expectedDV = (0..<4).reduce(0.0) { $0 + dm[$1][c] * at(k, h, $1, f, t) }
                        #expect(isClose(Float(at(y, h, c, f, t)), Float(expectedY), relative: 1e-6, absolute: 1e-6))
                        #expect(isClose(Float(at(dk, h, c, f, t)), Float(expectedDK), relative: 1e-5, absolute: 1e-6))
                        #expect(isClose(Float(at(dv, h, c, f, t)), Float(expectedDV), relative: 1e-5, absolute: 1e-6))
                    }
                }
            }
        }
    }
}
