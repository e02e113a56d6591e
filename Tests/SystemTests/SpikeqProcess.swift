import Yams
import Foundation
import RunStore

#if canImport(Glibc)
import Glibc
#endif

/// A `spikeq` process started by a test, its output in a log file, killable with SIGKILL.
final class SpikeqProcess: @unchecked Sendable {
    // @unchecked: `Process` is used from the test's task only.
    let process = Process()
    let log: URL

    /// The release binary next to the test bundle (`make test` builds it first); `SPIKEQ_BIN` overrides.
    static let binary: URL = {
        if let path = ProcessInfo.processInfo.environment["SPIKEQ_BIN"] { return URL(fileURLWithPath: path) }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("spikeq")
    }()

    struct Missing: Error, CustomStringConvertible {
        var description: String { "\(SpikeqProcess.binary.path) is missing: build it first (swift build -c release --product spikeq)" }
    }

    init(_ arguments: [String], log: URL, environment: [String: String] = [:]) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary.path) else { throw Missing() }
        self.log = log
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.executableURL = Self.binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    var isRunning: Bool { process.isRunning }

    /// SIGKILL: no handler runs, nothing is flushed.
    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The exit status, or nil if it is still running after `timeout` (it is then killed).
    func exitStatus(within timeout: Duration) async -> Int32? {
        await SystemTests.exitStatus(of: process, within: timeout, stopWith: SIGKILL)
    }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// The endpoint a coordinator printed ("coordinator listening on tcp://…"), once it has.
    func listeningEndpoint(within timeout: Duration) async -> String? {
        await poll(within: timeout) {
            self.output.split(separator: "\n").lazy.compactMap { line -> String? in
                guard let range = line.range(of: "coordinator listening on ") else { return nil }
                return line[range.upperBound...].split(separator: " ").first.map(String.init)
            }.first
        }
    }
}

/// The exit status of `process`, or nil if it is still running after `timeout`; it is then sent
/// `signal` and reaped.
func exitStatus(of process: Process, within timeout: Duration, stopWith signal: Int32 = SIGTERM) async -> Int32? {
    let deadline = ContinuousClock.now + timeout
    while process.isRunning && ContinuousClock.now < deadline {
        try? await Task.sleep(for: .milliseconds(20))
    }
    guard process.isRunning else { return process.terminationStatus }
    kill(process.processIdentifier, signal)
    process.waitUntilExit()
    return nil
}

/// Polls `value` every 100 ms until it is non-nil or `timeout` passes.
func poll<T>(within timeout: Duration, _ value: () throws -> T?) async -> T? {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let found = try? value() { return found }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return try? value()
}

/// Files for a small real run: a mini synthetic gesture set (a few samples per class) and a search
/// config over it; the coordinator trains its one-epoch base model itself.
enum MiniRun {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The shipped dataset config with a few samples per class, built from its values (parsed, the
    /// three counts set, written out): a renamed key fails here instead of silently running the full set.
    static func datasetYAML(train: Int = 3, validation: Int = 2, test: Int = 2) throws -> String {
        let shipped = try String(contentsOf: repository.appendingPathComponent("configs/datasets/synthetic-gestures.yaml"), encoding: .utf8)
        guard var config = try Yams.load(yaml: shipped) as? [String: Any], var synthetic = config["synthetic"] as? [String: Any] else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "the shipped dataset config has no `synthetic` section"])
        }
        for (key, count) in [("train_per_class", train), ("validation_per_class", validation), ("test_per_class", test)] {
            guard synthetic[key] is Int else {
                throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "the shipped dataset config has no synthetic.\(key)"])
            }
            synthetic[key] = count
        }
        config["synthetic"] = synthetic
        return try Yams.dump(object: config)
    }

    /// Writes `data.yaml` and `search.yaml` into `directory`. With `nullEvaluator` the objective is
    /// the null evaluator's energy (its results carry no other model).
    static func write(
        into directory: URL, evaluations: Int, nullEvaluator: Bool, heartbeatTimeout: String = "30s", strategy: String = "nsga2",
        lambdas: [Double] = [], reseeds: Int = 0, knapsackSeeds: Int = 0
    ) throws -> URL {
        try datasetYAML().write(to: directory.appendingPathComponent("data.yaml"), atomically: true, encoding: .utf8)
        let energy = repository.appendingPathComponent("configs/energy/spikformer-45nm.yaml").path
        let energyName = nullEvaluator ? "null-evaluator" : "spikformer-45nm"
        let search = """
            name: mini
            seed: 5
            model: \(repository.appendingPathComponent("configs/models/spikformer-tiny.yaml").path)
            dataset: data.yaml
            checkpoint:
              path: base.safetensors
              train: {epochs: 1, learning_rate: 1.0e-3, batch_size: 11}
            energy:
              \(energyName): \(energy)
            objectives:
              - accuracy: validation
              - energy: \(energyName)
            budget:
              evaluations: \(evaluations)
            search:
              population: 4
              strategy: \(strategy)
              \(knapsackSeeds > 0 ? "sensitivity: {method: fisher, batches: 2}\n  knapsack_seeds: \(knapsackSeeds)" : "")
            \(lambdas.isEmpty ? "" : "gumbel: {lambdas: \(lambdas), max_steps: 3}")
            fine_tune:
              epochs: 1
              max_steps: 2
              learning_rate: 1.0e-4
              batch_size: 11
            lease:
              progress_timeout: 2m
              heartbeat_timeout: \(heartbeatTimeout)
            \(reseeds > 0 ? "final: {reseeds: \(reseeds)}" : "")

            """
        let url = directory.appendingPathComponent("search.yaml")
        try search.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// Every candidate of a finished run is done with exactly one stored result, no configuration
    /// was dispatched twice as different candidates, and the budget was met.
    static func checkNothingLostOrRepeated(_ store: RunStore, evaluations: Int) throws -> [String] {
        var problems: [String] = []
        let candidates = try store.candidates()
        let results = try store.results()
        if results.count != evaluations { problems.append("\(results.count) results, expected \(evaluations)") }
        if Set(results.map(\.candidateId)).count != results.count { problems.append("a candidate has two results") }
        if Set(candidates.map(\.configHash)).count != candidates.count { problems.append("a configuration became two candidates") }
        let notDone = candidates.filter { $0.status != .done }
        if !notDone.isEmpty { problems.append("not done: \(notDone.map { "\($0.id): \($0.status)" })") }
        return problems
    }
}
