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
    @Option(help: "Record the squared weight gradients of this many last steps beside the checkpoint (<name>.fisher.safetensors), so a search's Fisher sensitivity table costs no gradient passes; 0: none.")
    var fisherBatches: Int = BaseModelTraining.defaultFisherBatches
    @Option(help: "Compute threads (default: all cores).") var threads: Int?

    func validate() throws {
        guard epochs > 0, batch > 0 else { throw ValidationError("--epochs and --batch must be positive.") }
        guard fisherBatches >= 0 else { throw ValidationError("--fisher-batches must not be negative.") }
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
        let trained = try trainFP32(modelConfig, on: data, training: training, seed: seed, fisherBatches: fisherBatches)
        let network = trained.network
        let url = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try trained.save(to: url, datasetFingerprint: data.fingerprint)
        let validation = try Trainer.evaluate(network, on: data.validation, batchSize: 32)
        let test = try Trainer.evaluate(network, on: data.test, batchSize: 32)
        print(String(format: "validation accuracy %.2f%%, test accuracy %.2f%%", validation.accuracy * 100, test.accuracy * 100))
        print("checkpoint: \(url.path)")
    }
}

/// Prepares (or opens the cache of) a dataset config with a progress bar.
func prepareData(path: String) throws -> EvaluationData {
    try prepareData(DatasetConfig.load(path: path))
}

/// The same for a loaded config.
func prepareData(_ config: DatasetConfig) throws -> EvaluationData {
    let bar = ProgressBar(label: config.name)
    let data = try EvaluationData.prepare(config) { progress in
        bar.update(progress.completed, progress.total, stage: progress.stage.rawValue)
    }
    bar.finish()
    return data
}

/// Trains a fresh FP32 model with a progress bar (epoch, loss, accuracy, samples/s) and a line per epoch.
func trainFP32(
    _ config: SpikformerConfig, on data: EvaluationData, training: TrainingConfig, seed: UInt64,
    fisherBatches: Int = BaseModelTraining.defaultFisherBatches
) throws -> TrainedBaseModel {
    let bar = ProgressBar(label: "train")
    let trained = try BaseModelTraining.train(config, on: data, training: training, seed: seed, fisherBatches: fisherBatches) { progress, loss, accuracy in
        bar.update(
            progress.globalStep + 1, progress.stepsPerEpoch * training.epochs, stage: "epoch \(progress.epoch + 1)/\(training.epochs)",
            detail: String(format: "loss %.3f acc %.1f%% %.0f samples/s", loss, accuracy * 100, progress.samplesPerSecond))
    } epoch: { report in
        guard let validation = report.validationAccuracy else { return }
        bar.finish()
        FileHandle.standardError.write(Data(String(
            format: "epoch %d/%d: train loss %.3f, train accuracy %.1f%%, validation accuracy %.2f%%\n", report.epoch + 1, report.epochs,
            report.trainLoss, report.trainAccuracy * 100, validation * 100).utf8))
    }
    bar.finish()
    return trained
}
