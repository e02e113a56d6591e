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

/// Integer weight levels and the layer's one scale: `ŵ[i] = levels[i]·scale`, bit for bit.
public struct WeightLevels {
    /// The levels as Float (exact integers), shaped like the weight.
    public var levels: Tensor
    /// The scale the levels are multiplied by.
    public var scale: Float

    public init(levels: Tensor, scale: Float) {
        self.levels = levels
        self.scale = scale
    }
}

/// A ``WeightQuantizer`` whose output is integer levels times one scale per layer (uniform and
/// power-of-two quantization), so that a layer can compute `levels × inputs` exactly (the inputs
/// are spikes or event counts, also integers) and apply the scale once after the sum.
///
/// Quantizers whose output is not of that form (a mix of several quantized weights, for example)
/// adopt only ``WeightQuantizer``; their layers compute with the float ŵ as before.
public protocol LevelQuantizer: WeightQuantizer {
    /// The levels and scale of `weight`, with `quantize(weight)[i] == levels[i] * scale` exactly;
    /// nil when the levels are too large for exact float sums (beyond 2²⁴, e.g. wide power-of-two codes).
    func levels(of weight: Tensor) -> WeightLevels?

    /// ``WeightQuantizer/backward(weight:gradientOfQuantized:)`` given ŵ as well (the forward
    /// pass's `quantize(weight)`), for a rule that would otherwise quantize the weight again.
    func backward(weight: Tensor, quantized: Tensor, gradientOfQuantized: Tensor) -> Tensor
}

extension LevelQuantizer {
    public func backward(weight: Tensor, quantized: Tensor, gradientOfQuantized: Tensor) -> Tensor {
        backward(weight: weight, gradientOfQuantized: gradientOfQuantized)
    }
}

/// The weight a layer computes with in one forward pass: the float ŵ (or w), and for a
/// ``LevelQuantizer`` its integer levels; transposed copies for the event-driven kernels are made
/// on first use.
final class WeightSnapshot {
    /// ŵ (w without a quantizer), shaped like the weight.
    let value: Tensor
    /// The integer levels, when the quantizer provides them.
    let levels: LayerLevels?

    init(value: Tensor, levels: LayerLevels?) {
        self.value = value
        self.levels = levels
    }

    /// ŵ as `[fan-in, outputs]` (the layout of the event-driven kernels).
    private(set) lazy var transposedValue: Tensor = LayerLevels.transposeRows(value)
}

/// A layer's integer weight levels, the scale and the bound that decides when sums are exact.
final class LayerLevels {
    let levels: Tensor
    let scale: Float
    /// max over outputs of Σ|level| over that output's inputs.
    let maxRowMagnitude: Double

    init(_ levels: WeightLevels) {
        self.levels = levels.levels
        scale = levels.scale
        let rows = levels.levels.shape[0]
        let fanIn = levels.levels.count / max(rows, 1)
        var rowSums = [Double](repeating: 0, count: rows)
        levels.levels.withUnsafeBufferPointer { p in
            rowSums.withUnsafeMutableBufferPointer { sums in
                let (source, target) = (p.baseAddress!, sums.baseAddress!)
                Compute.parallelFor(rows, grain: max(1, 8_192 / max(fanIn, 1))) { range in
                    for r in range {
                        var sum = 0.0
                        for i in 0..<fanIn { sum += Double(abs(source[r * fanIn + i])) }
                        target[r] = sum
                    }
                }
            }
        }
        maxRowMagnitude = rowSums.max() ?? 0
    }

    /// Whether `levels × input` is exact in Float arithmetic in any summation order: every input
    /// is an integer and every partial sum stays within ±2²⁴, where all integers are representable.
    func areExact(for input: EventKernels.Inspection) -> Bool {
        input.isIntegral && maxRowMagnitude * Double(input.maxAbs) <= Double(1 << 24)
    }

    /// The levels as `[fan-in, outputs]`.
    private(set) lazy var transposed: Tensor = Self.transposeRows(levels)

    /// The levels as int8 rows zero-padded to a multiple of 4 (the integer product's layout), or
    /// nil when a level lies outside −128...127 (power-of-two levels of 5 bits and more).
    private(set) lazy var bytes: [Int8]? = Self.byteRows(levels)

    static func byteRows(_ levels: Tensor) -> [Int8]? {
        let rows = levels.shape[0]
        let fanIn = levels.count / max(rows, 1)
        let padded = (fanIn + 3) / 4 * 4
        var bytes = [Int8](repeating: 0, count: rows * padded)
        let fits = levels.withUnsafeBufferPointer { values in
            bytes.withUnsafeMutableBufferPointer { target in
                for r in 0..<rows {
                    for i in 0..<fanIn {
                        let level = values[r * fanIn + i]
                        guard level >= -128 && level <= 127 else { return false }
                        target[r * padded + i] = Int8(level)
                    }
                }
                return true
            }
        }
        return fits ? bytes : nil
    }

    /// `[outputs, …]` viewed as `[outputs, fan-in]`, transposed.
    static func transposeRows(_ weight: Tensor) -> Tensor {
        let rows = weight.shape[0]
        return EventKernels.transposed(weight.reshaped([rows, weight.count / rows]))
    }
}

/// The weight a layer computes with: the float weight or its quantized image, with the eval cache.
final class EffectiveWeight {
    let weight: Parameter
    var quantizer: (any WeightQuantizer)? {
        didSet { invalidate() }
    }
    private var cached: WeightSnapshot?
    private var cacheKey: [Int] = []

    init(weight: Parameter) { self.weight = weight }

    func invalidate() {
        cached = nil
        cacheKey = []
    }

    /// ŵ for this forward pass (see ``snapshot(training:)``).
    func value(training: Bool) -> Tensor { snapshot(training: training).value }

    /// ŵ and its levels for this forward pass. Training always recomputes (the quantizer sees the
    /// current weight and step); evaluation reuses the cached value while nothing changed.
    func snapshot(training: Bool) -> WeightSnapshot {
        guard let quantizer else {
            // Not kept in training: a kept reference would make the optimizer's in-place update copy the weight.
            if training { return WeightSnapshot(value: weight.value, levels: nil) }
            let key = [weight.version]
            if let cached, key == cacheKey { return cached }
            cached = WeightSnapshot(value: weight.value, levels: nil)
            cacheKey = key
            return cached!
        }
        let key = cacheKey(for: quantizer)
        if !training, let cached, key == cacheKey { return cached }
        var levels: LayerLevels?
        if let levelQuantizer = quantizer as? any LevelQuantizer, let found = levelQuantizer.levels(of: weight.value) {
            precondition(found.levels.count == weight.value.count, "\(weight.name): quantizer changed the levels' size")
            levels = LayerLevels(WeightLevels(levels: found.levels.reshaped(weight.value.shape), scale: found.scale))
        }
        // ŵ is levels × scale bit for bit (the LevelQuantizer contract), one pass cheaper than
        // quantizing the weight a second time; it runs for every layer at every training step.
        let quantized = levels.map { Self.scaled($0.levels, by: $0.scale) } ?? quantizer.quantize(weight.value)
        precondition(quantized.count == weight.value.count, "\(weight.name): quantizer changed the weight's size")
        cached = WeightSnapshot(value: quantized.reshaped(weight.value.shape), levels: levels)
        cacheKey = key
        return cached!
    }

    private static func scaled(_ levels: Tensor, by scale: Float) -> Tensor {
        var value = levels
        value.scale(by: scale)
        return value
    }

    /// What the cached snapshot was computed from: the weight, the quantizer and its parameters.
    private func cacheKey(for quantizer: any WeightQuantizer) -> [Int] {
        [weight.version, Int(bitPattern: UInt(bitPattern: ObjectIdentifier(quantizer)))] + quantizer.parameters.map(\.version)
    }

    /// Routes dL/dŵ through the quantizer (if any) into the weight's gradient.
    func accumulateGradient(_ gradientOfEffective: Tensor) {
        if let quantizer {
            let g: Tensor
            if let levelQuantizer = quantizer as? any LevelQuantizer, let cached, cacheKey == cacheKey(for: quantizer) {
                // ŵ of this pass, still current (nothing moved since the forward pass).
                g = levelQuantizer.backward(weight: weight.value, quantized: cached.value, gradientOfQuantized: gradientOfEffective)
            } else {
                g = quantizer.backward(weight: weight.value, gradientOfQuantized: gradientOfEffective)
            }
            weight.accumulateGradient(g)
        } else {
            weight.accumulateGradient(gradientOfEffective)
        }
    }

    /// Whether the gradient may be written straight into the weight's buffer (no quantizer).
    var writesGradientDirectly: Bool { quantizer == nil }
}
