import Benchmarks
import ArgumentParser
import Foundation
import QuantConfig
import Quantization
import SpikingNN
import Tensor

/// `spikeq bench …`: engine throughput on this machine.
/// `spikeq bench train|infer`: engine throughput (samples/s, GFLOP/s) against this machine's sgemm.
enum EngineBench {

    struct Options: ParsableArguments {
        @Option(help: ArgumentHelp("Model configuration (YAML) or checkpoint (.safetensors).", valueName: "file"))
        var model: String

        @Option(help: "Samples per batch.")
        var batch: Int = 16

        @Option(help: "Compute threads (kernels and OpenBLAS) for this process.")
        var threads: Int = ProcessInfo.processInfo.activeProcessorCount

        @Option(help: "Measured steps (the median is reported).")
        var steps: Int = 5

        @Option(help: "Unmeasured warm-up steps.")
        var warmup: Int = 1

        @Option(help: ArgumentHelp("Attach the quantizers of this config (YAML or JSON) first, as a candidate's fine-tune does.", valueName: "file"))
        var quant: String?

        @Option(help: "Product kernels: auto (by measured input density), dense (GEMMs only) or events (event-driven where available).")
        var products: ProductMode = .fromEnvironment

        @Flag(help: "Print JSON.")
        var json = false

        func validate() throws {
            guard batch > 0 else { throw ValidationError("--batch must be at least 1.") }
            guard threads > 0 else { throw ValidationError("--threads must be at least 1.") }
            guard steps > 0 else { throw ValidationError("--steps must be at least 1.") }
            guard warmup >= 0 else { throw ValidationError("--warmup must not be negative.") }
        }
    }

    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Training steps (forward, backward, AdamW) per second.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: Options
        func run() throws {
            global.bootstrapLogging()
            try EngineBench.run(options, mode: .train)
        }
    }

    struct Infer: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Inference (evaluation-mode forward) samples per second.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: Options
        func run() throws {
            global.bootstrapLogging()
            try EngineBench.run(options, mode: .infer)
        }
    }

    static func run(_ options: Options, mode: EngineBenchmark.Mode) throws {
        Compute.setThreadCount(options.threads)
        let model = try ModelLoader.load(options.model)
        if let quant = options.quant {
            let config = try QuantizationConfig.load(contentsOf: URL(fileURLWithPath: quant), layerNames: model.quantizableLayers.map(\.name))
            try model.applyQuantization(config)
        }
        model.productMode = options.products
        let c = model.config
        // Sparse event counts in moving blobs; a pool of 2 batches is generated once so that the
        // benchmark measures the engine, not the generator.
        let frames = try SyntheticEventFrames(count: 2 * options.batch, timeSteps: c.timeSteps, channels: c.inputChannels,
                                              height: c.inputHeight, width: c.inputWidth, classCount: c.classes, seed: 1)
            .materialized(count: 2 * options.batch)
        let density = Double(frames.samples.lazy.filter { $0 != 0 }.count) / Double(frames.samples.count)
        let sgemm = BLAS.measureGFLOPS()
        let result = try EngineBenchmark.run(model, on: frames, mode: mode, batchSize: options.batch, steps: options.steps,
                                             warmup: options.warmup)
        let utilisation = result.achievedGFLOPS / sgemm
        if options.json {
            let object: [String: Any] = [
                "mode": result.mode, "model": c.name ?? options.model, "batch": result.batchSize, "threads": result.threads,
                "samples_per_second": result.samplesPerSecond, "achieved_gflops": result.achievedGFLOPS,
                "sgemm_gflops": sgemm, "flop_utilisation": utilisation, "step_seconds": result.stepSeconds,
                "input_density": density, "blas_core": Compute.blasCoreName, "dense_macs_per_sample": model.denseMACsPerTimeStep * c.timeSteps,
                "kernel_isa": EventKernels.instructionSet, "products": options.products.rawValue, "quant": options.quant ?? "none",
                "layers": model.productRecords.map { layer -> [String: Any] in
                    let r = layer.record
                    return ["layer": layer.layer, "forward_dense": r.denseForward, "forward_events": r.eventForward,
                            "exact_levels": r.exactLevels, "integer_forward": r.integerForward, "weight_gradient_dense": r.denseWeightGradient,
                            "weight_gradient_events": r.eventWeightGradient, "density": r.meanDensity]
                },
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("\(mode.rawValue) \(c.name ?? options.model): batch \(result.batchSize), \(result.threads) threads, input density \(String(format: "%.1f", density * 100)) %")
            print("  samples/s        \(String(format: "%.2f", result.samplesPerSecond))   (median of \(result.stepSeconds.count) steps)")
            print("  achieved GFLOP/s \(String(format: "%.1f", result.achievedGFLOPS))   (dense-equivalent)")
            print("  sgemm GFLOP/s    \(String(format: "%.1f", sgemm))   (1024³, this run)")
            print("  utilisation      \(String(format: "%.1f", utilisation * 100)) %   (OpenBLAS kernels: \(Compute.blasCoreName))")
            print("  event kernels    \(EventKernels.instructionSet)   (products: \(options.products.rawValue), quantization: \(options.quant ?? "none"))")
            print("  layer                          density  forward (dense/events, exact levels)  weight gradient (dense/events)")
            for (layer, r) in model.productRecords {
                let forward = "\(r.denseForward)/\(r.eventForward), \(r.exactLevels) exact" + (r.integerForward > 0 ? " (\(r.integerForward) int8)" : "")
                let gradient = "\(r.denseWeightGradient)/\(r.eventWeightGradient)"
                print("  " + layer.padding(toLength: 30, withPad: " ", startingAt: 0)
                      + String(format: " %6.1f %%", r.meanDensity * 100) + "  " + forward.padding(toLength: 36, withPad: " ", startingAt: 0)
                      + "  " + gradient)
            }
        }
    }
}

extension ProductMode: ExpressibleByArgument {}
