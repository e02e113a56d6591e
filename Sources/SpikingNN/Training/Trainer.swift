import Foundation
import Threading
public import Seeding
public import Tensor

/// Settings of a fine-tune or training run.
public struct TrainingConfig: Sendable, Hashable, Codable {
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Float
    public var minimumLearningRate: Float
    public var weightDecay: Float
    public var warmupEpochs: Double
    public var labelSmoothing: Float
    public var augment: Bool
    public var seed: UInt64
    /// Stop after this many optimizer steps, whichever of `epochs` and `maxSteps` comes first (the
    /// cosine schedule spans the steps actually taken, unless `scheduleSteps` says otherwise).
    public var maxSteps: Int?
    /// The cosine schedule's length, when it is longer than this run: a short fine-tune is then
    /// exactly the first `maxSteps` steps of the long one (multi-fidelity rungs), so a later run can
    /// continue it with ``startStep``. Nil: the steps this run takes.
    public var scheduleSteps: Int?
    /// Optimizer steps already taken by an earlier run of the same schedule, data order and seed
    /// (with the model and optimizer it left behind): their batches are drawn and skipped, so the
    /// data order and augmentation continue exactly where that run stopped. 0 for a fresh run.
    public var startStep: Int

    public init(epochs: Int, batchSize: Int = 16, learningRate: Float = 1e-3, minimumLearningRate: Float = 1e-5,
                weightDecay: Float = 0.06, warmupEpochs: Double = 0, labelSmoothing: Float = 0.1, augment: Bool = true,
                seed: UInt64 = 0, maxSteps: Int? = nil, scheduleSteps: Int? = nil, startStep: Int = 0) {
        self.maxSteps = maxSteps
        self.scheduleSteps = scheduleSteps
        self.startStep = startStep
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.minimumLearningRate = minimumLearningRate
        self.weightDecay = weightDecay
        self.warmupEpochs = warmupEpochs
        self.labelSmoothing = labelSmoothing
        self.augment = augment
        self.seed = seed
    }
}

/// Reported after every optimizer step.
public struct TrainingProgress: Sendable, Hashable {
    public var epoch: Int
    /// Step within the epoch (0-based) and over the run.
    public var step: Int
    public var globalStep: Int
    public var stepsPerEpoch: Int
    /// Mean loss and accuracy of this step's batch.
    public var loss: Double
    public var accuracy: Double
    public var samplesPerSecond: Double
    public var learningRate: Float
}

/// Summary of a training run.
public struct TrainingSummary: Sendable, Hashable {
    public var steps: Int
    public var samples: Int
    /// Mean loss and accuracy over the last epoch's batches.
    public var finalLoss: Double
    public var finalAccuracy: Double
    public var seconds: Double
}

/// Predictions of an evaluation pass.
public struct EvaluationSummary: Sendable, Hashable {
    public var accuracy: Double
    /// Arg-max class per sample, in source order.
    public var predictions: [Int]
    public var labels: [Int]
    public var samplesPerSecond: Double
}

/// Extra work a training run does around each step, for searches that train more than the
/// weights (the Gumbel-softmax supernet: temperature schedule, energy term, architecture logits).
public struct TrainingHooks {
    /// Parameters the run's optimizer leaves alone (another optimizer updates them in `afterBackward`).
    public var excluded: Set<ObjectIdentifier>
    /// Before each step's forward pass: the step over the run and the schedule's length.
    public var beforeStep: (_ step: Int, _ totalSteps: Int) -> Void
    /// After the backward pass, before the weights' update: adds any further loss term's gradients
    /// and returns that term's value (added to the step's reported loss).
    public var afterBackward: () -> Double

    public init(excluded: Set<ObjectIdentifier> = [], beforeStep: @escaping (Int, Int) -> Void = { _, _ in },
                afterBackward: @escaping () -> Double = { 0 }) {
        self.excluded = excluded
        self.beforeStep = beforeStep
        self.afterBackward = afterBackward
    }
}

/// Trains and evaluates a ``Spikformer`` on a ``FrameSource``.
///
/// Reproducible: the shuffle order, the augmentation draws and the weight updates depend only on
/// `config.seed`, the data and the thread count (``Compute/setThreadCount(_:)``).
public enum Trainer {
    /// Trains `model` in place with AdamW and a warm-up + cosine schedule.
    ///
    /// - Parameters:
    ///   - optimizer: the optimizer to continue with (its moments belong to `model`'s parameters);
    ///     nil starts a new one. Pass the same one again with `config.startStep` to continue a run.
    ///   - progress: called after every step; throwing from it stops training (e.g. on
    ///     cancellation) and the error propagates.
    /// - Returns: the summary of the steps this call ran (skipped steps are not counted).
    @discardableResult
    public static func train(_ model: Spikformer, on source: any FrameSource, config: TrainingConfig, optimizer: AdamW? = nil,
                             hooks: TrainingHooks = TrainingHooks(),
                             progress: (TrainingProgress) throws -> Void = { _ in }) throws -> TrainingSummary {
        try checkShape(model, source)
        precondition(config.epochs >= 0 && config.batchSize > 0 && config.startStep >= 0,
                      "training needs epochs ≥ 0, batch size > 0 and a non-negative start step")
        let stepsPerEpoch = (source.count + config.batchSize - 1) / config.batchSize
        let totalSteps = config.scheduleSteps ?? min(stepsPerEpoch * config.epochs, config.maxSteps ?? .max)
        let schedule = CosineSchedule(baseLearningRate: config.learningRate, minimumLearningRate: config.minimumLearningRate,
                                      warmupSteps: Int((config.warmupEpochs * Double(stepsPerEpoch)).rounded()),
                                      totalSteps: totalSteps)
        let optimizer = optimizer ?? AdamW(learningRate: config.learningRate, weightDecay: config.weightDecay)
        var shuffler = SeededGenerator(seed: config.seed, stream: "trainer.shuffle")
        let clock = ContinuousClock()
        let start = clock.now
        var globalStep = 0
        var samples = 0
        var epochLoss = 0.0
        var epochCorrect = 0
        var epochSamples = 0
        let stepLimit = config.maxSteps ?? .max
        for epoch in 0..<config.epochs where globalStep < stepLimit {
            var order = Array(0..<source.count)
            order.shuffle(using: &shuffler)
            let loader = BatchLoader(source: source, order: order, batchSize: config.batchSize, augment: config.augment,
                                     seed: config.seed ^ (UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15))
            defer { loader.cancel() }
            epochLoss = 0
            epochCorrect = 0
            epochSamples = 0
            var step = 0
            while globalStep < stepLimit, let batch = try loader.next() {
                if globalStep < config.startStep {
                    // Taken by the earlier run this one continues.
                    step += 1
                    globalStep += 1
                    continue
                }
                let stepStart = clock.now
                let lr = schedule.learningRate(atStep: globalStep)
                optimizer.learningRate = lr
                let parameters = model.trainableParameters
                for p in parameters { p.zeroGradient() }
                hooks.beforeStep(globalStep, totalSteps)
                let logits = model.forward(batch.input, training: true)
                let (crossEntropy, gradient, correct) = CrossEntropy.evaluate(logits: logits, labels: batch.labels,
                                                                      labelSmoothing: config.labelSmoothing)
                model.backward(gradient)
                let loss = crossEntropy + hooks.afterBackward()
                optimizer.update(hooks.excluded.isEmpty ? parameters : parameters.filter { !hooks.excluded.contains(ObjectIdentifier($0)) })
                let seconds = (clock.now - stepStart).seconds
                samples += batch.labels.count
                epochLoss += loss * Double(batch.labels.count)
                epochCorrect += correct
                epochSamples += batch.labels.count
                try progress(TrainingProgress(epoch: epoch, step: step, globalStep: globalStep, stepsPerEpoch: stepsPerEpoch,
                                              loss: loss, accuracy: Double(correct) / Double(batch.labels.count),
                                              samplesPerSecond: Double(batch.labels.count) / max(seconds, 1e-9),
                                              learningRate: lr))
                step += 1
                globalStep += 1
            }
        }
        return TrainingSummary(steps: max(0, globalStep - config.startStep), samples: samples,
                               finalLoss: epochSamples > 0 ? epochLoss / Double(epochSamples) : 0,
                               finalAccuracy: epochSamples > 0 ? Double(epochCorrect) / Double(epochSamples) : 0,
                               seconds: (clock.now - start).seconds)
    }

    /// Evaluates `model` (running statistics, no gradients, no saved activations) on every sample.
    public static func evaluate(_ model: Spikformer, on source: any FrameSource, batchSize: Int) throws -> EvaluationSummary {
        try checkShape(model, source)
        let loader = BatchLoader(source: source, order: Array(0..<source.count), batchSize: batchSize, augment: false, seed: 0)
        defer { loader.cancel() }
        var predictions: [Int] = []
        var labels: [Int] = []
        let clock = ContinuousClock()
        let start = clock.now
        while let batch = try loader.next() {
            let logits = model.forward(batch.input, training: false)
            predictions += argmaxRows(logits)
            labels += batch.labels
        }
        let correct = zip(predictions, labels).filter { $0 == $1 }.count
        return EvaluationSummary(accuracy: labels.isEmpty ? 0 : Double(correct) / Double(labels.count), predictions: predictions,
                                 labels: labels, samplesPerSecond: Double(labels.count) / max((clock.now - start).seconds, 1e-9))
    }

    /// Re-estimates every BatchNorm's running statistics as the exact average of the batch
    /// statistics over `batches` batches (all samples if nil), with the weights fixed.
    ///
    /// After a short fine-tune the exponential running averages still mix in statistics of
    /// earlier weights, and spiking layers are sensitive to that; re-estimating them before
    /// evaluation (as is common after quantization-aware training) removes the lag. No gradients
    /// are computed.
    public static func recalibrateBatchNorm(_ model: Spikformer, on source: any FrameSource, batchSize: Int,
                                            batches: Int? = nil, seed: UInt64 = 0) throws {
        try checkShape(model, source)
        var shuffler = SeededGenerator(seed: seed, stream: "trainer.recalibrate")
        var order = Array(0..<source.count)
        order.shuffle(using: &shuffler)
        if let batches { order = Array(order.prefix(batches * batchSize)) }
        let loader = BatchLoader(source: source, order: order, batchSize: batchSize, augment: false, seed: seed)
        defer { loader.cancel() }
        let norms = model.batchNorms
        let saved = norms.map(\.momentum)
        for norm in norms { norm.collectsBatchStatistics = true }
        defer {
            for (norm, momentum) in zip(norms, saved) {
                norm.momentum = momentum
                norm.collectsBatchStatistics = false
            }
        }
        // Evaluation mode with batch statistics: the same normalisation and spikes as a training
        // pass, without keeping activations or re-quantizing the weights every batch.
        var count = 0
        while let batch = try loader.next() {
            count += 1
            for norm in norms { norm.momentum = 1 / Float(count) }
            _ = model.forward(batch.input, training: false)
        }
    }

    static func argmaxRows(_ logits: Tensor) -> [Int] {
        let (rows, columns) = (logits.shape[0], logits.shape[1])
        let values = logits.scalars
        return (0..<rows).map { r in
            let row = values[(r * columns)..<((r + 1) * columns)]
            return row.firstIndex(of: row.max()!)! - r * columns
        }
    }

    package static func checkShape(_ model: Spikformer, _ source: any FrameSource) throws {
        let c = model.config
        guard source.timeSteps == c.timeSteps, source.channels == c.inputChannels, source.height == c.inputHeight,
              source.width == c.inputWidth else {
            throw TrainingError(message: "frames [\(source.timeSteps), \(source.channels), \(source.height), \(source.width)] do not match the model's input [\(c.timeSteps), \(c.inputChannels), \(c.inputHeight), \(c.inputWidth)]")
        }
        guard source.classCount <= c.classes else {
            throw TrainingError(message: "the data has \(source.classCount) classes but the model only \(c.classes)")
        }
    }
}

/// Data that does not fit the model.
public struct TrainingError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

