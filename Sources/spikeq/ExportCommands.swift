import ArgumentParser
import Coordinator
import Export
import Evaluation
import Foundation
import RunStore
import Report
import QuantConfig
import Quantization
import SpikingNN
import Tensor

extension ExportSelection: ExpressibleByArgument {}
extension ExportFormat: ExpressibleByArgument {}

/// `spikeq export RUN --out DIR`: the chosen Pareto models, packed, with a manifest and README.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a run's Pareto-optimal models (packed safetensors), manifest.json and README.md.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var runArgument: RunArgument
    @Option(help: "Output directory.") var out: String
    @Option(help: "Which front members: pareto (all), knee, max-accuracy, min-energy.") var select: ExportSelection = .pareto
    @Option(help: "Files per model: packed (codes + scales), float (dequantized FP32 checkpoint, loads in PyTorch), or both.")
    var format: ExportFormat = .packed

    func run() throws {
        global.bootstrapLogging()
        let directory = runArgument.directory
        let manifest = try RunExport.write(run: directory.url, selection: select, format: format, to: URL(fileURLWithPath: out))
        for model in manifest.models {
            print([model.file, model.floatFile].compactMap { $0 }.joined(separator: ", ") + String(format: "  test %.2f%%  %.2f bits", (model.accuracy["test"] ?? .nan) * 100, model.averageBits))
        }
        print("\(manifest.models.count) model(s), manifest: \(URL(fileURLWithPath: out).appendingPathComponent("manifest.json").path)")
    }
}

/// What `spikeq infer --model M --json` prints (predictions in split order, as the frame cache holds them).
private struct InferOutput: Encodable {
    var file: String
    var split: String
    var accuracy: Double
    var correct: Int
    var samples: Int
    var averageBits: Double
    var predictions: [Int]
}

/// `spikeq infer`: runs packed models and checks them against their recorded accuracy.
struct InferCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Run packed models on a dataset split (and check them against an export's manifest).",
        discussion: """
            With --model, prints the accuracy of one packed model. With --manifest, runs every model an export \
            lists and fails (exit 1) unless each reproduces exactly the validation and test accuracy the search \
            recorded for it.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "A packed model (.safetensors from spikeq export).") var model: String?
    @Option(help: "An export's manifest.json: check every model in it.") var manifest: String?
    @Option(help: "Dataset config (configs/datasets/*.yaml).") var data: String
    @Option(help: "The split to run with --model: train, validation or test.") var split: String = "test"
    @Option(help: "Compute threads (default: all cores).") var threads: Int?
    @Flag(help: "With --model: print accuracy, counts and every sample's predicted class as JSON.") var json = false

    func validate() throws {
        guard (model == nil) != (manifest == nil) else { throw ValidationError("Pass exactly one of --model and --manifest.") }
        guard !json || model != nil else { throw ValidationError("--json goes with --model.") }
        guard ["train", "validation", "test"].contains(split) else { throw ValidationError("--split must be train, validation or test.") }
    }

    func run() async throws {
        global.bootstrapLogging()
        Compute.setThreadCount(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let data = try prepareData(path: self.data)
        let sources: [String: any FrameSource] = ["train": data.train, "validation": data.validation, "test": data.test]
        if let model {
            let (network, quantization, _) = try PackedModel.load(contentsOf: URL(fileURLWithPath: model))
            let summary = try Trainer.evaluate(network, on: sources[split]!, batchSize: 32)
            let averageBits = quantization.averageBits(parameterCounts: network.quantizableWeightCounts)
            if json {
                let correct = zip(summary.predictions, summary.labels).filter { $0 == $1 }.count
                print(try jsonText(InferOutput(
                    file: model, split: split, accuracy: summary.accuracy, correct: correct, samples: summary.labels.count,
                    averageBits: averageBits, predictions: summary.predictions)))
                return
            }
            print("\(URL(fileURLWithPath: model).lastPathComponent): \(split) accuracy " + String(format: "%.2f%%", summary.accuracy * 100)
                + String(format: " (%.2f average bits)", averageBits))
            return
        }
        let (exported, measurements) = try ExportVerification.verify(
            manifest: URL(fileURLWithPath: manifest!), data: sources, fingerprint: data.fingerprint)
        var files: [String] = []
        for measurement in measurements where !files.contains(measurement.file) { files.append(measurement.file) }
        for file in files {
            print(file + measurements.filter { $0.file == file }.map { m in
                "  \(m.split) " + String(format: "%.2f%%", m.measured * 100)
                    + (m.reproduced ? " (= recorded)" : String(format: " (recorded %.2f%%: MISMATCH)", m.recorded * 100))
            }.joined())
        }
        guard measurements.allSatisfy(\.reproduced) else { throw ExitCode.failure }
        let checked = files.count
        print("All \(exported.models.count) exported model(s) (\(checked) file(s)) reproduce their recorded accuracy.")
    }
}
