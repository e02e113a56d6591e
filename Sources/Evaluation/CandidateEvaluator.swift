import ConfigFiles
import ContentHash
import Foundation
import QuantConfig
import Quantization
import SpikingNN
import Tensor
import Wire

/// A finished evaluation: the measured result and the packed (deployable) model it describes.
public struct EvaluatedCandidate: Sendable {
    public var result: EvaluationResult
    /// The fine-tuned model in the packed safetensors format (see ``PackedModel``).
    public var packedModel: [UInt8]
    /// The training state after the fine-tune, for a later continuation (a worker may keep it).
    public var state: FineTuneState
}

/// The FP32 model measured on the same data as every candidate.
public struct ReferenceMeasurement: Codable, Sendable {
    public var accuracy: [String: Double]
    /// Per split, which samples the FP32 model classified correctly.
    public var samples: [String: SampleOutcomes]?
    /// Activity on the validation split (the energy figures are computed from it).
    public var layers: [LayerActivity]
    public var bytes: Int
    public var timeSteps: Int

    public func figures(energyModels: [EnergyModel]) -> ReferenceFigures {
        ReferenceFigures(
            accuracy: accuracy,
            energy: Dictionary(uniqueKeysWithValues: energyModels.map { ($0.name, $0.picojoules(for: layers, timeSteps: timeSteps)) }),
            bytes: bytes, samples: samples)
    }
}

/// Evaluates quantization configurations of one FP32 checkpoint on one dataset: exactly what a
/// search worker runs for each candidate, and what `spikeq evaluate` prints.
///
/// For each candidate: copy the base model, attach the per-layer quantizers, fine-tune
/// quantization-aware on the training split, then measure accuracy on the validation and test
/// splits and per-layer firing on the validation split, from which the energy models compute
/// energy per inference. The FP32 reference is measured the same way once and cached on disk
/// (keyed by checkpoint hash, data fingerprint and tool version).
public final class CandidateEvaluator: @unchecked Sendable {
    // @unchecked: immutable after init; the base document is a value type only read.
    public let checkpointHash: String
    public let data: EvaluationData
    public let energyModels: [EnergyModel]
    public let batchSize: Int
    private let baseDocument: SafetensorsDocument
    private let checkpointFile: String
    private let cacheDirectory: URL?

    /// - Parameters:
    ///   - checkpoint: the FP32 checkpoint file.
    ///   - cacheDirectory: where the FP32 reference measurement is cached (nil: never cached).
    public init(checkpoint: URL, data: EvaluationData, energyModels: [EnergyModel], batchSize: Int = 32, cacheDirectory: URL?) throws {
        let bytes = try Data(contentsOf: checkpoint)
        checkpointHash = ContentHash.sha256(bytes)
        baseDocument = try SafetensorsDocument.parse(bytes, file: checkpoint.path)
        checkpointFile = checkpoint.path
        self.data = data
        self.energyModels = energyModels
        self.batchSize = batchSize
        self.cacheDirectory = cacheDirectory
        _ = try baseModel()  // fail early on a checkpoint that does not build
    }

    /// A fresh copy of the FP32 model.
    public func baseModel() throws -> Spikformer {
        try Spikformer(checkpoint: baseDocument, file: checkpointFile)
    }

    /// The FP32 reference, from the cache when present.
    public func reference(progress: (EvaluationProgress) -> Void = { _ in }) throws -> ReferenceMeasurement {
        let key = ContentHash.sha256("\(checkpointHash)|\(data.fingerprint)|\(SpikeQuantVersion.string)|reference-v2")
        let cacheFile = cacheDirectory?.appendingPathComponent("reference-\(key.prefix(24)).json")
        if let cacheFile, let cached = try? JSONDecoder().decode(ReferenceMeasurement.self, from: Data(contentsOf: cacheFile)) {
            return cached
        }
        progress(EvaluationProgress(candidateId: 0, attempt: 0, phase: "reference"))
        let model = try baseModel()
        let validation = try model.measure(on: data.validation, batchSize: batchSize)
        let test = try Trainer.evaluate(model, on: data.test, batchSize: batchSize)
        let reference = ReferenceMeasurement(
            accuracy: ["validation": validation.accuracy, "test": test.accuracy],
            samples: [
                "validation": SampleOutcomes(predictions: validation.predictions, labels: labels(of: data.validation)),
                "test": SampleOutcomes(predictions: test.predictions, labels: test.labels),
            ], layers: validation.layers,
            bytes: model.stateParameters.reduce(0) { $0 + $1.value.count * 4 }, timeSteps: model.config.timeSteps)
        if let cacheFile {
            try? FileManager.default.createDirectory(at: cacheFile.deletingLastPathComponent(), withIntermediateDirectories: true)
            // Data.write(options: .atomic) writes a temporary file and renames it into place, so a
            // concurrent reader (another local worker) never sees a partial file.
            try? JSONEncoder().encode(reference).write(to: cacheFile, options: .atomic)
        }
        return reference
    }

    /// Fine-tunes and measures one configuration.
    ///
    /// - Parameters:
    ///   - continuation: an earlier, shorter fine-tune of the same configuration, seed and schedule
    ///     to continue (see ``FineTuneContinuation``); nil starts from the base checkpoint.
    ///   - splits: the splits to measure (`validation`, `test`); nil: both. Energy and firing rates
    ///     come from the validation split, which is therefore always measured.
    ///   - isCancelled: polled between training steps; when true the evaluation stops with an error.
    /// - Throws: ``EvaluationFailure`` (`bad-request` for a config that does not fit the model or a
    ///   continuation that does not match, `diverged` when the loss becomes NaN, `internal` on
    ///   cancellation) or data errors.
    public func evaluate(
        _ config: QuantizationConfig, budget: FineTuneBudget, seed: UInt64, candidateId: Int64 = 0, attempt: Int = 1,
        continuation: FineTuneContinuation? = nil, splits: Set<String>? = nil,
        progress: (EvaluationProgress) -> Void = { _ in }, isCancelled: () -> Bool = { false }
    ) throws -> EvaluatedCandidate {
        let clock = ContinuousClock()
        let started = clock.now
        let reference = try reference(progress: progress)
        let (model, continued, resumedFrom, warmStart) = try startingPoint(config, budget: budget, seed: seed, continuation: continuation)
        let optimizer = continued ?? AdamW(learningRate: Float(budget.learningRate), weightDecay: Float(budget.weightDecay))
        let fineTune = try fineTune(
            model, optimizer: optimizer, budget: budget, seed: seed, startStep: resumedFrom ?? 0, candidateId: candidateId, attempt: attempt,
            progress: progress, isCancelled: isCancelled)
        let state = FineTuneState(model: model, optimizer: optimizer, key: FineTuneState.key(config: config, budget: budget, seed: seed), steps: fineTune.steps + (resumedFrom ?? 0))
        // The running statistics lag weights that moved fast under quantization; re-estimate them
        // on training batches (no augmentation) before measuring. Training uses batch statistics
        // only, so this does not change how a continuation of the fine-tune proceeds.
        if budget.epochs > 0 { try Trainer.recalibrateBatchNorm(model, on: data.train, batchSize: budget.batchSize, batches: 16, seed: seed) }
        progress(EvaluationProgress(candidateId: candidateId, attempt: attempt, phase: "evaluate"))
        let validation = try model.measure(on: data.validation, batchSize: batchSize)
        var accuracy = ["validation": validation.accuracy]
        var samples = ["validation": SampleOutcomes(predictions: validation.predictions, labels: labels(of: data.validation))]
        if splits?.contains("test") ?? true {
            let test = try Trainer.evaluate(model, on: data.test, batchSize: batchSize)
            accuracy["test"] = test.accuracy
            samples["test"] = SampleOutcomes(predictions: test.predictions, labels: test.labels)
        }
        let timeSteps = model.config.timeSteps
        var energy: [String: EnergyFigure] = [:]
        for energyModel in energyModels {
            let picojoules = energyModel.picojoules(for: validation.layers, timeSteps: timeSteps)
            let fp32 = energyModel.picojoules(for: reference.layers, timeSteps: timeSteps)
            energy[energyModel.name] = EnergyFigure(picojoules: picojoules, reduction: picojoules > 0 ? fp32 / picojoules : .infinity)
        }
        let layers = validation.layers.map { layer in
            LayerMeasurement(
                name: layer.name, quantization: layer.quantization, parameters: layer.parameters, inputFiringRate: layer.inputFiringRate,
                spikingInput: layer.spikingInput, macs: layer.macs, sops: layer.sops,
                energy: Dictionary(uniqueKeysWithValues: energyModels.map { ($0.name, $0.picojoules(for: layer, timeSteps: timeSteps)) }))
        }
        let averageBits = config.averageBits(parameterCounts: model.quantizableWeightCounts)
        let packed = PackedModel.document(of: model, extraMetadata: [
            "spikeq.config_hash": config.hash, "spikeq.checkpoint_sha256": checkpointHash, "spikeq.dataset_fingerprint": data.fingerprint,
        ])
        var summary = fineTune
        summary.resumedFrom = resumedFrom
        summary.warmStart = warmStart
        let result = EvaluationResult(
            configHash: config.hash, config: config, accuracy: accuracy,
            averageBits: averageBits, compression: 32 / averageBits,
            packedBytes: packed.names.reduce(0) { $0 + packed[$1]!.bytes.count }, energy: energy, layers: layers,
            reference: reference.figures(energyModels: energyModels), fineTune: summary,
            wallSeconds: seconds(clock.now - started), datasetFingerprint: data.fingerprint, checkpointHash: checkpointHash,
            samples: samples)
        return EvaluatedCandidate(result: result, packedModel: packed.serialized(), state: state)
    }

    /// The model and optimizer a fine-tune starts from, and what it continues.
    private func startingPoint(
        _ config: QuantizationConfig, budget: FineTuneBudget, seed: UInt64, continuation: FineTuneContinuation?
    ) throws -> (Spikformer, AdamW?, resumedFrom: Int?, WarmStart?) {
        switch continuation {
        case .state(let state)?:
            guard state.key == FineTuneState.key(config: config, budget: budget, seed: seed) else {
                throw EvaluationFailure(kind: .badRequest, message: "the training state to continue belongs to another configuration, seed or schedule")
            }
            guard state.steps <= budget.maxSteps ?? .max else {
                throw EvaluationFailure(kind: .badRequest, message: "cannot continue \(state.steps) steps into a \(budget.maxSteps ?? 0)-step fine-tune")
            }
            return (state.model, state.optimizer, state.steps, .state)
        case .packed(let bytes, let steps)?:
            let model: Spikformer
            do {
                let document = try SafetensorsDocument.parse(Data(bytes), file: "continuation")
                model = try PackedModel.load(document, file: "continuation").model
                try model.applyQuantization(config)
                try model.setQuantizerScales(from: document)
            } catch {
                throw EvaluationFailure(kind: .badRequest, message: "cannot continue from the packed model: \(error)")
            }
            guard steps <= budget.maxSteps ?? .max else {
                throw EvaluationFailure(kind: .badRequest, message: "cannot continue \(steps) steps into a \(budget.maxSteps ?? 0)-step fine-tune")
            }
            return (model, nil, steps, .packed)
        case nil:
            let model = try baseModel()
            do {
                try model.applyQuantization(config)
            } catch {
                throw EvaluationFailure(kind: .badRequest, message: error.description)
            }
            return (model, nil, nil, nil)
        }
    }

    private func labels(of source: any FrameSource) -> [Int] { (0..<source.count).map { source.label(at: $0) } }

    private func fineTune(
        _ model: Spikformer, optimizer: AdamW, budget: FineTuneBudget, seed: UInt64, startStep: Int, candidateId: Int64, attempt: Int,
        progress: (EvaluationProgress) -> Void, isCancelled: () -> Bool
    ) throws -> FineTuneSummary {
        guard budget.epochs > 0 else { return FineTuneSummary(epochs: 0, steps: 0, finalLoss: nil, seconds: 0) }
        let training = TrainingConfig(
            epochs: budget.epochs, batchSize: budget.batchSize, learningRate: Float(budget.learningRate),
            minimumLearningRate: Float(budget.learningRate) * 0.01, weightDecay: Float(budget.weightDecay), warmupEpochs: 0,
            labelSmoothing: Float(budget.labelSmoothing), augment: true, seed: seed, maxSteps: budget.maxSteps,
            scheduleSteps: budget.scheduleSteps, startStep: startStep)
        var runningLoss = 0.0
        var runningCorrect = 0.0
        var seen = 0
        let summary = try Trainer.train(model, on: data.train, config: training, optimizer: optimizer) { step in
            if isCancelled() { throw EvaluationFailure(kind: .internal, message: "cancelled") }
            if step.step == 0 { (runningLoss, runningCorrect, seen) = (0, 0, 0) }
            seen += 1
            runningLoss += step.loss
            runningCorrect += step.accuracy
            guard step.loss.isFinite else {
                throw EvaluationFailure(kind: .diverged, message: "loss became \(step.loss) at epoch \(step.epoch + 1) step \(step.step + 1)")
            }
            progress(
                EvaluationProgress(
                    candidateId: candidateId, attempt: attempt, phase: "finetune", epoch: step.epoch + 1, epochs: budget.epochs,
                    step: step.step + 1, steps: step.stepsPerEpoch, loss: runningLoss / Double(seen), accuracy: runningCorrect / Double(seen)))
        }
        let epochsRun = (summary.steps + startStep + stepsPerEpoch(budget) - 1) / stepsPerEpoch(budget)
        return FineTuneSummary(epochs: epochsRun, steps: summary.steps, finalLoss: summary.finalLoss, seconds: summary.seconds)
    }

    private func stepsPerEpoch(_ budget: FineTuneBudget) -> Int {
        max(1, (data.train.count + budget.batchSize - 1) / budget.batchSize)
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}
