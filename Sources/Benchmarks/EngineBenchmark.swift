import Foundation
import SpikingNN
import Tensor
import Threading

/// Throughput of training steps or inference passes on a frame source.
public enum EngineBenchmark {
    public enum Mode: String, Sendable, CaseIterable {
        case train, infer
    }

    public struct Result: Sendable, Hashable {
        public var mode: String
        public var batchSize: Int
        public var threads: Int
        /// Seconds of each measured step (forward only for inference; forward, backward and the
        /// AdamW update for training), data loading overlapped.
        public var stepSeconds: [Double]
        /// Samples per second of the median step.
        public var samplesPerSecond: Double
        /// Achieved dense GFLOP/s: 2·MACs·T·B per forward, ×3 for a training step (the usual
        /// forward + two backward GEMMs estimate).
        public var achievedGFLOPS: Double
    }

    /// Runs `warmup + steps` batches and reports the median.
    public static func run(_ model: Spikformer, on source: any FrameSource, mode: Mode, batchSize: Int, steps: Int, warmup: Int = 1) throws -> Result {
        try Trainer.checkShape(model, source)
        let total = warmup + steps
        let order = (0..<(total * batchSize)).map { $0 % source.count }
        let loader = BatchLoader(source: source, order: order, batchSize: batchSize, augment: false, seed: 0)
        defer { loader.cancel() }
        let optimizer = AdamW(learningRate: 1e-4, weightDecay: 0.01)
        let clock = ContinuousClock()
        model.resetActivity()
        var times: [Double] = []
        var index = 0
        while let batch = try loader.next() {
            let start = clock.now
            switch mode {
            case .infer:
                _ = model.forward(batch.input, training: false)
            case .train:
                let parameters = model.trainableParameters
                for p in parameters { p.zeroGradient() }
                let logits = model.forward(batch.input, training: true)
                let (_, gradient, _) = CrossEntropy.evaluate(logits: logits, labels: batch.labels, labelSmoothing: 0.1)
                model.backward(gradient)
                optimizer.update(parameters)
            }
            if index >= warmup { times.append((clock.now - start).seconds) }
            index += 1
        }
        let sorted = times.sorted()
        let median = sorted[sorted.count / 2]
        let forwardFLOPs = 2 * Double(model.denseMACsPerTimeStep) * Double(model.config.timeSteps) * Double(batchSize)
        let flops = mode == .train ? 3 * forwardFLOPs : forwardFLOPs
        return Result(mode: mode.rawValue, batchSize: batchSize, threads: Compute.threadCount, stepSeconds: times,
                      samplesPerSecond: Double(batchSize) / median, achievedGFLOPS: flops / median / 1e9)
    }
}
