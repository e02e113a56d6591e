import ArgumentParser
import Benchmarks
import Coordinator
import Foundation
import Logging

/// `spikeq bench search`: the distributed machinery with null workers (no training).
struct BenchSearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Measure dispatch overhead, coordinator CPU, scaling and heartbeat load with null workers.",
        discussion: """
            Runs a broker and local workers whose evaluations sleep a fixed time, over loopback TCP. \
            Reports dispatch round trips per second (zero-time evaluations), broker CPU per evaluation, \
            scaling efficiency = throughput / (workers / evaluation time), and a soak of many simulated \
            workers heartbeating while a real one is dispatched to.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "Worker counts for the scaling runs (comma-separated).")
    var workers: String = "1,2,4,8"

    @Option(help: "Milliseconds each scaling evaluation sleeps.")
    var evalMs: Int = 200

    @Option(help: "Evaluations per worker in each scaling run.")
    var evaluationsPerWorker: Int = 25

    @Option(help: "Zero-time evaluations for the round-trip run.")
    var roundTrips: Int = 2000

    @Option(help: "Simulated workers in the heartbeat soak (0 skips it).")
    var soakWorkers: Int = 1000

    @Option(help: "Seconds the soak lasts.")
    var soakSeconds: Int = 10

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard parsedWorkers.map({ !$0.isEmpty && $0.allSatisfy { $0 >= 1 } }) == true else {
            throw ValidationError("--workers takes positive counts separated by commas, e.g. 1,2,4,8.")
        }
        guard evalMs >= 1, evaluationsPerWorker >= 1, roundTrips >= 1, soakWorkers >= 0, soakSeconds >= 1 else {
            throw ValidationError("--eval-ms, --evaluations-per-worker, --round-trips and --soak-seconds must be positive.")
        }
    }

    private var parsedWorkers: [Int]? {
        let parts = workers.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        return parts.contains(nil) ? nil : parts.compactMap { $0 }
    }

    struct Report: Codable {
        var roundTrip: TransportBenchmark.ThroughputReport
        var scaling: [TransportBenchmark.ThroughputReport]
        var soak: TransportBenchmark.SoakReport?
    }

    func run() async throws {
        global.bootstrapLogging()
        var logger = Logger(label: "spikeq.bench")
        logger.logLevel = .error
        let bench = TransportBenchmark(logger: logger)
        FileHandle.standardError.write(Data("round trips…\n".utf8))
        let roundTrip = try await bench.throughput(workers: 1, evaluationTime: .zero, evaluationsPerWorker: roundTrips)
        var scaling: [TransportBenchmark.ThroughputReport] = []
        for count in parsedWorkers ?? [] {
            FileHandle.standardError.write(Data("scaling with \(count) workers…\n".utf8))
            scaling.append(
                try await bench.throughput(
                    workers: count, evaluationTime: .milliseconds(evalMs), evaluationsPerWorker: evaluationsPerWorker))
        }
        var soak: TransportBenchmark.SoakReport?
        if soakWorkers > 0 {
            FileHandle.standardError.write(Data("soak with \(soakWorkers) simulated workers…\n".utf8))
            soak = try await bench.soak(simulatedWorkers: soakWorkers, duration: .seconds(soakSeconds))
        }
        let report = Report(roundTrip: roundTrip, scaling: scaling, soak: soak)
        if json {
            print(try jsonText(report))
            return
        }
        print("Dispatch round trips (1 worker, zero-time evaluations)")
        print(String(format: "  %d evaluations in %.2f s: %.0f /s, %.3f ms per evaluation, broker CPU %.1f µs per evaluation",
                     roundTrip.evaluations, roundTrip.wallSeconds, roundTrip.throughput,
                     roundTrip.overheadMillisecondsPerEvaluation, roundTrip.brokerCPUMicrosecondsPerEvaluation))
        print("Scaling (\(evalMs) ms evaluations, \(evaluationsPerWorker) per worker)")
        print("  workers  evals/s  efficiency  evaluator ms  overhead ms/eval  broker CPU µs/eval")
        for row in scaling {
            print(String(format: "  %7d  %7.2f  %10.4f  %12.3f  %16.3f  %18.1f", row.workers, row.throughput, row.efficiency ?? 0,
                         row.evaluatorMillisecondsMean, row.overheadMillisecondsPerEvaluation,
                         row.brokerCPUMicrosecondsPerEvaluation))
        }
        if let soak {
            print("Heartbeat soak (\(soak.simulatedWorkers) simulated workers, \(Int(soak.heartbeatIntervalMilliseconds)) ms interval, \(String(format: "%.1f", soak.seconds)) s)")
            print(String(format: "  registered %d, lost %d, heartbeats sent %d, messages received %d",
                         soak.registeredAtEnd, soak.workersLost, soak.heartbeatsSent, soak.messagesReceived))
            print(String(format: "  broker CPU %.1f%% of a core, worst tick lag %.2f ms, round trip median %.3f ms, max %.3f ms",
                         soak.brokerCPUFraction * 100, soak.maxTickLagMilliseconds, soak.roundTripMillisecondsMedian,
                         soak.roundTripMillisecondsMax))
        }
    }
}
