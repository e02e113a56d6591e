import Broker
import Coordinator
import Foundation
import QuantConfig
import Testing
import TestSupport
import Transport
import Wire
import Worker

/// majortomo, the MDP/0.2 library on PyPI, as a real third-party peer in the three roles a user
/// would put it in: its client fetching `spikeq.artifact` from our broker, its worker serving
/// `spikeq.evaluate` for our broker, and our worker behind its broker answering its client.
///
/// Needs `python3` with `majortomo`; skipped without it unless `SPIKEQ_REQUIRE_EXTERNAL=1` (CI), where a
/// missing library fails the test instead.
@Suite(.serialized, .enabled(if: Majortomo.available || TestEnvironment.requiresExternalTools))
struct MajortomoInteropTests {
    @Test func majortomoClientFetchesAnArtifact() async throws {
        try Majortomo.requireAvailable()
        let directory = Net.temporaryDirectory("majortomo-client")
        let source = directory.appendingPathComponent("base.safetensors")
        var bytes = [UInt8](repeating: 0, count: 300_001)
        for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: index &* 2654435761 >> 11) }
        try Data(bytes).write(to: source)

        var configuration = Net.brokerConfiguration()
        configuration.artifactChunkBytes = 100_000
        let broker = try Broker(context: try ZMQContext(), configuration: configuration, logger: Net.logger)
        defer { broker.shutdown() }
        let reference = try broker.artifacts.add(fileAt: source)
        let copy = directory.appendingPathComponent("copy")
        let output = Pipe()
        let process = try PythonInterop.run(
            "majortomo_peer.py",
            ["client", broker.endpoint, "--sha256", reference.sha256, "--out", copy.path, "--chunk", "65536", "--timeout", "30"],
            stdout: output)
        #expect(await exitStatus(of: process, within: .seconds(60)) == 0)
        struct Report: Decodable { var bytes: Int; var sha256: String; var chunks: Int }
        let report = try JSONDecoder().decode(Report.self, from: output.fileHandleForReading.readDataToEndOfFile())
        #expect(report.bytes == bytes.count)
        #expect(report.sha256 == reference.sha256)
        #expect(report.chunks == 5, "65,536-byte requests for a 300,001-byte file")
        #expect(try Data(contentsOf: copy) == Data(bytes))
        #expect(broker.statistics.malformedDropped == 0, "every majortomo frame was understood")
    }

    @Test func majortomoWorkerServesOurBroker() async throws {
        try Majortomo.requireAvailable()
        var configuration = Net.brokerConfiguration()
        configuration.heartbeatInterval = .milliseconds(200)
        // A Python process starved by the training tests beside it can be silent for seconds.
        configuration.heartbeatLiveness = 50
        let broker = try Broker(context: try ZMQContext(), configuration: configuration, logger: Net.logger)
        defer { broker.shutdown() }
        let log = EventLog(broker)
        let process = try PythonInterop.run("majortomo_peer.py", ["worker", broker.endpoint, "--requests", "2", "--timeout", "60"])
        defer { if process.isRunning { process.terminate() } }
        #expect(await log.wait(for: .seconds(30)) { _ in !log.readyWorkers.isEmpty })
        let worker = try #require(log.readyWorkers.first)
        for candidate: Int64 in [41, 42] {
            let request = Net.request(candidate: candidate, bits: 5)
            let id = broker.dispatch(request, to: worker)
            #expect(await log.wait(for: .seconds(30)) { _ in log.finals.contains { $0.1 == id } })
            let final = try #require(log.finals.first { $0.1 == id })
            #expect(!final.3, "the FINAL answered the dispatch the worker held")
            let outcome = final.0
            #expect(outcome.candidateId == candidate)
            let result = try #require(outcome.result)
            #expect(result.configHash == request.config.hash)
            #expect(result.problems.isEmpty, "a valid result: \(result.problems)")
            #expect(result.config == request.config)
            #expect(log.all.contains { if case .partial(let p, let d, _) = $0 { d == id && p.loss == 0.25 } else { false } })
        }
        #expect(await exitStatus(of: process, within: .seconds(10)) == 0)
        #expect(broker.statistics.malformedDropped == 0)
    }

    @Test func ourWorkerServesAMajortomoBrokerAndClient() async throws {
        try Majortomo.requireAvailable()
        let directory = Net.temporaryDirectory("majortomo-broker")
        let requestFile = directory.appendingPathComponent("request.json")
        let endpointFile = directory.appendingPathComponent("endpoint")
        let request = Net.request(candidate: 1618, bits: 6)
        try BodyCodec.encode(request).write(to: requestFile)
        let output = Pipe()
        let process = try PythonInterop.run(
            "majortomo_peer.py",
            ["broker", "--request", requestFile.path, "--endpoint-file", endpointFile.path, "--timeout", "60"], stdout: output)
        defer { if process.isRunning { process.terminate() } }
        let endpoint = try #require(await Majortomo.readEndpoint(endpointFile, within: .seconds(30)))
        var settings = Net.workerConfiguration(endpoint: endpoint, name: "swift-behind-majortomo")
        settings.framing = .delimited
        settings.heartbeatInterval = .milliseconds(200)
        // majortomo's broker does not heartbeat busy workers.
        settings.heartbeatLiveness = 100
        let worker = try WorkerService(
            context: try ZMQContext(), configuration: settings,
            evaluator: NullEvaluator(sleep: .milliseconds(600), progressReports: 3), logger: Net.logger)
        worker.start()
        defer { worker.stop() }
        #expect(await exitStatus(of: process, within: .seconds(60)) == 0)
        struct Report: Decodable {
            var partials: Int
            var final: EvaluationOutcome
        }
        let report = try JSONDecoder().decode(Report.self, from: output.fileHandleForReading.readDataToEndOfFile())
        #expect(report.partials >= 1, "progress reached the majortomo client as PARTIALs")
        #expect(report.final.candidateId == 1618)
        #expect(report.final.worker == "swift-behind-majortomo")
        let result = try #require(report.final.result)
        #expect(result == NullEvaluator.result(for: request, seconds: result.wallSeconds))
    }
}

enum Majortomo {
    /// Whether `python3 -c "import majortomo"` succeeds.
    static let available = TestEnvironment.pythonCanImport("majortomo")

    struct Missing: Error, CustomStringConvertible {
        var description: String { "python3 with majortomo is required (pip install majortomo)" }
    }

    static func requireAvailable() throws {
        if !available { throw Missing() }
    }

    /// The endpoint the script wrote (atomically), once it exists.
    static func readEndpoint(_ file: URL, within limit: Duration) async -> String? {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOf: file, encoding: .utf8), !text.isEmpty { return text }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}
