import ArgumentParser
import Benchmarks
import Foundation
import QuantConfig
import Quantization
import SpikingNN
import Tensor

/// `spikeq bench products`: dense GEMM against event-driven kernel per layer and input density.
struct BenchProductsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "products",
        abstract: "Dense against event-driven products, per layer of a model and input density.",
        discussion: """
            Times each convolution's and token linear's forward product and weight gradient on both paths \
            with a synthetic binary input of each density, and says which path the engine picks by itself; \
            the crossover densities in the engine come from this measurement.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Model configuration (YAML) or checkpoint (.safetensors).", valueName: "file"))
    var model: String

    @Option(help: "Samples per batch (frames per layer input = time steps × batch).")
    var batch: Int = 4

    @Option(help: "Compute threads (kernels and OpenBLAS) for this process.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(parsing: .upToNextOption, help: "Input densities (fractions of non-zero inputs).")
    var densities: [Double] = [0.05, 0.1, 0.2, 0.3]

    @Option(help: ArgumentHelp(
        "Attach the quantizers of this config (YAML or JSON) first: quantized layers then multiply integer levels, densely on int8 dot products where the CPU has them.",
        valueName: "file"))
    var quant: String?

    @Option(help: "Timed repetitions per path (the median is reported).")
    var repeats: Int = 5

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        guard batch > 0 else { throw ValidationError("--batch must be at least 1.") }
        guard threads > 0 else { throw ValidationError("--threads must be at least 1.") }
        guard repeats > 0 else { throw ValidationError("--repeats must be at least 1.") }
        guard !densities.isEmpty, densities.allSatisfy({ $0 > 0 && $0 <= 1 }) else {
            throw ValidationError("--densities must be fractions in (0, 1].")
        }
    }

    func run() throws {
        global.bootstrapLogging()
        Compute.setThreadCount(threads)
        let network = try ModelLoader.load(model)
        if let quant {
            let config = try QuantizationConfig.load(contentsOf: URL(fileURLWithPath: quant), layerNames: network.quantizableLayers.map(\.name))
            try network.applyQuantization(config)
        }
        let results = ProductPathBenchmark.run(network, batchSize: batch, densities: densities, repeats: repeats)
        if json {
            print(try jsonText(results))
            return
        }
        print("\(network.config.name ?? model): batch \(batch), \(threads) threads, event kernels \(EventKernels.instructionSet), "
              + "int8 dot products \(EventKernels.hasIntegerDotProducts ? "yes" : "no"), quantization \(quant ?? "none")")
        print("layer                          shape                              pass             density   dense ms  events ms  speed-up  auto")
        for r in results {
            print(r.layer.padding(toLength: 30, withPad: " ", startingAt: 0) + " "
                  + r.shape.padding(toLength: 34, withPad: " ", startingAt: 0) + " "
                  + r.pass.padding(toLength: 15, withPad: " ", startingAt: 0)
                  + String(format: " %6.1f %% %10.2f %10.2f %8.2f×  ", r.density * 100, r.denseMilliseconds, r.eventMilliseconds, r.speedup)
                  + r.automaticPath)
        }
    }
}
