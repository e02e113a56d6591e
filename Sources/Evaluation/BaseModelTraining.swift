import ContentHash
import Foundation
import SpikingNN
import Tensor

/// Trains the FP32 base model every candidate is fine-tuned from (`spikeq train`, and `spikeq search`
/// when the config's checkpoint does not exist yet).
public enum BaseModelTraining {
    /// The end of one epoch: the running means of its steps and a validation pass.
    public struct EpochReport: Sendable, Hashable {
        public var epoch: Int
        public var epochs: Int
        public var trainLoss: Double
        public var trainAccuracy: Double
        /// Nil when the dataset has no validation split.
        public var validationAccuracy: Double?
    }

    /// Training batches whose squared gradients are recorded by default (the last ones; they cost
    /// nothing extra, so more than a measured Fisher estimate's 8).
    public static let defaultFisherBatches = 32

    /// A fresh model trained on `data.train`; after every epoch a validation pass (evaluation mode, so
    /// running statistics stay untouched) is reported, so a user sees the curve rather than one figure.
    /// The squared weight gradients of the last `fisherBatches` steps are averaged on the way
    /// (``RecordedFisher``), so a search's Fisher sensitivity table needs no gradient passes of its own.
    ///
    /// - Parameters:
    ///   - fisherBatches: how many of the last steps to record (0: none).
    ///   - step: called after every step with the trainer's progress and the epoch's running means.
    ///   - epoch: called at the end of every epoch.
    public static func train(
        _ config: SpikformerConfig, on data: EvaluationData, training: TrainingConfig, seed: UInt64,
        fisherBatches: Int = defaultFisherBatches,
        step: (TrainingProgress, _ meanLoss: Double, _ meanAccuracy: Double) -> Void = { _, _, _ in },
        epoch: (EpochReport) -> Void = { _ in }
    ) throws -> TrainedBaseModel {
        let network = Spikformer(config: config, seed: seed)
        var lossSum = 0.0
        var accuracySum = 0.0
        var steps = 0
        var fisher = FisherAccumulator(network)
        let stepsPerEpoch = (data.train.count + training.batchSize - 1) / training.batchSize
        let totalSteps = min(stepsPerEpoch * training.epochs, training.maxSteps ?? .max)
        let firstRecorded = totalSteps - max(0, fisherBatches)
        try Trainer.train(network, on: data.train, config: training) { progress in
            if progress.globalStep >= firstRecorded { fisher.addCurrentGradients() }
            if progress.step == 0 { (lossSum, accuracySum, steps) = (0, 0, 0) }
            lossSum += progress.loss
            accuracySum += progress.accuracy
            steps += 1
            step(progress, lossSum / Double(steps), accuracySum / Double(steps))
            guard progress.step == progress.stepsPerEpoch - 1 else { return }
            let validation = data.validation.count > 0 ? try Trainer.evaluate(network, on: data.validation, batchSize: 32).accuracy : nil
            epoch(EpochReport(
                epoch: progress.epoch, epochs: training.epochs, trainLoss: lossSum / Double(steps),
                trainAccuracy: accuracySum / Double(steps), validationAccuracy: validation))
        }
        return TrainedBaseModel(network: network, fisher: fisher.batches > 0 ? fisher.record : [:], fisherBatches: fisher.batches)
    }
}

/// A freshly trained base model and the Fisher recorded from its last training batches.
public struct TrainedBaseModel {
    public var network: Spikformer
    /// Mean squared weight gradient per quantizable layer over the last ``fisherBatches`` steps.
    public var fisher: [String: Tensor]
    public var fisherBatches: Int

    /// Writes the checkpoint to `url` (with the dataset's fingerprint) and, when gradients were
    /// recorded, the ``RecordedFisher`` beside it, bound to the checkpoint's hash. A stale record of an
    /// earlier checkpoint at that place is removed.
    public func save(to url: URL, datasetFingerprint: String) throws {
        try network.save(to: url, extraMetadata: ["spikeq.dataset_fingerprint": datasetFingerprint])
        let recordURL = RecordedFisher.url(forCheckpoint: url)
        try? FileManager.default.removeItem(at: recordURL)
        guard fisherBatches > 0 else { return }
        let hash = try ContentHash.sha256(fileAt: url).hex
        try RecordedFisher(batches: fisherBatches, checkpointSHA256: hash, perLayer: fisher).write(to: recordURL)
    }
}
