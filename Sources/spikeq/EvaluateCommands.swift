import ArgumentParser
import Evaluation
import Foundation
import QuantConfig
import Quantization
import Search
import SpikingNN
import Tensor
import Wire

/// Options shared by the single-model commands: checkpoint, data, energy tables, threads.
struct ModelDataOptions: ParsableArguments {
    @Option(help: "The FP32 checkpoint (.safetensors).") var checkpoint: String
    @Option(help: "Dataset config (configs/datasets/*.yaml).") var data: String
    @Option(
        name: .customLong("energy"),
        help: ArgumentHelp("Energy table(s) (default: every configs/energy/*.yaml).", valueName: "file"))
    var energy: [String] = []
    @Option(help: "Compute threads (default: all cores).") var threads: Int?
    @Option(help: "Where the FP32 reference measurement is cached.") var cacheDir: String = ".spikeq-cache"

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1.") }
    }

    func energyModels() throws -> [EnergyModel] {
        var files = energy
        if files.isEmpty {
            let directory = URL(fileURLWithPath: "configs/energy")
            files = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
                .filter { $0.hasSuffix(".yaml") }.sorted().map { directory.appendingPathComponent($0).path }
        }
        guard !files.isEmpty else { throw ValidationError("No energy tables: pass --energy FILE (see configs/energy/).") }
        return try files.map { try EnergyModel.load(contentsOf: URL(fileURLWithPath: $0)) }
    }

    func makeEvaluator() throws -> CandidateEvaluator {
        Compute.setThreadCount(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let data = try prepareData(path: self.data)
        return try CandidateEvaluator(
            checkpoint: URL(fileURLWithPath: checkpoint), data: data, energyModels: try energyModels(),
            cacheDirectory: URL(fileURLWithPath: cacheDir))
    }
}

/// `spikeq evaluate`: the single-candidate evaluation a worker runs.
struct EvaluateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Fine-tune and evaluate one quantization config (what a search worker runs).",
        discussion: """
            Attaches the per-layer quantizers of --quant to the FP32 checkpoint, fine-tunes quantization-aware on \
            the training split, and measures accuracy (validation and test), per-layer firing, energy under every \
            table, average bits, compression and packed size, against the FP32 model measured the same way. \
            Progress goes to stderr; the result to stdout (--json: the EvaluationResult JSON).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: ModelDataOptions
    @Option(help: "Quantization config (YAML or JSON; see docs/quantization.md).") var quant: String
    @Option(help: "Fine-tuning epochs (0: quantize without fine-tuning).") var finetuneEpochs: Int = 1
    @Option(help: "Stop fine-tuning after this many steps.") var finetuneSteps: Int?
    @Option(name: .customLong("lr"), help: "Fine-tuning learning rate.") var learningRate: Double = 1e-4
    @Option var batch: Int = 16
    @Option var seed: UInt64 = 0
    @Option(help: "Also write the packed model here.") var packedOut: String?
    @Option(help: "Also write its float form here (dequantized FP32 checkpoint, loads in PyTorch; see python/).") var floatOut: String?
    @Flag(help: "Print the EvaluationResult as JSON.") var json = false

    func run() async throws {
        global.bootstrapLogging()
        let evaluator = try options.makeEvaluator()
        let layers = try evaluator.baseModel().quantizableLayers.map(\.name)
        let config = try QuantizationConfig.load(contentsOf: URL(fileURLWithPath: quant), layerNames: layers)
        let bar = ProgressBar(label: "evaluate")
        let outcome = try evaluator.evaluate(
            config, budget: FineTuneBudget(epochs: finetuneEpochs, maxSteps: finetuneSteps, learningRate: learningRate, batchSize: batch),
            seed: seed
        ) { progress in
            if progress.phase == "finetune" {
                bar.update(
                    (progress.epoch - 1) * progress.steps + progress.step, progress.epochs * progress.steps,
                    stage: "fine-tune \(progress.epoch)/\(progress.epochs)",
                    detail: String(format: "loss %.3f acc %.1f%%", progress.loss ?? .nan, (progress.accuracy ?? .nan) * 100))
            }
        }
        bar.finish()
        if let packedOut {
            try Data(outcome.packedModel).write(to: URL(fileURLWithPath: packedOut), options: .atomic)
        }
        if let floatOut {
            let packed = try SafetensorsDocument.parse(Data(outcome.packedModel), file: "the packed model")
            try PackedModel.dequantized(packed, file: "the packed model").write(to: URL(fileURLWithPath: floatOut))
        }
        if json {
            print(String(decoding: try BodyCodec.encode(outcome.result), as: UTF8.self))
        } else {
            print(ResultText.summary(outcome.result, layers: layers))
        }
    }
}

/// `spikeq sensitivity`: per-layer accuracy drop of quantizing one layer alone.
struct SensitivityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sensitivity",
        abstract: "Measure each layer's sensitivity to each scheme and width, with its per-choice energy.",
        discussion: """
            Writes a SensitivityTable JSON that a search config names under search.sensitivity: the search \
            seeds configurations from it (the exact multiple-choice knapsack at several energy budgets) and \
            weights its mutations by it. --method drop measures the validation accuracy drop of quantizing \
            one layer at a time (layers × choices evaluations, no fine-tuning); --method fisher predicts the \
            loss increase from the empirical Fisher information (a few gradient passes, or none when the \
            checkpoint's training recorded its squared gradients beside it: NAME.fisher.safetensors, from \
            spikeq train). The table also holds every layer's energy under every choice at the FP32 firing \
            rates (--energy-model).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: ModelDataOptions
    @Option(parsing: .upToNextOption, help: "Widths to measure.") var bits: [Int] = QuantizationSpace.defaultBits
    @Option(parsing: .upToNextOption, help: "Schemes to measure.") var schemes: [String] = ["uniform", "pot"]
    @Option(help: "drop (measured accuracy drop) or fisher (predicted loss increase).") var method: Method = .drop
    @Option(help: "Validation samples to measure on with --method drop (default: all).") var samples: Int?
    @Option(help: "Training batches for the Fisher estimate with --method fisher.") var batches: Int = 16
    @Flag(inversion: .prefixedNo, help: "With --method fisher, use the Fisher the checkpoint's training recorded beside it when it averages at least --batches batches.")
    var recorded = true
    @Option(help: "Energy table for the per-choice energies (default: the first one).") var energyModel: String?
    @Option(help: "Where to write the table (JSON).") var out: String

    func validate() throws {
        guard batches >= 1 else { throw ValidationError("--batches must be at least 1.") }
        if let samples, samples < 1 { throw ValidationError("--samples must be at least 1.") }
        _ = try choices()
    }

    /// Every scheme × width asked for.
    func choices() throws -> [LayerQuantization] {
        try schemes.flatMap { name in
            guard let scheme = QuantScheme(rawValue: name), scheme != .float else {
                throw ValidationError("--schemes: `\(name)` is not uniform or pot.")
            }
            return try bits.map { b in
                guard QuantizationSpace.supportedBits.contains(b) else { throw ValidationError("--bits: \(b) is outside 2…8.") }
                return LayerQuantization(scheme: scheme, bits: b)
            }
        }
    }

    func run() async throws {
        global.bootstrapLogging()
        let choices = try choices()
        let evaluator = try options.makeEvaluator()
        if let energyModel, !evaluator.energyModels.contains(where: { $0.name == energyModel }) {
            throw ValidationError("--energy-model: no energy table named `\(energyModel)` (have \(evaluator.energyModels.map(\.name).joined(separator: ", "))).")
        }
        let record = method == .fisher && recorded
            ? try RecordedFisher.lookUp(
                forCheckpoint: URL(fileURLWithPath: options.checkpoint), sha256: evaluator.checkpointHash, batches: batches) { print($0) }
            : nil
        let bar = ProgressBar(label: "sensitivity")
        let table = try evaluator.sensitivity(
            choices: choices, method: method.sensitivityMethod, samples: samples, batches: batches, recorded: record, energyModel: energyModel
        ) {
            done, total in bar.update(done, total)
        }
        bar.finish()
        try jsonText(table).write(to: URL(fileURLWithPath: out), atomically: true, encoding: .utf8)
        let layers = try evaluator.baseModel().quantizableLayers.map(\.name)
        let width = layers.map(\.count).max() ?? 10
        let scale = method == .drop ? 100.0 : 1e6
        print("layer".padding(toLength: width, withPad: " ", startingAt: 0) + "  share " + choices.map { $0.description.leftPadded(7) }.joined())
        for layer in layers {
            let drops = choices.map { choice in
                String(format: "%.1f", (table.accuracyDrop[layer]?[choice.description] ?? .nan) * scale).leftPadded(7)
            }
            print(layer.padding(toLength: width, withPad: " ", startingAt: 0) + String(format: "  %5.1f%%", (table.costShare[layer] ?? 0) * 100) + drops.joined())
        }
        print(method == .drop
            ? "(accuracy drop in percentage points; written to \(out))"
            : "(predicted loss increase × 10⁶; written to \(out))")
    }
}

extension SensitivityCommand {
    enum Method: String, CaseIterable, ExpressibleByArgument {
        case drop, fisher
        var sensitivityMethod: SensitivityMethod { self == .drop ? .drop : .fisher }
    }
}

/// Human-readable summary of one result.
enum ResultText {
    static func summary(_ r: EvaluationResult, layers: [String]) -> String {
        var lines: [String] = []
        lines.append("config       \(r.config.summary(order: layers))  (\(r.configHash.prefix(12)))")
        for split in ["validation", "test"] {
            if let a = r.accuracy[split] {
                lines.append(split.padding(toLength: 13, withPad: " ", startingAt: 0)
                    + String(format: "%.2f%%  (FP32 %.2f%%)", a * 100, (r.reference.accuracy[split] ?? .nan) * 100))
            }
        }
        lines.append(String(format: "bits         %.2f average, %.2f× compression, %d bytes packed (FP32 %d)", r.averageBits, r.compression, r.packedBytes, r.reference.bytes))
        for (name, figure) in r.energy.sorted(by: { $0.key < $1.key }) {
            lines.append(String(format: "energy       %.3f µJ per inference", figure.picojoules / 1e6)
                + " (\(name)), " + String(format: "%.2f× less than FP32", figure.reduction))
        }
        lines.append(String(format: "fine-tune    %d steps in %.1f s; total %.1f s", r.fineTune.steps, r.fineTune.seconds, r.wallSeconds))
        return lines.joined(separator: "\n")
    }
}
