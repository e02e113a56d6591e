import ArgumentParser
import Foundation
import SpikingNN

/// `spikeq model …`: inspect model configurations and checkpoints.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Inspect Spikformer configurations and checkpoints.",
        subcommands: [Info.self])
}

/// Loads a model from a YAML configuration or a safetensors checkpoint.
enum ModelLoader {
    static func load(_ path: String) throws -> Spikformer {
        let url = URL(fileURLWithPath: path)
        if url.pathExtension == "safetensors" { return try Spikformer.load(contentsOf: url) }
        return Spikformer(config: try SpikformerConfig.load(contentsOf: url))
    }
}

extension ModelCommand {
    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Parameters per layer, dense MACs per time step, and totals.")

        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("Model configuration (YAML) or checkpoint (.safetensors).", valueName: "file"))
        var model: String

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        func run() throws {
            global.bootstrapLogging()
            let spikformer = try ModelLoader.load(model)
            let macs = Dictionary(uniqueKeysWithValues: spikformer.quantizableLayers.map { ($0.name, $0.denseMACsPerTimeStep) })
            var rows: [(layer: String, parameters: Int, macs: Int)] = spikformer.parameterCountsByLayer.map {
                ($0.layer, $0.count, macs[$0.layer] ?? 0)
            }
            for block in 0..<spikformer.config.depth {
                rows.append(("blocks.\(block).attn.products", 0, spikformer.attentionMACsPerTimeStep))
            }
            let config = spikformer.config
            if json {
                let object: [String: Any] = [
                    "model": config.name ?? "",
                    "config": (try? JSONSerialization.jsonObject(with: Data(config.canonicalJSON.utf8))) ?? [:],
                    "layers": rows.map { ["layer": $0.layer, "parameters": $0.parameters, "dense_macs_per_time_step": $0.macs] },
                    "quantizable_layers": spikformer.quantizableLayers.map(\.name),
                    "parameters": spikformer.parameterCount,
                    "dense_macs_per_time_step": spikformer.denseMACsPerTimeStep,
                    "dense_macs_per_sample": spikformer.denseMACsPerTimeStep * config.timeSteps,
                    "tokens": config.tokens,
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print("\(config.name ?? "spikformer"): input \(config.inputChannels)×\(config.inputHeight)×\(config.inputWidth), T=\(config.timeSteps), D=\(config.embedDimension), depth \(config.depth), heads \(config.heads), MLP ×\(config.mlpRatio), \(config.tokens) tokens, \(config.classes) classes")
            let width = max(30, rows.map(\.layer.count).max() ?? 0)
            print("layer".padding(toLength: width, withPad: " ", startingAt: 0) + "  " + "parameters".leftPadded(12) + "  " + "MACs/time step".leftPadded(16))
            for row in rows {
                print(row.layer.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + "\(row.parameters)".leftPadded(12) + "  "
                      + (row.macs > 0 ? "\(row.macs)" : "").leftPadded(16))
            }
            print("total".padding(toLength: width, withPad: " ", startingAt: 0) + "  " + "\(spikformer.parameterCount)".leftPadded(12) + "  "
                  + "\(spikformer.denseMACsPerTimeStep)".leftPadded(16))
            print("dense MACs per sample (×T): \(spikformer.denseMACsPerTimeStep * config.timeSteps)")
        }
    }
}
