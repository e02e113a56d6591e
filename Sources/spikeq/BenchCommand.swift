import Benchmarks
import ArgumentParser
import Events
import Foundation

/// `spikeq bench …`: throughput measurements (never part of the test suite; see BENCHMARKS.md).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput of the data, compute and search paths.",
        subcommands: [EngineBench.Train.self, EngineBench.Infer.self, BenchProductsCommand.self, DataBench.self, BenchSearchCommand.self, BenchSearchQualityCommand.self, BenchFidelityCommand.self])
}

/// `spikeq bench data`: event decoding per format, frame integration, synthetic generation, cache reads.
struct DataBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Decode throughput per event format, frame integration, synthetic generation and cache reads.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Events per generated benchmark file.") var events: Int = 4_000_000
    @Option(help: "Worker threads for the parallel measurements (0 = all cores).") var threads: Int = 0
    @Flag(help: "Print JSON instead of text.") var json = false

    func run() async throws {
        global.bootstrapLogging()
        let directory = FileManager.default.temporaryDirectory.path + "/spikeq-bench-data-\(getpid())"
        let report = try EventBenchmarks.run(events: events, directory: directory, threads: threads)
        if json {
            print(try jsonText(report))
            return
        }
        print("decode (one thread, events/s):")
        for d in report.decode {
            print("  \(d.format.padding(toLength: 10, withPad: " ", startingAt: 0)) \(mega(d.eventsPerSecond)) M/s   (\(d.events) events, \(d.bytes) bytes)")
        }
        print("integrate 128×128 → T=8 × 2 × 32×32: \(mega(report.integrationEventsPerSecond)) M events/s")
        print("synthetic generation: \(String(format: "%.1f", report.generationSamplesPerSecond)) samples/s on 1 thread, \(String(format: "%.1f", report.generationSamplesPerSecondAllThreads)) samples/s on \(report.threads) (incl. integration and cache write)")
        print("cache reads: \(Int(report.cacheFramesPerSecond)) samples/s, \(Int(report.cacheFramesPerSecondAugmented)) augmented (\(Int(report.cacheBytesPerSample)) bytes/sample)")
    }

    private func mega(_ value: Double) -> String { String(format: "%.1f", value / 1e6) }
}
