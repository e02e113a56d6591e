import QuantConfig
import Quantization
import Search
import Seeding
import SpikingNN

extension CandidateEvaluator {
    /// Per-layer sensitivity: quantizes one layer at a time (every other layer FP32, no
    /// fine-tuning) and measures the validation accuracy drop against the FP32 model, as
    /// HAWQ-style mixed-precision methods do. Each layer's cost share is its part of the FP32
    /// model's energy under `energyModel` (the first of ``energyModels`` if nil).
    ///
    /// - Parameters:
    ///   - choices: the choices to measure per layer (e.g. u2 … u8, p2 … p8).
    ///   - samples: measure on this many validation samples, spread over the split (nil: all).
    ///   - progress: (layers·choices done, total).
    public func sensitivity(
        choices: [LayerQuantization], samples: Int? = nil, energyModel: String? = nil, progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> SensitivityTable {
        let source: any FrameSource = samples.map { FrameSubset(base: data.validation, count: $0) } ?? data.validation
        let model = try baseModel()
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
        var shares: [String: Double] = [:]
        let selected = energyModel.flatMap { name in energyModels.first { $0.name == name } } ?? energyModels.first
        if let selected {
            let fp32 = try self.reference()
            let energies = fp32.layers.filter { names.contains($0.name) }.map { ($0.name, selected.picojoules(for: $0, timeSteps: fp32.timeSteps)) }
            let sum = energies.reduce(0) { $0 + $1.1 }
            if sum > 0 { for (name, energy) in energies { shares[name] = energy / sum } }
        }
        return SensitivityTable(accuracyDrop: drops, costShare: shares)
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
