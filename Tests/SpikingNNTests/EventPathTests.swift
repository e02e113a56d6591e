import Seeding
import SpikingNN
import Tensor
import TestSupport
import Testing

/// A level quantizer for the layer tests: ŵ = s·clamp(round(w/s), −3, 3).
final class SmallLevelQuantizer: LevelQuantizer {
    let step: Float
    init(step: Float) { self.step = step }

    func level(_ w: Float) -> Float { min(3, max(-3, (w / step).rounded(.toNearestOrAwayFromZero))) }
    func quantize(_ weight: Tensor) -> Tensor { Tensor(shape: weight.shape, scalars: weight.scalars.map { level($0) * step }) }
    func levels(of weight: Tensor) -> WeightLevels? {
        WeightLevels(levels: Tensor(shape: weight.shape, scalars: weight.scalars.map(level)), scale: step)
    }
    func backward(weight: Tensor, gradientOfQuantized: Tensor) -> Tensor { gradientOfQuantized }
    var parameters: [Parameter] { [] }
}

/// The event-driven products against the dense GEMMs inside the layers: the same values within
/// float rounding (FP32 weights) or bit for bit (integer levels), and the same gradients.
struct EventPathTests {
    /// Σ_k |W[o,k]|·|x[k,n]| for every output of a token linear: the scale of its rounding error.
    static func magnitudes(_ w: Tensor, _ x: Tensor) -> [Double] {
        let (out, k) = (w.shape[0], w.shape[1])
        let n = x.count / k
        var result = [Double](repeating: 0, count: out * n)
        for o in 0..<out {
            for i in 0..<k {
                let a = Double(abs(w[flat: o * k + i]))
                for t in 0..<n { result[o * n + t] += a * Double(abs(x[flat: i * n + t])) }
            }
        }
        return result
    }

    @Test func tokenLinearEventPathMatchesDensePath() {
        var rng = SeededGenerator(seed: 61)
        let linear = TokenLinear(name: "l", inFeatures: 48, outFeatures: 40, bias: true, tokens: 10, generator: &rng)
        let x = GradientCheck.binary([48, 3, 10], &rng, rate: 0.15)
        let r = GradientCheck.random([40, 3, 10], &rng)
        linear.productMode = .dense
        let dense = linear.forward(x, training: true)
        _ = linear.backward(r)
        let denseWeightGradient = linear.weight.gradient!
        linear.weight.zeroGradient()
        linear.bias!.zeroGradient()
        linear.productMode = .events
        let events = linear.forward(x, training: true)
        _ = linear.backward(r)
        let bound = Self.magnitudes(linear.weight.value, x)
        for i in 0..<dense.count {
            // Two float sums of 48 terms plus the bias: (k + 2)·u·(Σ|terms| + |b|).
            let b = Double(abs(linear.bias!.value[flat: i / 30]))
            #expect(abs(Double(dense[flat: i]) - Double(events[flat: i])) <= 50 * 0x1p-24 * 2 * (bound[i] + b))
        }
        #expect(firstMismatch(linear.weight.gradient!.scalars, denseWeightGradient.scalars, relative: 1e-5, absolute: 1e-6) == nil)
        #expect(linear.products.denseForward == 1 && linear.products.eventForward == 1)
        #expect(linear.products.denseWeightGradient == 1 && linear.products.eventWeightGradient == 1)
        #expect(isClose(linear.products.meanDensity, Double(x.nonZeroCount()) / Double(x.count)))
    }

    @Test func convolutionEventPathMatchesDensePath() {
        var rng = SeededGenerator(seed: 62)
        let conv = Conv2d(name: "c", inChannels: 6, outChannels: 36, height: 7, width: 9, generator: &rng)
        let x = GradientCheck.binary([6, 4, 7, 9], &rng, rate: 0.2)
        let r = GradientCheck.random([36, 4, 7, 9], &rng)
        conv.productMode = .dense
        let dense = conv.forward(x, training: true)
        let denseInputGradient = conv.backward(r)!
        let denseWeightGradient = conv.weight.gradient!
        conv.weight.zeroGradient()
        conv.productMode = .events
        let events = conv.forward(x, training: true)
        let eventsInputGradient = conv.backward(r)!
        #expect(firstMismatch(events.scalars, dense.scalars, relative: 1e-5, absolute: 1e-5) == nil)
        #expect(firstMismatch(conv.weight.gradient!.scalars, denseWeightGradient.scalars, relative: 1e-5, absolute: 1e-5) == nil)
        #expect(eventsInputGradient == denseInputGradient, "dx is the dense product on both paths")
        #expect(conv.products.eventForward == 1 && conv.products.eventWeightGradient == 1)
    }

    @Test func eventPathGradientsMatchFiniteDifferences() {
        var rng = SeededGenerator(seed: 63)
        let conv = Conv2d(name: "c", inChannels: 3, outChannels: 4, height: 5, width: 6, generator: &rng)
        conv.productMode = .events
        let x = GradientCheck.binary([3, 2, 5, 6], &rng, rate: 0.3)
        let r = GradientCheck.random([4, 2, 5, 6], &rng)
        _ = conv.forward(x, training: true)
        _ = conv.backward(r)
        GradientCheck.expectMatches(conv.weight.gradient!, at: conv.weight.value, indices: GradientCheck.sample(conv.weight.value.count, 16, &rng),
                                    eps: 1e-2, "conv dW") { wp in
            conv.weight.value = wp
            return GradientCheck.project(conv.forward(x, training: false), r)
        }
        let linear = TokenLinear(name: "l", inFeatures: 8, outFeatures: 5, bias: true, tokens: 6, generator: &rng)
        linear.productMode = .events
        let tokens = GradientCheck.binary([8, 2, 6], &rng, rate: 0.3)
        let rl = GradientCheck.random([5, 2, 6], &rng)
        _ = linear.forward(tokens, training: true)
        _ = linear.backward(rl)
        GradientCheck.expectMatches(linear.weight.gradient!, at: linear.weight.value, indices: Array(0..<40), eps: 1e-2, "linear dW") { wp in
            linear.weight.value = wp
            return GradientCheck.project(linear.forward(tokens, training: false), rl)
        }
    }

    @Test func integerLevelsGiveTheSameBitsOnEveryPath() {
        var rng = SeededGenerator(seed: 64)
        let linear = TokenLinear(name: "l", inFeatures: 64, outFeatures: 48, bias: true, tokens: 16, generator: &rng)
        let conv = Conv2d(name: "c", inChannels: 5, outChannels: 40, height: 6, width: 6, generator: &rng)
        linear.quantizer = SmallLevelQuantizer(step: 0.05)
        conv.quantizer = SmallLevelQuantizer(step: 0.04)
        let tokens = EventKernelsInputs.counts([64, 2, 16], &rng)
        let frames = EventKernelsInputs.counts([5, 3, 6, 6], &rng)
        var outputs: [ProductMode: (Tensor, Tensor)] = [:]
        for mode in [ProductMode.dense, .events] {
            linear.productMode = mode
            conv.productMode = mode
            outputs[mode] = (linear.forward(tokens, training: false), conv.forward(frames, training: false))
        }
        #expect(outputs[.dense]!.0 == outputs[.events]!.0)
        #expect(outputs[.dense]!.1 == outputs[.events]!.1)
        #expect(linear.products.exactLevels == 2 && conv.products.exactLevels == 2)
        // Dense, the levels run on int8 dot products where the CPU has them and on float products
        // below avx512: the same bits again.
        if EventKernels.hasIntegerDotProducts {
            #expect(linear.products.integerForward == 1 && conv.products.integerForward == 1)
        }
        do {
            defer { EventKernels.useInstructionSet(EventKernels.detectedInstructionSet) }
            EventKernels.useInstructionSet("avx2")
            linear.productMode = .dense
            conv.productMode = .dense
            #expect(linear.forward(tokens, training: false) == outputs[.dense]!.0)
            #expect(conv.forward(frames, training: false) == outputs[.dense]!.1)
        }
        // A non-integer input cannot use the levels: the float ŵ path runs instead.
        var fractional = tokens
        fractional[flat: 5] = 0.5
        _ = linear.forward(fractional, training: false)
        #expect(linear.products.exactLevels == 3 && linear.products.calls == 4)
    }
}

extension EventPathTests {
    /// Binary Q, K, V take the popcount path for K_hᵀV_h; it must give exactly the float products
    /// (integer counts), so the outputs equal the non-binary path's on the same values.
    @Test func binaryAttentionProductsAreExactCounts() {
        var rng = SeededGenerator(seed: 65)
        let attention = SpikingSelfAttention(prefix: "a", dimension: 32, heads: 2, tokens: 70, timeSteps: 1, generator: &rng)
        let shape = [32, 3, 70]
        let q = GradientCheck.binary(shape, &rng, rate: 0.2)
        let k = GradientCheck.binary(shape, &rng, rate: 0.2)
        let v = GradientCheck.binary(shape, &rng, rate: 0.2)
        let (_, products) = attention.attend(q: q, k: k, v: v, keepProducts: true)
        for f in 0..<3 {
            for h in 0..<2 {
                for i in 0..<16 {
                    for j in 0..<16 {
                        var count: Float = 0
                        for t in 0..<70 { count += k[flat: ((h * 16 + i) * 3 + f) * 70 + t] * v[flat: ((h * 16 + j) * 3 + f) * 70 + t] }
                        #expect(products![flat: ((f * 2 + h) * 16 + i) * 16 + j] == count)
                    }
                }
            }
        }
        // A value of 2 in K is not a spike: the float products run and still give Σ K·V.
        var k2 = k
        k2[flat: 0] = 2
        let (_, floatProducts) = attention.attend(q: q, k: k2, v: v, keepProducts: true)
        var expected: Float = 0
        for t in 0..<70 { expected += k2[flat: t] * v[flat: t] }
        #expect(floatProducts![flat: 0] == expected)
    }
}

/// Event-count inputs: 0 with probability 0.8, else 1…3.
enum EventKernelsInputs {
    static func counts(_ shape: [Int], _ rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.nextUnitFloat() < 0.2 ? Float(1 + Int(rng.next() % 3)) : 0 })
    }
}
