import Foundation
import SpikingNN

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

    /// A fresh model trained on `data.train`; after every epoch a validation pass (evaluation mode, so
    /// running statistics stay untouched) is reported, so a user sees the curve rather than one figure.
    ///
    /// - Parameters:
    ///   - step: called after every step with the trainer's progress and the epoch's running means.
    ///   - epoch: called at the end of every epoch.
    public static func train(
        _ config: SpikformerConfig, on data: EvaluationData, training: TrainingConfig, seed: UInt64,
        step: (TrainingProgress, _ meanLoss: Double, _ meanAccuracy: Double) -> Void = { _, _, _ in },
        epoch: (EpochReport) -> Void = { _ in }
    ) throws -> Spikformer {
        let network = Spikformer(config: config, seed: seed)
        var lossSum = 0.0
        var accuracySum = 0.0
        var steps = 0
        try Trainer.train(network, on: data.train, config: training) { progress in
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
        return network
    }
}
