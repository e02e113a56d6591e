import ArgumentParser
import Coordinator
import Evaluation
import Foundation
import QuantConfig
import SpikingNN
import Wire

/// `spikeq supernet`: the seed paper's differentiable search for one energy weight λ.
struct SupernetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "supernet",
        abstract: "Train a Gumbel-softmax supernet for one energy weight and derive its configuration.",
        discussion: """
            Every quantizable layer mixes all the choices the space allows it (each with its own learned \
            step or α) with weights softmax((θ + Gumbel noise)/τ), and the model fine-tunes quantization-aware \
            on cross-entropy + λ · E_expected / E_fp32, where E_expected sums each layer's energy under each \
            choice (at the FP32 model's firing rates) weighted by its probability. τ anneals from \
            --temperature-start to --temperature-end; θ has its own Adam. The derived configuration is each \
            layer's most likely choice. Larger λ gives cheaper configurations. Evaluate the derived config \
            with `spikeq evaluate --quant` (written with --config-out) for its fine-tuned accuracy.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: ModelDataOptions
    @Option(help: "λ, the weight of the relative expected energy in the loss.") var lambda: Double
    @Option(help: "Training epochs of the supernet.") var epochs: Int = 1
    @Option(help: "Stop after this many steps.") var steps: Int?
    @Option(name: .customLong("lr"), help: "Learning rate of the weights and quantizer scales.") var learningRate: Double = 1e-4
    @Option(help: "Learning rate of the architecture logits θ.") var architectureLR: Double = SupernetSettings.defaultArchitectureLearningRate
    @Option var temperatureStart: Double = 5
    @Option var temperatureEnd: Double = 0.5
    @Flag(help: "Straight-through hard sampling: one choice per layer in the forward pass.") var hard = false
    @Option(
        help: ArgumentHelp(
            "The search space: a YAML file with schemes/bits/fixed, or a search config (its space: section). Default: uniform and pot at 2–8 bits.",
            valueName: "file"))
    var space: String?
    @Option(help: "Energy table defining E (default: the first one).") var energyModel: String?
    @Option var batch: Int = 16
    @Option var seed: UInt64 = 0
    @Option(help: "Also write the derived configuration here (YAML, for `spikeq evaluate --quant`).") var configOut: String?
    @Flag(help: "Print the SupernetResult as JSON.") var json = false

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1.") }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1.") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1.") }
        let settings = self.settings
        if let problem = settings.problem { throw ValidationError("\(problem).") }
    }

    var settings: SupernetSettings {
        SupernetSettings(
            lambda: lambda, temperatureStart: temperatureStart, temperatureEnd: temperatureEnd, architectureLearningRate: architectureLR,
            hardSampling: hard, energyModel: energyModel)
    }

    func run() async throws {
        global.bootstrapLogging()
        let evaluator = try options.makeEvaluator()
        let quantizationSpace = try evaluator.quantizationSpace(file: space)
        let bar = ProgressBar(label: "supernet")
        let result = try evaluator.trainSupernet(
            space: quantizationSpace, settings: settings,
            budget: FineTuneBudget(epochs: epochs, maxSteps: steps, learningRate: learningRate, batchSize: batch), seed: seed
        ) { progress in
            guard progress.phase == "supernet" else { return }
            bar.update(
                (progress.epoch - 1) * progress.steps + progress.step, progress.epochs * progress.steps,
                stage: "supernet \(progress.epoch)/\(progress.epochs)",
                detail: String(format: "loss %.3f acc %.1f%%", progress.loss ?? .nan, (progress.accuracy ?? .nan) * 100))
        }
        bar.finish()
        if let configOut {
            try result.config.yaml(order: quantizationSpace.layers).write(to: URL(fileURLWithPath: configOut), atomically: true, encoding: .utf8)
        }
        if json {
            print(String(decoding: try BodyCodec.encode(result), as: UTF8.self))
        } else {
            print(SupernetText.summary(result, layers: quantizationSpace.layers))
        }
    }
}

/// Human-readable summary of one supernet result.
enum SupernetText {
    static func summary(_ r: SupernetResult, layers: [String]) -> String {
        var lines = [
            String(format: "λ            %g", r.lambda),
            "derived      \(r.config.summary(order: layers))  (\(r.configHash.prefix(12)))",
            String(format: "bits         %.2f average (expected %.2f under π)", r.averageBits, r.expectedAverageBits),
            String(format: "energy       derived %.3f × FP32, expected %.3f × FP32", r.derivedRelativeEnergy, r.expectedRelativeEnergy)
                + " (\(r.energyModel), FP32 " + String(format: "%.3f µJ)", r.referencePicojoules / 1e6),
            String(format: "training     %d steps in %.1f s", r.steps, r.seconds),
            "",
            "π (final, top three per layer):",
        ]
        let width = layers.map(\.count).max() ?? 10
        for layer in layers {
            let top = (r.probabilities[layer] ?? [:]).sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.prefix(3)
            lines.append("  " + layer.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                + top.map { ($0.key + String(format: " %.2f", $0.value)).padding(toLength: 10, withPad: " ", startingAt: 0) }.joined(separator: " "))
        }
        lines.append("")
        lines.append("trajectory:   step      τ   cross-entropy  accuracy  E/E_fp32")
        for point in r.trajectory {
            lines.append(String(format: "             %5d  %5.2f  %13.4f  %7.1f%%  %8.3f",
                                point.step, point.temperature, point.crossEntropy, point.accuracy * 100, point.expectedRelativeEnergy))
        }
        return lines.joined(separator: "\n")
    }
}

extension CandidateEvaluator {
    /// The checked space over this model's quantizable layers, from a space file or search config
    /// (`--space`), or the default space when there is none.
    func quantizationSpace(file: String?) throws -> QuantizationSpace {
        let settings = try file.map { try SearchConfig.loadSpace(from: URL(fileURLWithPath: $0)) } ?? SpaceSettings()
        return try settings.quantizationSpace(layers: try baseModel().quantizableLayers.map(\.name))
    }
}
