// RunSetup
//
// Creating a run from a search config, or finding the run to resume: the steps `spikeq search` takes
// before it binds the broker. The command line only parses arguments and shows progress.
import ContentHash
import Coordinator
import Evaluation
import Events
import Foundation
import Logging
import QuantConfig
import Quantization
import RunStore
import Search
import SpikingNN
import Wire

/// Creates or resumes a run directory and its ``Study``.
///
/// A new run prepares the dataset (its fingerprint goes into every request), trains the FP32 base model
/// when the config's checkpoint does not exist yet, copies the checkpoint into the run directory (the
/// file served to workers) and records the study setup.
public struct RunSetup {
    /// Where relative paths (`--run`, config paths, `runs/NAME`) are resolved.
    public var workingDirectory: URL
    public var logger: Logger
    /// Prepares a dataset; a front end wraps it to show progress.
    public var prepareData: (DatasetConfig) throws -> EvaluationData = { try EvaluationData.prepare($0) }
    /// Trains the base model when the config's checkpoint does not exist; a front end wraps it to show progress.
    public var trainBaseModel: (SpikformerConfig, EvaluationData, TrainingConfig, _ seed: UInt64) throws -> TrainedBaseModel = {
        try BaseModelTraining.train($0, on: $1, training: $2, seed: $3)
    }
    /// One-line notes for the user (what is being trained, the base model's validation accuracy).
    public var note: (String) -> Void = { _ in }

    public init(workingDirectory: URL, logger: Logger) {
        self.workingDirectory = workingDirectory
        self.logger = logger
    }

    /// A new run of the config at `configPath` in `runPath` (default `runs/<name>`).
    ///
    /// - Throws: ``RunSetupError`` when the directory already holds a run or the checkpoint can be
    ///   neither found nor trained; the config's, model's and dataset's own errors otherwise.
    public func create(configPath: String, runPath: String?) throws -> (RunDirectory, Study) {
        let config = try SearchConfig.load(from: RunDirectory.resolve(configPath, against: workingDirectory))
        let name = Self.runName(of: config)
        let run = RunDirectory(runPath.map { RunDirectory.resolve($0, against: workingDirectory) } ?? workingDirectory.appendingPathComponent("runs/\(name)"))
        if run.holdsRun {
            throw RunSetupError("\(run.url.path) already holds a run; continue it with --resume \(run.url.path), or pick another --run.")
        }
        let model = try SpikformerConfig.load(contentsOf: config.model)
        let datasetText = try String(contentsOf: config.dataset, encoding: .utf8)
        let data = try prepareData(try DatasetConfig.load(path: config.dataset.path))
        let checkpoint = try baseCheckpoint(config, model: model, data: data, run: run)
        try FileManager.default.createDirectory(at: run.url, withIntermediateDirectories: true)
        if checkpoint.standardizedFileURL != run.baseCheckpoint {
            try? FileManager.default.removeItem(at: run.baseCheckpoint)
            try FileManager.default.copyItem(at: checkpoint, to: run.baseCheckpoint)
        }
        let checkpointHash = try ContentHash.sha256(fileAt: run.baseCheckpoint)
        let template = RequestTemplate(
            fineTune: config.fineTune,
            baseCheckpoint: ArtifactReference(sha256: checkpointHash.hex, bytes: checkpointHash.bytes, name: RunDirectory.baseCheckpointName),
            dataset: DatasetReference(configYAML: datasetText, fingerprint: data.fingerprint),
            energyModels: try config.energyModelTexts())
        let sensitivity = try config.search.measuredSensitivity.map {
            try measureSensitivity(
                $0, config: config, layers: model.quantizableLayerNames, data: data, run: run, checkpoint: checkpoint, checkpointHash: checkpointHash.hex)
        }
        let setup = try config.studySetup(name: name, layers: model.quantizableLayerNames, template: template, measuredSensitivity: sensitivity)
        return (run, try Study.create(at: run.url, setup: setup, logger: logger))
    }

    /// The table `search.sensitivity: {method: …}` asks for, measured on the run's base checkpoint
    /// for every choice any layer of the config's space may take (pinned ones too: the knapsack needs
    /// their energy) and written to `sensitivity.json` in the run directory for the user. A Fisher
    /// table uses the gradients recorded while the checkpoint trained when they are there
    /// (``RecordedFisher``: same checkpoint hash, at least as many batches), and costs no passes then.
    private func measureSensitivity(
        _ measurement: SensitivityMeasurement, config: SearchConfig, layers: [String], data: EvaluationData, run: RunDirectory,
        checkpoint: URL, checkpointHash: String
    ) throws -> SensitivityTable {
        let recorded = measurement.method == .fisher
            ? try RecordedFisher.lookUp(forCheckpoint: checkpoint, sha256: checkpointHash, batches: measurement.batches, note: note) : nil
        if recorded == nil { note("measuring the sensitivity table (\(measurement.method.rawValue)) on the base model") }
        let energyModels = try config.energyModels.map { try EnergyModel.load(contentsOf: $0.url) }
        let evaluator = try CandidateEvaluator(
            checkpoint: run.baseCheckpoint, data: data, energyModels: energyModels, cacheDirectory: run.cache)
        let space = try config.quantizationSpace(layers: layers)
        var choices: [LayerQuantization] = []
        for layer in space.layers {
            for choice in space.choices(for: layer) where choice != .float && !choices.contains(choice) { choices.append(choice) }
        }
        let table = try evaluator.sensitivity(
            choices: choices, method: measurement.method, samples: measurement.samples, batches: measurement.batches, seed: config.seed,
            recorded: recorded, energyModel: config.objectiveEnergyModel)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(table).write(to: run.url.appendingPathComponent("sensitivity.json"), options: .atomic)
        return table
    }

    /// Resumes the run `argument` names (a directory, or a name under `runs/`).
    ///
    /// - Parameter evaluations: a new evaluation budget (e.g. to extend a finished run); the stored
    ///   wall-time budget is kept.
    public func resume(_ argument: String, evaluations: Int?) throws -> (RunDirectory, Study) {
        let run = RunDirectory.locate(argument, workingDirectory: workingDirectory)
        let budget = try evaluations.map { evaluations in
            let settings = try RunStore.open(at: run.url, readOnly: true).metadata().settings
            return StudyBudget(evaluations: evaluations, wallSeconds: settings.wallTimeBudget)
        }
        return (run, try Study.resume(at: run.url, budget: budget, logger: logger))
    }

    /// For restarted pods and requeued jobs: the run at `runPath` if it already holds a run of the
    /// config at `configPath`, nil if it holds none.
    ///
    /// - Throws: ``RunSetupError`` when it holds a run of another config.
    public func existingRun(configPath: String, runPath: String) throws -> RunDirectory? {
        let run = RunDirectory(RunDirectory.resolve(runPath, against: workingDirectory))
        guard run.holdsRun else { return nil }
        let name = Self.runName(of: try SearchConfig.load(from: RunDirectory.resolve(configPath, against: workingDirectory)))
        let stored = try RunStore.open(at: run.url, readOnly: true).metadata().name
        guard stored == name else {
            throw RunSetupError("\(run.url.path) holds run '\(stored)', not '\(name)' from \(configPath); pick another --run.")
        }
        return run
    }

    /// Checks that the checkpoint about to be served is the one the run was created with (a replaced
    /// `base.safetensors` would make every later result incomparable with the earlier ones).
    public static func verifyBaseCheckpoint(_ served: ArtifactReference, of study: Study, in run: RunDirectory) throws {
        let recorded = study.setup.template.baseCheckpoint.sha256
        guard served.sha256 == recorded else {
            throw RunSetupError("\(run.baseCheckpoint.path) hashes to \(served.sha256) but the run was created with \(recorded).")
        }
    }

    /// The config's `name`, else its file name without the extension.
    public static func runName(of config: SearchConfig) -> String {
        config.name ?? config.file.deletingPathExtension().lastPathComponent
    }

    /// The config's checkpoint, trained with its recipe first when the file does not exist.
    private func baseCheckpoint(_ config: SearchConfig, model: SpikformerConfig, data: EvaluationData, run: RunDirectory) throws -> URL {
        let target = config.checkpoint.path ?? run.baseCheckpoint
        if FileManager.default.fileExists(atPath: target.path) { return target }
        guard let recipe = config.checkpoint.train else {
            throw RunSetupError("\(config.file.path): checkpoint \(target.path) does not exist and checkpoint.train is not set.")
        }
        note("training the FP32 base model (\(recipe.epochs) epochs) into \(target.path)")
        let trained = try trainBaseModel(model, data, recipe.trainingConfig(seed: config.seed), config.seed)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try trained.save(to: target, datasetFingerprint: data.fingerprint)
        let validation = try Trainer.evaluate(trained.network, on: data.validation, batchSize: 32)
        note(String(format: "FP32 base model: validation accuracy %.2f%%", validation.accuracy * 100))
        return target
    }
}

/// A run cannot be created or resumed as asked; the message names the file and what to do.
public struct RunSetupError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension TrainingRecipe {
    /// The trainer's settings for this recipe (augmented; a constant schedule keeps the peak rate).
    func trainingConfig(seed: UInt64) -> TrainingConfig {
        TrainingConfig(
            epochs: epochs, batchSize: batchSize, learningRate: Float(learningRate),
            minimumLearningRate: schedule == .constant ? Float(learningRate) : 1e-5, weightDecay: Float(weightDecay),
            warmupEpochs: Double(warmupEpochs), labelSmoothing: Float(labelSmoothing), augment: true, seed: seed)
    }
}
