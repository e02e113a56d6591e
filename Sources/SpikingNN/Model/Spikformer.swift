public import Seeding
public import Tensor

/// The Spikformer (DVS variant): spiking patch splitting, `depth` encoder blocks, a linear head.
///
/// Input: event-count frames, channel-major `[C, T·B, H, W]` (frame index t·B + b), as produced by
/// ``Spikformer/packInput(_:)`` from samples `[B, T, C, H, W]`. Output: logits `[B, classes]`.
public final class Spikformer {
    public let config: SpikformerConfig
    public let patchSplitting: SpikingPatchSplitting
    public let blocks: [SpikformerBlock]
    public let head: ClassifierHead

    /// Builds a freshly initialised model (PyTorch default initialisation, from `seed`).
    public init(config: SpikformerConfig, seed: UInt64 = 0) {
        self.config = config
        var generator = SeededGenerator(seed: seed, stream: "spikformer.init")
        patchSplitting = SpikingPatchSplitting(config: config, generator: &generator)
        let tokens = patchSplitting.outputHeight * patchSplitting.outputWidth
        blocks = (0..<config.depth).map { index in
            SpikformerBlock(index: index, dimension: config.embedDimension, heads: config.heads, mlpRatio: config.mlpRatio,
                            tokens: tokens, timeSteps: config.timeSteps, attentionScale: config.attentionScale,
                            attentionThreshold: config.attentionThreshold, generator: &generator)
        }
        head = ClassifierHead(dimension: config.embedDimension, classes: config.classes, timeSteps: config.timeSteps,
                              generator: &generator)
        applyNeuronConstants()
    }

    /// Forward pass. In training, activations needed by ``backward(_:)`` are kept.
    ///
    /// - Parameters:
    ///   - input: `[C, T·B, H, W]` event counts (see ``packInput(_:)``).
    ///   - training: batch statistics and saved activations if true; running statistics otherwise.
    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        precondition(input.shape.count == 4 && input.shape[0] == config.inputChannels
                     && input.shape[2] == config.inputHeight && input.shape[3] == config.inputWidth
                     && input.shape[1] % config.timeSteps == 0,
                     "model input must be [\(config.inputChannels), T·B, \(config.inputHeight), \(config.inputWidth)] with T = \(config.timeSteps), got \(input.shape)")
        var x = patchSplitting.forward(input, training: training)
        for block in blocks { x = block.forward(x, training: training) }
        return head.forward(x, training: training)
    }

    /// Backward pass for the last training forward pass: accumulates every parameter's gradient.
    public func backward(_ gradientOfLogits: Tensor) {
        var g = head.backward(gradientOfLogits)
        for block in blocks.reversed() { g = block.backward(consume g) }
        patchSplitting.backward(g)
    }

    /// Frees the activations a training forward pass kept for ``backward(_:)``.
    public func discardSavedActivations() {
        // An evaluation-mode pass on a one-sample zero input replaces every saved tensor by nothing.
        let c = config
        let tracking = tracksActivity
        tracksActivity = false
        _ = forward(Tensor(shape: [c.inputChannels, c.timeSteps, c.inputHeight, c.inputWidth]), training: false)
        tracksActivity = tracking
    }

    /// Reorders samples `[B, T, C, H, W]` to the model's input layout `[C, T·B, H, W]`.
    public static func packInput(_ samples: Tensor) -> Tensor {
        precondition(samples.shape.count == 5, "expected samples [B, T, C, H, W], got \(samples.shape)")
        let (b, t, c, h, w) = (samples.shape[0], samples.shape[1], samples.shape[2], samples.shape[3], samples.shape[4])
        var packed = Tensor(uninitializedShape: [c, t * b, h, w])
        samples.withUnsafeBufferPointer { source in
            packed.withUnsafeMutableBufferPointer { target in
                packSample(source.baseAddress!, count: b, timeSteps: t, channels: c, plane: h * w, into: target.baseAddress!)
            }
        }
        return packed
    }

    /// Copies `count` samples `[T, C, plane]` (consecutive) into `[C, T·batch, plane]` at batch slots
    /// `0..<count`; `batch` defaults to `count`.
    static func packSample(_ source: UnsafePointer<Float>, count: Int, timeSteps: Int, channels: Int, plane: Int,
                           into target: UnsafeMutablePointer<Float>, firstSlot: Int = 0, batch: Int? = nil) {
        let batch = batch ?? count
        for s in 0..<count {
            for t in 0..<timeSteps {
                for c in 0..<channels {
                    let from = source + ((s * timeSteps + t) * channels + c) * plane
                    let to = target + (c * timeSteps * batch + t * batch + firstSlot + s) * plane
                    to.update(from: from, count: plane)
                }
            }
        }
    }

    // MARK: Layers and parameters

    /// Makes every neuron smooth (S = σ(α(H − V_th)), reset not detached) so that finite
    /// differences see exactly what the backward pass computes; for gradient checks only.
    package func useSmoothSpikesForGradientChecks() {
        for neuron in allNeurons { neuron.makeSmoothForGradientChecks() }
    }

    package var allNeurons: [LIFNeuron] { modules(of: LIFNeuron.self) }

    private func applyNeuronConstants() {
        // Thresholds and τ come from the config; the attention neuron has its own threshold.
        for neuron in allNeurons { neuron.configure(tau: config.tau, threshold: config.threshold) }
        for block in blocks { block.attention.attentionNeuron.configure(tau: config.tau, threshold: config.attentionThreshold) }
    }

    /// The quantizable layers in model order (names as `SpikformerLayers.quantizable(depth:)`).
    public var quantizableLayers: [any QuantizableLayer] { modules(of: (any QuantizableLayer).self) }

    /// The quantizable layer called `name`, if any.
    public func quantizableLayer(named name: String) -> (any QuantizableLayer)? {
        quantizableLayers.first { $0.name == name }
    }

    package var batchNorms: [BatchNorm] { modules(of: BatchNorm.self) }

    /// Model parameters and buffers in checkpoint order (excluding quantizer parameters).
    public var stateParameters: [Parameter] { state }

    /// Everything the optimizer updates: learnable model parameters and the parameters of the
    /// attached weight quantizers.
    public var trainableParameters: [Parameter] {
        stateParameters.filter(\.isTrainable) + quantizableLayers.flatMap { $0.quantizer?.parameters ?? [] }
    }

    /// Number of learnable model parameters (weights, biases, BN affine; not running statistics).
    public var parameterCount: Int {
        stateParameters.filter(\.isTrainable).reduce(0) { $0 + $1.value.count }
    }

    /// Learnable parameter count per layer (conv/linear with its BN), in model order.
    public var parameterCountsByLayer: [(layer: String, count: Int)] {
        var result: [(String, Int)] = []
        var order: [String] = []
        var counts: [String: Int] = [:]
        for p in stateParameters where p.isTrainable {
            let components = p.name.split(separator: ".")
            let layer = components.dropLast().joined(separator: ".")
            if counts[layer] == nil { order.append(layer) }
            counts[layer, default: 0] += p.value.count
        }
        for layer in order { result.append((layer, counts[layer]!)) }
        return result
    }

    /// Sets every parameter's gradient to zero.
    public func zeroGradients() {
        for p in trainableParameters { p.zeroGradient() }
    }

    // MARK: Activity

    /// Turns input-activity counting on or off in every quantizable layer and attention.
    public var tracksActivity: Bool = false {
        didSet {
            for module in modules(of: (any ActivityCounting).self) { module.tracksActivity = tracksActivity }
        }
    }

    /// Clears all activity counts.
    public func resetActivity() {
        for module in modules(of: (any ActivityCounting).self) { module.resetActivity() }
    }

    /// Input activity per quantizable layer, in model order.
    public var layerActivity: [(layer: String, activity: InputActivity)] {
        quantizableLayers.map { ($0.name, $0.inputActivity) }
    }

    /// Q/K/V firing per block.
    public var attentionActivity: [AttentionActivity] { blocks.map(\.attention.activity) }

    // MARK: Product kernels

    /// The convolutions and token linears, in model order (the head's linear last).
    var productLayers: [any ProductLayer] { modules(of: (any ProductLayer).self) }

    /// How every layer chooses its product kernels (setting it sets every layer's
    /// ``Conv2d/productMode`` and ``TokenLinear/productMode``; reading it gives the first layer's).
    public var productMode: ProductMode {
        get { productLayers[0].productMode }
        set {
            for layer in productLayers { layer.productMode = newValue }
        }
    }

    /// The kernel paths each quantizable layer took and the input densities it measured since the
    /// last ``resetActivity()``, in model order.
    public var productRecords: [(layer: String, record: ProductRecord)] {
        productLayers.map { ($0.name, $0.products) }
    }
}

extension Spikformer: Module {
    public var children: [any Module] { [patchSplitting as any Module] + blocks + [head] }
}
