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
public final class UniformQuantizer: LayerQuantizer {
    public let choice: LayerQuantization
    public let scale: Parameter

    /// Initialises the step at `2·mean|w| / sqrt(Qp)` from the layer's current weight.
    public init(layer: String, bits: Int, weight: Tensor) {
        choice = .uniform(bits)
        let step = weight.withUnsafeBufferPointer { UniformCodec.initialStep(for: $0, bits: bits) }
        scale = Parameter(name: "\(layer).weight_quantizer.step", value: Tensor(shape: [1], scalars: [step]))
    }

    public var parameters: [Parameter] { [scale] }

    public var codec: any WeightCodec { uniformCodec }

    var uniformCodec: UniformCodec { UniformCodec(bits: choice.bits, step: currentScale(scale)) }

    public func quantize(_ weight: Tensor) -> Tensor {
        fakeQuantize(weight, codec: uniformCodec)
    }

    public func backward(weight: Tensor, gradientOfQuantized: Tensor) -> Tensor {
        let codec = uniformCodec
        let qp = Float(codec.maxLevel)
        let step = codec.step
        return straightThrough(
            weight: weight, gradient: gradientOfQuantized, scale: scale, gradientScale: 1 / (Float(weight.count) * qp).squareRoot()
        ) { w in
            let v = w / step
            if v < -qp { return (false, -qp) }
            if v > qp { return (false, qp) }
            return (true, v.rounded(.toNearestOrAwayFromZero) - v)
        }
    }
}

/// Power-of-two quantizer: α calibrated on the weight (minimum squared error), then learned.
public final class PowerOfTwoQuantizer: LayerQuantizer {
    public let choice: LayerQuantization
    public let scale: Parameter

    public init(layer: String, bits: Int, weight: Tensor) {
        choice = .pot(bits)
        let alpha = weight.withUnsafeBufferPointer { PowerOfTwoCodec.calibratedAlpha(for: $0, bits: bits) }
        scale = Parameter(name: "\(layer).weight_quantizer.alpha", value: Tensor(shape: [1], scalars: [alpha]))
    }

    public var parameters: [Parameter] { [scale] }

    public var codec: any WeightCodec { potCodec }

    var potCodec: PowerOfTwoCodec { PowerOfTwoCodec(bits: choice.bits, alpha: currentScale(scale)) }

    public func quantize(_ weight: Tensor) -> Tensor {
        fakeQuantize(weight, codec: potCodec)
    }

    public func backward(weight: Tensor, gradientOfQuantized: Tensor) -> Tensor {
        let codec = potCodec
        let alpha = codec.alpha
        let qp = Float(codec.magnitudeCount - 1)
        return straightThrough(
            weight: weight, gradient: gradientOfQuantized, scale: scale, gradientScale: 1 / (Float(weight.count) * qp).squareRoot()
        ) { w in
            let v = w / alpha
            if v < -1 { return (false, -1) }
            if v > 1 { return (false, 1) }
            return (true, codec.value(of: codec.code(of: w)) / alpha - v)
        }
    }
}

/// The scale used in the forward pass: the learned value, kept strictly positive.
@inline(__always)
private func currentScale(_ scale: Parameter) -> Float {
    max(scale.value[flat: 0], Float.leastNormalMagnitude)
}

/// `value(code(w))` element-wise, in parallel.
private func fakeQuantize<C: WeightCodec>(_ weight: Tensor, codec: C) -> Tensor {
    var out = Tensor(uninitializedShape: weight.shape)
    weight.withUnsafeBufferPointer { source in
        out.withUnsafeMutableBufferPointer { target in
            let s = source.baseAddress!
            let t = target.baseAddress!
            Compute.parallelFor(source.count, grain: 16_384) { range in
                for i in range { t[i] = codec.value(of: codec.code(of: s[i])) }
            }
        }
    }
    return out
}

/// The shared backward rule: gradient to `w` where `rule(w).inside`, and
/// `Σ g · rule(w).scaleDerivative · gradientScale` to the scale (a fixed-order, per-part sum).
private func straightThrough(
    weight: Tensor, gradient: Tensor, scale: Parameter, gradientScale: Float,
    rule: (Float) -> (inside: Bool, scaleDerivative: Float)
) -> Tensor {
    var out = Tensor(uninitializedShape: weight.shape)
    let grain = 16_384
    var partials = [Double](repeating: 0, count: Compute.partCount(weight.count, grain: grain))
    weight.withUnsafeBufferPointer { w in
        gradient.withUnsafeBufferPointer { g in
            out.withUnsafeMutableBufferPointer { o in
                partials.withUnsafeMutableBufferPointer { sums in
                    let wp = w.baseAddress!, gp = g.baseAddress!, op = o.baseAddress!, sp = sums.baseAddress!
                    Compute.parallelParts(w.count, grain: grain) { part, range in
                        var sum = 0.0
                        for i in range {
                            let (inside, derivative) = rule(wp[i])
                            op[i] = inside ? gp[i] : 0
                            sum += Double(gp[i] * derivative)
                        }
                        sp[part] = sum
                    }
                }
            }
        }
    }
    let scaleGradient = Float(partials.reduce(0, +)) * gradientScale
    scale.accumulateGradient(Tensor(shape: [1], scalars: [scaleGradient]))
    return out
}
