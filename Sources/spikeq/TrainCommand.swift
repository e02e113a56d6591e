import ArgumentParser
import Evaluation
import Events
import Foundation
import SpikingNN
import Tensor

/// `spikeq train`: trains an FP32 Spikformer on a dataset and writes a safetensors checkpoint.
struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train an FP32 spiking transformer and write a safetensors checkpoint.",
        discussion: """
            AdamW with decoupled weight decay, linear warm-up then cosine decay to 1e-5, cross-entropy with \
            label smoothing; seeded (same seed and --threads give the same weights). Prints validation and \
            test accuracy at the end. The checkpoint holds the model config in its metadata.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Model config (configs/models/*.yaml).") var model: String
    @Option(help: "Dataset config (configs/datasets/*.yaml).") var data: String
    @Option(help: "Where to write the checkpoint (.safetensors).") var out: String
    @Option var epochs: Int = 30
    @Option(help: "Mini-batch size.") var batch: Int = 16
    @Option(name: .customLong("lr"), help: "Peak learning rate.") var learningRate: Double = 1e-3
    @Option var weightDecay: Double = 0.06
    @Option var warmupEpochs: Double = 2
    @Option var labelSmoothing: Double = 0.1
    @Option var seed: UInt64 = 0
    @Option(help: "Compute threads (default: all cores).") var threads: Int?

    func validate() throws {
        guard epochs > 0, batch > 0 else { throw ValidationError("--epochs and --batch must be positive.") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1.") }
    }

    func run() async throws {
        global.bootstrapLogging()
        Compute.setThreadCount(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let modelConfig = try SpikformerConfig.load(contentsOf: URL(fileURLWithPath: model))
        let data = try prepareData(path: data)
        let training = TrainingConfig(
            epochs: epochs, batchSize: batch, learningRate: Float(learningRate), weightDecay: Float(weightDecay),
            warmupEpochs: warmupEpochs, labelSmoothing: Float(labelSmoothing), augment: true, seed: seed)
        let network = try trainFP32(modelConfig, on: data, training: training, seed: seed)
        let url = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try network.save(to: url, extraMetadata: ["spikeq.dataset_fingerprint": data.fingerprint])
        let validation = try Trainer.evaluate(network, on: data.validation, batchSize: 32)
        let test = try Trainer.evaluate(network, on: data.test, batchSize: 32)
        print(String(format: "validation accuracy %.2f%%, test accuracy %.2f%%", validation.accuracy * 100, test.accuracy * 100))
        print("checkpoint: \(url.path)")
    }
}

/// Prepares (or opens the cache of) a dataset config with a progress bar.
func prepareData(path: String) throws -> EvaluationData {
    let config = try DatasetConfig.load(path: path)
    let bar = ProgressBar(label: config.name)
    let data = try EvaluationData.prepare(config) { progress in
        bar.update(progress.completed, progress.total, stage: progress.stage.rawValue)
    }
    bar.finish()
    return data
}

/// Trains a fresh FP32 model with a progress bar (epoch, loss, accuracy, samples/s).
func trainFP32(_ config: SpikformerConfig, on data: EvaluationData, training: TrainingConfig, seed: UInt64) throws -> Spikformer {
    let network = Spikformer(config: config, seed: seed)
    let bar = ProgressBar(label: "train")
    var lossSum = 0.0
    var accuracySum = 0.0
    var steps = 0
    try Trainer.train(network, on: data.train, config: training) { p in
        if p.step == 0 { (lossSum, accuracySum, steps) = (0, 0, 0) }
        lossSum += p.loss
        accuracySum += p.accuracy
        steps += 1
        bar.update(
            p.globalStep + 1, p.stepsPerEpoch * training.epochs, stage: "epoch \(p.epoch + 1)/\(training.epochs)",
            detail: String(
                format: "loss %.3f acc %.1f%% %.0f samples/s", lossSum / Double(steps), accuracySum / Double(steps) * 100,
                p.samplesPerSecond))
        // The end of an epoch: a validation pass (evaluation mode, running statistics untouched),
        // so a user sees the curve rather than one figure after the last epoch.
        if p.step == p.stepsPerEpoch - 1, data.validation.count > 0 {
            let validation = try Trainer.evaluate(network, on: data.validation, batchSize: 32)
            bar.finish()
            FileHandle.standardError.write(Data(String(
                format: "epoch %d/%d: train loss %.3f, train accuracy %.1f%%, validation accuracy %.2f%%\n", p.epoch + 1, training.epochs,
                lossSum / Double(steps), accuracySum / Double(steps) * 100, validation.accuracy * 100).utf8))
        }
    }
    bar.finish()
    return network
}
