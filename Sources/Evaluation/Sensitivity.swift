import QuantConfig
import Quantization
import Search
import Seeding
import SpikingNN
import Tensor

extension CandidateEvaluator {
    /// Per-layer sensitivity of the FP32 model to each choice, with the per-layer energy table of
    /// `energyModel` (the first of ``energyModels`` if nil), the input of the knapsack seeding.
    ///
    /// - `.drop`: quantizes one layer at a time (every other layer FP32, no fine-tuning) and measures
    ///   the validation accuracy drop, as HAWQ-style methods do: layers × choices evaluations.
    /// - `.fisher`: the loss increase predicted by the diagonal empirical Fisher information,
    ///   ½ Σᵢ Fᵢ (q(wᵢ) − wᵢ)², with Fᵢ the mean squared gradient over `batches` training batches and
    ///   q the choice's quantizer initialised as a fine-tune would initialise it. A few gradient
    ///   passes instead of hundreds of evaluations; it ranks choices, it is not in accuracy units.
    ///
    /// - Parameters:
    ///   - choices: the choices to measure per layer (e.g. u2 … u8, p2 … p8).
    ///   - samples: (`.drop`) measure on this many validation samples, spread over the split (nil: all).
    ///   - batches: (`.fisher`) training batches for the Fisher estimate.
    ///   - recorded: (`.fisher`) the Fisher recorded while the base model trained, used instead of
    ///     measuring one (``RecordedFisher``); the table then costs no gradient passes.
    ///   - progress: (steps done, total).
    public func sensitivity(
        choices: [LayerQuantization], method: SensitivityMethod = .drop, samples: Int? = nil, batches: Int = 8, seed: UInt64 = 0,
        recorded: RecordedFisher? = nil, energyModel: String? = nil, progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> SensitivityTable {
        let model = try baseModel()
        let names = model.quantizableLayers.map(\.name)
        let drops: [String: [String: Double]]
        switch method {
        case .drop: drops = try measuredDrops(model, choices: choices, samples: samples, progress: progress)
        case .fisher: drops = try fisherDrops(model, choices: choices, batches: batches, seed: seed, recorded: recorded, progress: progress)
        }
        var shares: [String: Double] = [:]
        var energy: LayerCostTable?
        let selected = energyModel.flatMap { name in energyModels.first { $0.name == name } } ?? energyModels.first
        if let selected {
            let fp32 = try reference()
            energy = Self.costTable(reference: fp32, model: selected, choices: choices + [.float])
            let energies = fp32.layers.filter { names.contains($0.name) }.map { ($0.name, selected.picojoules(for: $0, timeSteps: fp32.timeSteps)) }
            let sum = energies.reduce(0) { $0 + $1.1 }
            if sum > 0 { for (name, energy) in energies { shares[name] = energy / sum } }
        }
        let steps = method == .fisher ? (recorded == nil ? batches : 0) : nil
        return SensitivityTable(accuracyDrop: drops, costShare: shares, method: method, energy: energy, gradientPasses: steps)
    }

    /// Each quantizable layer's energy under each choice at the FP32 firing rates, the rest as fixed.
    static func costTable(reference: ReferenceMeasurement, model: EnergyModel, choices: [LayerQuantization]) -> LayerCostTable {
        var perChoice: [String: [String: Double]] = [:]
        var fixed = 0.0
        for layer in reference.layers {
            guard layer.parameters > 0 else {
                fixed += model.picojoules(for: layer, timeSteps: reference.timeSteps)
                continue
            }
            for choice in choices {
                var quantized = layer
                quantized.quantization = choice
                perChoice[layer.name, default: [:]][choice.description] = model.picojoules(for: quantized, timeSteps: reference.timeSteps)
            }
        }
        return LayerCostTable(
            model: model.name, picojoules: perChoice, fixedPicojoules: fixed,
            referencePicojoules: model.picojoules(for: reference.layers, timeSteps: reference.timeSteps))
    }

    private func measuredDrops(
        _ model: Spikformer, choices: [LayerQuantization], samples: Int?, progress: (Int, Int) -> Void
    ) throws -> [String: [String: Double]] {
        let source: any FrameSource = samples.map { FrameSubset(base: data.validation, count: $0) } ?? data.validation
        let reference = try Trainer.evaluate(model, on: source, batchSize: batchSize).accuracy
        let names = model.quantizableLayers.map(\.name)
        var drops: [String: [String: Double]] = [:]
        let total = names.count * choices.count
        var done = 0
        for name in names {
            for choice in choices {
                var config = QuantizationConfig.uniformChoice(.float, layers: names)
                config[name] = choice
                try model.applyQuantization(config)
                let accuracy = try Trainer.evaluate(model, on: source, batchSize: batchSize).accuracy
                drops[name, default: [:]][choice.description] = reference - accuracy
                done += 1
                progress(done, total)
            }
        }
        model.removeQuantization()
        return drops
    }

    private func fisherDrops(
        _ model: Spikformer, choices: [LayerQuantization], batches: Int, seed: UInt64, recorded: RecordedFisher?,
        progress: (Int, Int) -> Void
    ) throws -> [String: [String: Double]] {
        let layers = model.quantizableLayers
        let fisher = try recorded?.tensors(for: model)
            ?? Self.empiricalFisher(model, on: data.train, batches: batches, batchSize: batchSize, seed: seed) { done in
                progress(done, batches + layers.count)
            }
        var drops: [String: [String: Double]] = [:]
        for (index, layer) in layers.enumerated() {
            let weight = layer.weight.value
            let f = fisher[index]
            for choice in choices {
                let quantized: Tensor
                switch choice.scheme {
                case .float: quantized = weight
                case .uniform: quantized = UniformQuantizer(layer: layer.name, bits: choice.bits, weight: weight).quantize(weight)
                case .pot: quantized = PowerOfTwoQuantizer(layer: layer.name, bits: choice.bits, weight: weight).quantize(weight)
                }
                var sum = 0.0
                weight.withUnsafeBufferPointer { w in
                    quantized.withUnsafeBufferPointer { q in
                        f.withUnsafeBufferPointer { fi in
                            for i in 0..<w.count {
                                let delta = Double(q[i] - w[i])
                                sum += Double(fi[i]) * delta * delta
                            }
                        }
                    }
                }
                drops[layer.name, default: [:]][choice.description] = 0.5 * sum
            }
            progress(batches + index + 1, batches + layers.count)
        }
        return drops
    }

    /// The mean over `batches` training batches (no augmentation, training-mode forward as in a
    /// fine-tune) of each quantizable layer's squared weight gradient. Runs the trainer with a zero
    /// learning rate, so the weights do not move, and reads the gradients after each step.
    static func empiricalFisher(
        _ model: Spikformer, on source: any FrameSource, batches: Int, batchSize: Int, seed: UInt64, progress: (Int) -> Void
    ) throws -> [Tensor] {
        var fisher = FisherAccumulator(model)
        let config = TrainingConfig(
            epochs: max(1, (batches * batchSize + source.count - 1) / max(source.count, 1)), batchSize: batchSize, learningRate: 0,
            minimumLearningRate: 0, weightDecay: 0, labelSmoothing: 0, augment: false, seed: seed, maxSteps: max(1, batches))
        try Trainer.train(model, on: source, config: config) { _ in
            fisher.addCurrentGradients()
            progress(fisher.batches)
        }
        return fisher.means
    }
}

/// `count` samples spread evenly over a frame source (splits are often ordered by class).
struct FrameSubset: FrameSource {
    let base: any FrameSource
    let limit: Int

    init(base: any FrameSource, count: Int) {
        self.base = base
        self.limit = min(count, base.count)
    }

    var count: Int { limit }
    var timeSteps: Int { base.timeSteps }
    var channels: Int { base.channels }
    var height: Int { base.height }
    var width: Int { base.width }
    var classCount: Int { base.classCount }
    private func baseIndex(_ index: Int) -> Int { index * base.count / limit }
    func label(at index: Int) -> Int { base.label(at: baseIndex(index)) }
    func writeSample(at index: Int, into buffer: UnsafeMutableBufferPointer<Float>, augment: Bool, generator: inout SeededGenerator) throws {
        try base.writeSample(at: baseIndex(index), into: buffer, augment: augment, generator: &generator)
    }
}
