import Broker
import Coordinator
import Foundation
import QuantConfig
import Testing
import TestSupport
import Transport
import Wire
import Worker

/// A third-party 18/MDP implementation (pyzmq, written from docs/protocol.md) against ours, both ways.
///
/// Needs `python3` with `pyzmq`; skipped without them unless `SPIKEQ_REQUIRE_EXTERNAL=1` (CI), where a
/// missing tool fails the test instead.
@Suite(.serialized, .enabled(if: PythonInterop.available || TestEnvironment.requiresExternalTools))
struct PythonInteropTests {
    @Test func pythonWorkerServesOurBroker() async throws {
        try PythonInterop.requireAvailable()
        let context = try ZMQContext()
        var configuration = Net.brokerConfiguration()
        configuration.heartbeatInterval = .milliseconds(100)
        // A Python process starved by the training tests beside it can be silent for seconds.
        configuration.heartbeatLiveness = 50
        let broker = try Broker(context: context, configuration: configuration, logger: Net.logger)
        defer { broker.shutdown() }
        let log = EventLog(broker)
        let process = try PythonInterop.run("mdp_worker.py", [broker.endpoint, "--heartbeat-ms", "100", "--timeout", "60"])
        defer { if process.isRunning { process.terminate() } }
        let worker = WorkerID(routingID: Data("py-worker".utf8))
        #expect(await log.wait(for: .seconds(30)) { _ in log.readyWorkers.contains(worker) })
        let request = Net.request(candidate: 314, bits: 5)
        let id = broker.dispatch(request, to: worker)
        #expect(await log.wait(for: .seconds(30)) { _ in log.finals.contains { $0.1 == id } })
        let final = try #require(log.finals.first { $0.1 == id })
        #expect(!final.3)
        #expect(final.0.candidateId == 314)
        // The Python side computed the canonical config hash the same way.
        #expect(final.0.result?.configHash == request.config.hash)
        #expect(log.all.contains { if case .partial(let p, let d, _) = $0 { d == id && p.loss == 0.5 } else { false } })
        #expect(await exitStatus(of: process, within: .seconds(5)) == 0)
        #expect(await log.wait { events in
            events.contains { if case .workerDisconnected(let w, _, _) = $0 { w == worker } else { false } }
        })
    }

    @Test func pythonCurveWorkerUsesOurKeyFiles() async throws {
        try PythonInterop.requireAvailable()
        try #require(ZMQLibrary.hasCurve)
        let directory = Net.temporaryDirectory("py-curve")
        let authorized = directory.appendingPathComponent("authorized", isDirectory: true)
        try FileManager.default.createDirectory(at: authorized, withIntermediateDirectories: true)
        let server = try CurveKeyPair.generate()
        let worker = try CurveKeyPair.generate()
        try CurveCertificate(keys: server).save(to: directory.appendingPathComponent("broker.key"))
        try CurveCertificate(keys: worker).save(to: directory.appendingPathComponent("py.key"))
        try CurveCertificate(keys: CurveKeyPair(publicKey: worker.publicKey, secretKey: nil))
            .save(to: authorized.appendingPathComponent("py.key"))

        let context = try ZMQContext()
        var configuration = Net.brokerConfiguration()
        configuration.heartbeatInterval = .milliseconds(100)
        configuration.curve = CurveServerSettings(serverKeys: server, authorizedKeysDirectory: authorized)
        let broker = try Broker(context: context, configuration: configuration, logger: Net.logger)
        defer { broker.shutdown() }
        let log = EventLog(broker)
        let process = try PythonInterop.run(
            "mdp_worker.py",
            [
                broker.endpoint, "--heartbeat-ms", "100", "--identity", "py-curve",
                "--curve-server-key", directory.appendingPathComponent("broker.key").path,
                "--curve-keys", directory.appendingPathComponent("py.key_secret").path,
            ])
        defer { if process.isRunning { process.terminate() } }
        let id = WorkerID(routingID: Data("py-curve".utf8))
        // Python's start (interpreter, pyzmq, CURVE handshake) can take well over 10 s on a loaded
        // 2-core machine; the wait ends at the READY event, so a long deadline costs nothing.
        #expect(await log.wait(for: .seconds(30)) { _ in log.readyWorkers.contains(id) })
        let dispatch = broker.dispatch(Net.request(candidate: 1), to: id)
        #expect(await log.wait(for: .seconds(30)) { _ in log.finals.contains { $0.1 == dispatch } })
        #expect(await exitStatus(of: process, within: .seconds(5)) == 0)
    }

    @Test func ourWorkerServesAPythonBroker() async throws {
        try PythonInterop.requireAvailable()
        let directory = Net.temporaryDirectory("py-broker")
        let requestFile = directory.appendingPathComponent("request.json")
        let endpointFile = directory.appendingPathComponent("endpoint")
        let request = Net.request(candidate: 2718, bits: 6)
        try BodyCodec.encode(request).write(to: requestFile)
        let output = Pipe()
        let process = try PythonInterop.run(
            "mdp_broker.py",
            ["--request", requestFile.path, "--endpoint-file", endpointFile.path, "--heartbeat-ms", "100", "--timeout", "20"],
            stdout: output)
        defer { if process.isRunning { process.terminate() } }
        var endpoint: String?
        let deadline = ContinuousClock.now + .seconds(30)
        while endpoint == nil && ContinuousClock.now < deadline {
            endpoint = try? String(contentsOf: endpointFile, encoding: .utf8)
            if endpoint == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        let bound = try #require(endpoint)
        var settings = Net.workerConfiguration(endpoint: bound, name: "swift-worker")
        settings.heartbeatInterval = .milliseconds(100)
        let worker = try WorkerService(
            context: try ZMQContext(), configuration: settings,
            evaluator: NullEvaluator(sleep: .milliseconds(500), progressReports: 2), logger: Net.logger)
        worker.start()
        defer { worker.stop() }
        #expect(await exitStatus(of: process, within: .seconds(15)) == 0)
        let data = output.fileHandleForReading.readDataToEndOfFile()
        struct Report: Decodable {
            var worker: String
            var partials: Int
            var heartbeats: Int
            var final: EvaluationOutcome
        }
        let report = try JSONDecoder().decode(Report.self, from: data)
        #expect(report.worker == "swift-worker")
        #expect(report.partials >= 1)
        #expect(report.heartbeats >= 1, "our worker heartbeats while evaluating")
        #expect(report.final.candidateId == 2718)
        #expect(report.final.result == NullEvaluator.result(for: request, seconds: report.final.result?.wallSeconds ?? 0))
    }
}

enum PythonInterop {
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("TransportTests/Interop")

    /// Whether `python3 -c "import zmq"` succeeds.
    static let available = TestEnvironment.pythonCanImport("zmq")

    struct Missing: Error, CustomStringConvertible {
        var description: String { "python3 with pyzmq is required (pip install pyzmq)" }
    }

    static func requireAvailable() throws {
        if !available { throw Missing() }
    }

    static func run(_ script: String, _ arguments: [String], stdout: Pipe? = nil) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", scripts.appendingPathComponent(script).path] + arguments
        if let stdout { process.standardOutput = stdout }
        try process.run()
        return process
    }
}
