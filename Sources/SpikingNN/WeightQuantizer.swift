public import Tensor

/// Replaces a layer's float weight by a quantized one in the forward pass (quantization-aware
/// training), and maps gradients back.
///
/// Attach one to any ``QuantizableLayer`` through its ``QuantizableLayer/quantizer`` slot.
/// In training the layer calls ``quantize(_:)`` once per forward pass; in evaluation it caches the
/// result until the weight's ``Parameter/version``, the quantizer's parameters' versions, or the
/// quantizer object change. If a quantizer changes its behaviour without a parameter changing
/// (e.g. a new bit width set in place), call ``QuantizableLayer/invalidateQuantizedWeight()``.
///
/// - Important: ``backward(weight:gradientOfQuantized:)`` receives dL/dŵ and returns dL/dw
///   (straight-through or otherwise: the quantizer decides). It must *accumulate* the gradients
///   of its own learned parameters (e.g. the LSQ step) into their ``Parameter/gradient``; the
///   optimizer sees them through ``parameters``, which the model includes in
///   ``Spikformer/trainableParameters`` while the quantizer is attached.
public protocol WeightQuantizer: AnyObject {
    /// ŵ = q(w), same shape as `weight`.
    func quantize(_ weight: Tensor) -> Tensor
    /// dL/dw given dL/dŵ; accumulates the gradients of ``parameters``.
    func backward(weight: Tensor, gradientOfQuantized: Tensor) -> Tensor
    /// Learned parameters of the quantizer (may be empty). Names should be unique per layer,
    /// e.g. `"<layer>.quantizer.step"`.
    var parameters: [Parameter] { get }
}

/// A layer whose weight can be quantized: the patch-splitting and RPE convolutions, the attention
/// and MLP linears, and the classification head.
public protocol QuantizableLayer: AnyObject {
    /// The layer name, as listed by `SpikformerLayers.quantizable(depth:)` (QuantConfig).
    var name: String { get }
    /// The float (master) weight.
    var weight: Parameter { get }
    /// The optional weight quantizer.
    var quantizer: (any WeightQuantizer)? { get set }
    /// Dense multiply-accumulates per sample per time step.
    var denseMACsPerTimeStep: Int { get }
    /// Input activity counted during forward passes while tracking is on.
    var inputActivity: InputActivity { get }
    /// Drops the cached quantized weight.
    func invalidateQuantizedWeight()
}

extension QuantizableLayer {
    /// Number of weight elements (excluding any bias).
    public var weightCount: Int { weight.value.count }
}

/// The weight a layer computes with: the float weight or its quantized image, with the eval cache.
final class EffectiveWeight {
    let weight: Parameter
    var quantizer: (any WeightQuantizer)? {
        didSet { invalidate() }
    }
    private var cached: Tensor?
    private var cacheKey: [Int] = []

    init(weight: Parameter) { self.weight = weight }

    func invalidate() {
        cached = nil
        cacheKey = []
    }

    /// ŵ for this forward pass. Training always recomputes (the quantizer sees the current weight
    /// and step); evaluation reuses the cached value while nothing changed.
    func value(training: Bool) -> Tensor {
        guard let quantizer else { return weight.value }
        let key = [weight.version, Int(bitPattern: UInt(bitPattern: ObjectIdentifier(quantizer)))]
            + quantizer.parameters.map(\.version)
        if !training, let cached, key == cacheKey { return cached }
        let quantized = quantizer.quantize(weight.value)
        precondition(quantized.count == weight.value.count, "\(weight.name): quantizer changed the weight's size")
        cached = quantized.reshaped(weight.value.shape)
        cacheKey = key
        return cached!
    }

    /// Routes dL/dŵ through the quantizer (if any) into the weight's gradient.
    func accumulateGradient(_ gradientOfEffective: Tensor) {
        if let quantizer {
            let g = quantizer.backward(weight: weight.value, gradientOfQuantized: gradientOfEffective)
            weight.accumulateGradient(g)
        } else {
            weight.accumulateGradient(gradientOfEffective)
        }
    }

    /// Whether the gradient may be written straight into the weight's buffer (no quantizer).
    var writesGradientDirectly: Bool { quantizer == nil }
}
