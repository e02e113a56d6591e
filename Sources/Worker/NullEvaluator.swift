import Foundation
import QuantConfig
import Transport
public import Wire
import Threading

/// An evaluator that does no training: it waits a fixed time, reports progress, and returns a
/// deterministic result derived from the config alone. For tests and for measuring the distributed
/// machinery (`spikeq bench search`).
///
/// Its results are fake and labelled as such: ``EvaluationResult/toolVersion`` ends in
/// `+null-evaluator` and the only energy model is named `null-evaluator`. The figures follow simple
/// laws of the mean layer bit width *b̄* (unweighted over the config's layers; float layers count 32):
/// - accuracy = 0.95 − 0.5·exp(−(b̄ − 1)/1.5) − 0.01·(fraction of power-of-two layers), on `validation`;
/// - energy = 1000·b̄ pJ, reduction 32/b̄; packed size = Σ bits × 1024 / 8 bytes (1024 weights a layer).
///
/// A supernet job derives, for every layer, the allowed choice minimising the same laws' per-layer
/// loss `0.5·exp(−(b − 1)/1.5) + 0.01·[pot] + λ·b/32`, so larger λ gives fewer bits.
public struct NullEvaluator: Evaluator {
    public static let label = "null-evaluator"

    public var sleep: Duration
    public var progressReports: Int
    /// Whether to fetch the base checkpoint first, exercising the artifact service and cache.
    public var fetchCheckpoint: Bool

    public init(sleep: Duration = .milliseconds(100), progressReports: Int = 4, fetchCheckpoint: Bool = false) {
        self.sleep = sleep
        self.progressReports = progressReports
        self.fetchCheckpoint = fetchCheckpoint
    }

    public func evaluate(_ request: EvaluationRequest, context: EvaluationContext) throws -> EvaluationReply {
        let started = ContinuousClock.now
        guard request.schema == EvaluationRequest.currentSchema || request.isSupernetJob else {
            throw EvaluationFailure(kind: .schema, message: "unknown request schema '\(request.schema)'")
        }
        if fetchCheckpoint {
            _ = try context.checkpoint(for: request.baseCheckpoint)
        }
        let reports = max(progressReports, 1)
        let slice = sleep / reports
        for step in 1...reports {
            try wait(slice, context: context)
            context.report(
                EvaluationProgress(
                    candidateId: request.candidateId, attempt: request.attempt, phase: "finetune", epoch: step,
                    epochs: reports, step: step, steps: reports))
        }
        let seconds = (ContinuousClock.now - started).seconds
        if let job = request.supernet { return EvaluationReply(supernet: Self.supernet(for: job, seconds: seconds)) }
        return EvaluationReply(result: Self.result(for: request, seconds: seconds))
    }

    /// The deterministic fake supernet result for a job (see the type's documentation).
    public static func supernet(for job: SupernetJob, seconds: Double) -> SupernetResult {
        let lambda = job.settings.lambda
        func loss(_ choice: LayerQuantization) -> Double {
            let bits = Double(choice.bits)
            return 0.5 * exp(-(bits - 1) / 1.5) + (choice.scheme == .pot ? 0.01 : 0) + lambda * bits / 32
        }
        var config = QuantizationConfig(layers: [:])
        var probabilities: [String: [String: Double]] = [:]
        for layer in job.space.layers {
            let choices = job.space.choices(for: layer)
            let weights = choices.map { exp(-loss($0) * 20) }
            let total = weights.reduce(0, +)
            probabilities[layer] = Dictionary(uniqueKeysWithValues: zip(choices.map(\.description), weights.map { $0 / total }))
            config[layer] = choices.min { loss($0) < loss($1) }!
        }
        let meanBits = job.space.layers.map { Double(config[$0]!.bits) }.reduce(0, +) / Double(max(job.space.layers.count, 1))
        return SupernetResult(
            lambda: lambda, config: config, probabilities: probabilities, energyModel: label, referencePicojoules: 32_000,
            expectedRelativeEnergy: meanBits / 32, derivedRelativeEnergy: meanBits / 32, averageBits: meanBits, expectedAverageBits: meanBits,
            trajectory: [], steps: 0, seconds: seconds)
    }

    private func wait(_ duration: Duration, context: EvaluationContext) throws {
        let deadline = ContinuousClock.now + duration
        while ContinuousClock.now < deadline {
            if context.isCancelled { throw EvaluationFailure(kind: .internal, message: "cancelled: the worker is stopping") }
            Thread.sleep(forTimeInterval: min((deadline - .now).seconds, 0.02))
        }
    }

    /// The deterministic fake result for a request.
    public static func result(for request: EvaluationRequest, seconds: Double) -> EvaluationResult {
        let config = request.config
        let choices = config.layers.sorted { $0.key < $1.key }
        let bits = choices.map { Double($0.value.bits) }
        let meanBits = bits.isEmpty ? 32 : bits.reduce(0, +) / Double(bits.count)
        let potFraction = choices.isEmpty ? 0 : Double(choices.filter { $0.value.scheme == .pot }.count) / Double(choices.count)
        let accuracy = 0.95 - 0.5 * exp(-(meanBits - 1) / 1.5) - 0.01 * potFraction
        let energy = 1000 * meanBits
        let layers = choices.map { name, choice in
            LayerMeasurement(
                name: name, quantization: choice, parameters: 1024, inputFiringRate: 0.5, spikingInput: true,
                macs: 1024, sops: 512, energy: [label: 1000 * Double(choice.bits) / Double(max(choices.count, 1))])
        }
        return EvaluationResult(
            configHash: config.hash, config: config, accuracy: ["validation": accuracy], averageBits: meanBits,
            compression: 32 / meanBits, packedBytes: choices.reduce(0) { $0 + $1.value.bits * 1024 / 8 },
            energy: [label: EnergyFigure(picojoules: energy, reduction: 32_000 / energy)], layers: layers,
            reference: ReferenceFigures(accuracy: ["validation": 0.95], energy: [label: 32_000], bytes: choices.count * 4096),
            fineTune: FineTuneSummary(epochs: request.budget.epochs, steps: 0, finalLoss: nil, seconds: seconds),
            wallSeconds: seconds, datasetFingerprint: request.dataset.fingerprint,
            checkpointHash: request.baseCheckpoint.sha256, toolVersion: "\(SpikeQuantVersion.string)+\(label)")
    }
}
