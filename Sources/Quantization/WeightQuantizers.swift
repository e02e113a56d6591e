import QuantConfig
import SpikingNN
import Tensor

/// Fake quantization for quantization-aware training: the forward pass computes with
/// `ŵ = codec.value(codec.code(w))`, the backward pass is straight-through for `w` inside the
/// representable range and learns the codec's scale (LSQ's step, or the power-of-two α).
///
/// Both quantizers share the scale-gradient rule of LSQ (Esser et al., ICLR 2020): with
/// `v = w / s` and `q(v)` the quantized level in units of `s`,
///
///     dŵ/dw = 1 if v is inside the range, else 0
///     dŵ/ds = q(v) - v inside the range, q(v) (the clipped level) outside
///
/// and the step's gradient is scaled by `1 / sqrt(N · Qp)` (N weights, Qp the largest level) so it
/// moves at a rate comparable to the weights'.
public protocol LayerQuantizer: WeightQuantizer {
    /// The layer's choice (scheme and bits).
    var choice: LayerQuantization { get }
    /// The learned scale: LSQ step (uniform) or α (power of two).
    var scale: Parameter { get }
    /// The codec for the current scale; the exporter stores its codes.
    var codec: any WeightCodec { get }
}

/// Symmetric uniform quantizer with a learned step (LSQ).
public final class UniformQuantizer: LayerQuantizer, LevelQuantizer {
    public let choice: LayerQuantization
    public let scale: Parameter

    /// Initialises the step at `2·mean|w| / sqrt(Qp)` from the layer's current weight.
    public init(layer: String, bits: Int, weight: Tensor) {
        choice = .uniform(bits)
        let step = weight.withUnsafeBufferPointer { UniformCodec.initialStep(for: $0, bits: bits) }
        scale = Parameter(name: "\(layer).weight_quantizer.step", value: Tensor(shape: [1], scalars: [step]))
    }

    /// A quantizer with a given step (a packed model's stored scale).
    public init(layer: String, bits: Int, step: Float) {
        choice = .uniform(bits)
        scale = Parameter(name: "\(layer).weight_quantizer.step", value: Tensor(shape: [1], scalars: [step]))
    }

    public var parameters: [Parameter] { [scale] }

    public var codec: any WeightCodec { uniformCodec }

    var uniformCodec: UniformCodec { UniformCodec(bits: choice.bits, step: currentScale(scale)) }

    public func quantize(_ weight: Tensor) -> Tensor {
        fakeQuantize(weight, codec: uniformCodec)
    }

    /// Levels `-Qp … Qp` and the step: ŵ = `Float(level)·step`, the same product the codec computes.
    public func levels(of weight: Tensor) -> WeightLevels? {
        let codec = uniformCodec
        return WeightLevels(levels: mapWeights(weight) { Float(codec.level(of: $0)) }, scale: codec.step)
    }

    public func backward(weight: Tensor, gradientOfQuantized: Tensor) -> Tensor {
        let codec = uniformCodec
        let qp = Float(codec.maxLevel)
        let step = codec.step
        return straightThrough(
            weight: weight, gradient: gradientOfQuantized, scale: scale, gradientScale: 1 / (Float(weight.count) * qp).squareRoot()
        ) { w, _ in
            let v = w / step
            if v < -qp { return (false, -qp) }
            if v > qp { return (false, qp) }
            return (true, v.rounded(.toNearestOrAwayFromZero) - v)
        }
    }
}

/// Power-of-two quantizer: α calibrated on the weight (minimum squared error), then learned.
public final class PowerOfTwoQuantizer: LayerQuantizer, LevelQuantizer {
    public let choice: LayerQuantization
    public let scale: Parameter

    public init(layer: String, bits: Int, weight: Tensor) {
        choice = .pot(bits)
        let alpha = weight.withUnsafeBufferPointer { PowerOfTwoCodec.calibratedAlpha(for: $0, bits: bits) }
        scale = Parameter(name: "\(layer).weight_quantizer.alpha", value: Tensor(shape: [1], scalars: [alpha]))
    }

    /// A quantizer with a given α (a packed model's stored scale).
    public init(layer: String, bits: Int, alpha: Float) {
        choice = .pot(bits)
        scale = Parameter(name: "\(layer).weight_quantizer.alpha", value: Tensor(shape: [1], scalars: [alpha]))
    }

    public var parameters: [Parameter] { [scale] }

    public var codec: any WeightCodec { potCodec }

    var potCodec: PowerOfTwoCodec { PowerOfTwoCodec(bits: choice.bits, alpha: currentScale(scale)) }

    public func quantize(_ weight: Tensor) -> Tensor {
        fakeQuantize(weight, codec: potCodec)
    }

    /// Levels in units of the smallest magnitude `u = α·2^-(M-2)`: `±2^(m-1)` for magnitude index
    /// m ≥ 1, so ŵ = `level·u` exactly (both sides are α times a power of two). Nil beyond 2²⁴
    /// (6 bits and more), where float sums of the levels would round, or when u is not a normal float.
    public func levels(of weight: Tensor) -> WeightLevels? {
        let codec = potCodec
        guard codec.minExponent <= 24 else { return nil }
        let unit = codec.alpha * PowerOfTwoCodec.powerOfTwo(-codec.minExponent)
        guard unit.isNormal else { return nil }
        let signBit = UInt32(1) << UInt32(codec.bits - 1)
        let magnitudeMask = signBit - 1
        return WeightLevels(levels: mapWeights(weight) { w in
            let code = codec.code(of: w)
            let m = Int(code & magnitudeMask)
            guard m > 0 else { return 0 }
            let level = PowerOfTwoCodec.powerOfTwo(m - 1)
            return code & signBit != 0 ? -level : level
        }, scale: unit)
    }

    public func backward(weight: Tensor, gradientOfQuantized: Tensor) -> Tensor {
        backward(weight: weight, quantized: quantize(weight), gradientOfQuantized: gradientOfQuantized)
    }

    /// The rule reads ŵ = `value(code(w))` from the forward pass instead of quantizing again.
    public func backward(weight: Tensor, quantized: Tensor, gradientOfQuantized: Tensor) -> Tensor {
        precondition(quantized.count == weight.count, "\(choice): ŵ has \(quantized.count) values for \(weight.count) weights")
        let codec = potCodec
        let alpha = codec.alpha
        let qp = Float(codec.magnitudeCount - 1)
        return quantized.withUnsafeBufferPointer { q in
            let quantizedWeights = q.baseAddress!
            return straightThrough(
                weight: weight, gradient: gradientOfQuantized, scale: scale, gradientScale: 1 / (Float(weight.count) * qp).squareRoot()
            ) { w, i in
                let v = w / alpha
                if v < -1 { return (false, -1) }
                if v > 1 { return (false, 1) }
                return (true, quantizedWeights[i] / alpha - v)
            }
        }
    }
}

/// The scale used in the forward pass: the learned value, kept strictly positive.
@inline(__always)
private func currentScale(_ scale: Parameter) -> Float {
    max(scale.value[flat: 0], Float.leastNormalMagnitude)
}

/// Weights per part for the element-wise maps below. They run every step on every layer, and a
/// small model's layers hold 4,096–16,384 weights, so a coarser grain left them on one thread.
/// Element-wise results do not depend on the split (the straight-through backward keeps its own
/// grain: its scale gradient is a per-part sum).
private let elementwiseGrain = 2048

/// `transform(w)` element-wise, in parallel.
private func mapWeights(_ weight: Tensor, _ transform: (Float) -> Float) -> Tensor {
    var out = Tensor(uninitializedShape: weight.shape)
    weight.withUnsafeBufferPointer { source in
        out.withUnsafeMutableBufferPointer { target in
            let s = source.baseAddress!
            let t = target.baseAddress!
            Compute.parallelFor(source.count, grain: elementwiseGrain) { range in
                for i in range { t[i] = transform(s[i]) }
            }
        }
    }
    return out
}

/// `value(code(w))` element-wise, in parallel.
private func fakeQuantize<C: WeightCodec>(_ weight: Tensor, codec: C) -> Tensor {
    var out = Tensor(uninitializedShape: weight.shape)
    weight.withUnsafeBufferPointer { source in
        out.withUnsafeMutableBufferPointer { target in
            let s = source.baseAddress!
            let t = target.baseAddress!
            Compute.parallelFor(source.count, grain: elementwiseGrain) { range in
                for i in range { t[i] = codec.value(of: codec.code(of: s[i])) }
            }
        }
    }
    return out
}

/// The shared backward rule: gradient to `w` where `rule(w).inside`, and
/// `Σ g · rule(w).scaleDerivative · gradientScale` to the scale.
///
/// The rule runs element-wise in parallel at the fine grain; the scale gradient is then summed in
/// Double over the coarse grain's fixed parts, in order, so it does not depend on the first split.
private func straightThrough(
    weight: Tensor, gradient: Tensor, scale: Parameter, gradientScale: Float,
    rule: (_ weight: Float, _ index: Int) -> (inside: Bool, scaleDerivative: Float)
) -> Tensor {
    var out = Tensor(uninitializedShape: weight.shape)
    var terms = Tensor(uninitializedShape: weight.shape)  // g · ∂ŵ/∂scale per weight
    let sumGrain = 16_384
    var partials = [Double](repeating: 0, count: Compute.partCount(weight.count, grain: sumGrain))
    weight.withUnsafeBufferPointer { w in
        gradient.withUnsafeBufferPointer { g in
            out.withUnsafeMutableBufferPointer { o in
                terms.withUnsafeMutableBufferPointer { t in
                    let wp = w.baseAddress!, gp = g.baseAddress!, op = o.baseAddress!, tp = t.baseAddress!
                    Compute.parallelFor(w.count, grain: elementwiseGrain) { range in
                        for i in range {
                            let (inside, derivative) = rule(wp[i], i)
                            op[i] = inside ? gp[i] : 0
                            tp[i] = gp[i] * derivative
                        }
                    }
                    partials.withUnsafeMutableBufferPointer { sums in
                        let sp = sums.baseAddress!
                        Compute.parallelParts(w.count, grain: sumGrain) { part, range in
                            var sum = 0.0
                            for i in range { sum += Double(tp[i]) }
                            sp[part] = sum
                        }
                    }
                }
            }
        }
    }
    let scaleGradient = Float(partials.reduce(0, +)) * gradientScale
    scale.accumulateGradient(Tensor(shape: [1], scalars: [scaleGradient]))
    return out
}
