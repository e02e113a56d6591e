import Dashboard
import Foundation
import Logging
import QuantConfig
import RunStore
import Search
import Statistics
import Testing
import TestSupport
import Wire

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A run store with a few results, one attempt in flight with progress, and three workers.
struct DashboardRun {
    static let layers = ["a", "b", "c"]
    let directory: URL
    let store: RunStore

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("spikeq-dashboard-\(UUID().uuidString)")
        let metadata = RunMetadata(
            name: "dash", configYAML: "population: 4\n",
            settings: RunSettings(
                layers: Self.layers, objectives: ObjectiveSpec.defaults(energyModel: "e45"), constraints: [],
                evaluationBudget: 10, wallTimeBudget: nil, referencePoint: [1, 1], populationSize: 4, maxAttempts: 3),
            seed: 7, datasetFingerprint: "data-fp", checkpointHash: "ckpt-hash", createdAt: Date(timeIntervalSince1970: 1_000))
        store = try RunStore.create(at: directory, metadata: metadata)
        try store.write { w in
            try w.workerConnected("busy-worker", at: Date(timeIntervalSince1970: 1_001))
            try w.workerConnected("idle-worker", at: Date(timeIntervalSince1970: 1_001))
            try w.workerConnected("gone-worker", at: Date(timeIntervalSince1970: 1_001))
            try w.workerLost("gone-worker", at: Date(timeIntervalSince1970: 1_005))
        }
    }

    static func result(_ config: QuantizationConfig, accuracy: Double, picojoules: Double) -> EvaluationResult {
        EvaluationResult(
            configHash: config.hash, config: config, accuracy: ["validation": accuracy, "test": accuracy - 0.01], averageBits: 4, compression: 8,
            packedBytes: 1000,
            energy: ["e45": EnergyFigure(picojoules: picojoules, reduction: 100 / picojoules), "e7": EnergyFigure(picojoules: picojoules / 3, reduction: 90 / picojoules)],
            layers: [], reference: ReferenceFigures(accuracy: ["validation": 0.9, "test": 0.89], energy: ["e45": 100, "e7": 30], bytes: 8000),
            fineTune: FineTuneSummary(epochs: 1, steps: 10, finalLoss: .nan, seconds: 2), wallSeconds: 3, datasetFingerprint: "data-fp",
            checkpointHash: "ckpt-hash")
    }

    /// Adds a candidate with a full-fidelity result from `worker`; returns its id.
    @discardableResult
    func addResult(_ choice: LayerQuantization, accuracy: Double, picojoules: Double, worker: String = "idle-worker") throws -> Int64 {
        let config = QuantizationConfig.uniformChoice(choice, layers: Self.layers)
        return try store.write { w in
            let id = try w.insertCandidate(NewCandidate(config: config, origin: .random, parents: [], createdAt: Date(timeIntervalSince1970: 1_010)))
            try w.insertAttempt(candidateId: id, number: 1, worker: worker, seed: 7, at: Date(timeIntervalSince1970: 1_011))
            try w.beginBusy(worker: worker, candidateId: id, attempt: 1, at: Date(timeIntervalSince1970: 1_011))
            try w.finishAttempt(candidateId: id, number: 1, state: .done, at: Date(timeIntervalSince1970: 1_020))
            try w.endBusy(candidateId: id, attempt: 1, at: Date(timeIntervalSince1970: 1_020))
            try w.insertResult(
                candidateId: id, attempt: 1, result: Self.result(config, accuracy: accuracy, picojoules: picojoules),
                objectives: [1 - accuracy, picojoules / 100], violations: [], at: Date(timeIntervalSince1970: 1_020))
            try w.setCandidateStatus(id, .done, finishedAt: Date(timeIntervalSince1970: 1_020))
            try w.appendEvent("result", at: Date(timeIntervalSince1970: 1_020), candidateId: id, attempt: 1, worker: worker)
            return id
        }
    }

    /// A candidate dispatched to `busy-worker` that reported progress.
    func addInFlight() throws -> Int64 {
        let config = QuantizationConfig.uniformChoice(.pot(3), layers: Self.layers)
        return try store.write { w in
            let id = try w.insertCandidate(NewCandidate(config: config, origin: .random, parents: [], createdAt: Date(timeIntervalSince1970: 1_030)))
            try w.setCandidateStatus(id, .running)
            try w.insertAttempt(candidateId: id, number: 1, worker: "busy-worker", seed: 9, rung: 1, at: Date(timeIntervalSince1970: 1_031))
            try w.beginBusy(worker: "busy-worker", candidateId: id, attempt: 1, at: Date(timeIntervalSince1970: 1_031))
            try w.recordProgress(EvaluationProgress(candidateId: id, attempt: 1, phase: "finetune", epoch: 1, epochs: 2, step: 12, steps: 60, loss: 0.75))
            // Its rung-0 result (15 steps) came in before it was promoted to rung 1.
            try w.insertRungResult(
                candidateId: id, rung: 0, attempt: 1, steps: 15, result: Self.result(config, accuracy: 0.6, picojoules: 9), objectives: [0.4, 0.09],
                violations: [], at: Date(timeIntervalSince1970: 1_030))
            return id
        }
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

struct DashboardSnapshotTests {
    @Test func supernetSweepShowsEachLambdaWithItsEvaluation() throws {
        let run = try DashboardRun()
        defer { run.remove() }
        let evaluated = try run.addResult(.uniform(2), accuracy: 0.70, picojoules: 10)
        #expect(try DashboardSnapshot.load(from: run.store).supernets.isEmpty)
        func job(_ lambda: Double, _ choice: LayerQuantization) throws {
            let config = QuantizationConfig.uniformChoice(choice, layers: DashboardRun.layers)
            let derived = SupernetResult(
                lambda: lambda, config: config, probabilities: [:], energyModel: "e45", referencePicojoules: 100, expectedRelativeEnergy: 0.2,
                derivedRelativeEnergy: Double(choice.bits) / 32, averageBits: Double(choice.bits), expectedAverageBits: Double(choice.bits),
                trajectory: [], steps: 40, seconds: 3)
            try run.store.write { w in
                let id = try w.insertCandidate(
                    NewCandidate(
                        config: .uniformChoice(.float, layers: DashboardRun.layers), configHash: String(repeating: "\(Int(lambda) % 10)", count: 64),
                        origin: .supernetTraining, parents: [], createdAt: Date(timeIntervalSince1970: 1_002)))
                try w.insertAttempt(candidateId: id, number: 1, worker: "idle-worker", seed: 1, at: Date(timeIntervalSince1970: 1_002))
                try w.insertSupernetResult(candidateId: id, attempt: 1, result: derived, at: Date(timeIntervalSince1970: 1_003))
            }
        }
        try job(8, .uniform(2))
        try job(1, .uniform(5))
        let sweep = try DashboardSnapshot.load(from: run.store).supernets
        #expect(sweep.map(\.lambda) == [1, 8], "least λ first")
        #expect(sweep[1].candidateId == evaluated && sweep[1].accuracy == 0.70 && sweep[1].onFront)
        #expect(sweep[1].config == "u2 u2 u2" && sweep[1].predictedEnergy == 2.0 / 32)
        #expect(sweep[0].candidateId == nil && sweep[0].accuracy == nil && !sweep[0].onFront, "not evaluated yet")
    }

    @Test func reTunedFrontModelsShowTheirSpreadOverSeeds() throws {
        let run = try DashboardRun()
        defer { run.remove() }
        let cheap = try run.addResult(.uniform(2), accuracy: 0.70, picojoules: 10)
        let accurate = try run.addResult(.uniform(8), accuracy: 0.88, picojoules: 40)
        #expect(try DashboardSnapshot.load(from: run.store).front.allSatisfy { $0.overSeeds == nil })
        // Two re-fine-tunes of `cheap` (test 0.69 under the search's seed): 0.66 and 0.72.
        let config = QuantizationConfig.uniformChoice(.uniform(2), layers: DashboardRun.layers)
        for (replicate, accuracy) in [(1, 0.67), (2, 0.73)] {
            try run.store.write { w in
                let id = try w.insertCandidate(
                    NewCandidate(config: config, configHash: "reseed-\(replicate)-\(config.hash)", origin: .reseed, parents: [cheap], createdAt: Date(timeIntervalSince1970: 1_040)))
                try w.insertAttempt(candidateId: id, number: 1, worker: "idle-worker", seed: 3, at: Date(timeIntervalSince1970: 1_040))
                try w.insertReseedResult(
                    candidateId: id, attempt: 1, of: cheap, replicate: replicate, result: DashboardRun.result(config, accuracy: accuracy, picojoules: 10),
                    at: Date(timeIntervalSince1970: 1_041))
            }
        }
        let front = try DashboardSnapshot.load(from: run.store).front
        let test = try #require(front.first { $0.id == cheap }?.overSeeds?["test"])
        #expect(test.count == 3 && abs(test.mean - 0.69) < 1e-12 && abs(test.standardDeviation - 0.03) < 1e-12)
        #expect(front.first { $0.id == accurate }?.overSeeds == nil)
        #expect(front.map(\.id) == [cheap, accurate], "the re-fine-tunes are not front members")
    }

    @Test func snapshotShowsFrontWorkersAndProgress() throws {
        let run = try DashboardRun()
        defer { run.remove() }
        let cheap = try run.addResult(.uniform(2), accuracy: 0.70, picojoules: 10)
        let accurate = try run.addResult(.uniform(8), accuracy: 0.88, picojoules: 40)
        let dominated = try run.addResult(.uniform(6), accuracy: 0.80, picojoules: 50)
        let flying = try run.addInFlight()
        let snapshot = try DashboardSnapshot.load(from: run.store)

        #expect(snapshot.front.map(\.id) == [cheap, accurate], "least energy first")
        #expect(snapshot.dominated.map(\.id) == [dominated])
        #expect(snapshot.lowerRungs.map(\.id) == [flying] && snapshot.lowerRungs[0].steps == 15, "lower rungs apart from the front")
        #expect(snapshot.run.energyModels == ["e45", "e7"], "the objective's table first, then every other one")
        #expect(snapshot.front[0].config == "u2 u2 u2")
        #expect(snapshot.references.map(\.label) == ["base FP32 checkpoint"])
        #expect(snapshot.run.done == 3 && snapshot.run.evaluationBudget == 10)

        let inFlight = try #require(snapshot.inFlight.first)
        #expect(snapshot.inFlight.count == 1)
        #expect(inFlight.candidateId == flying && inFlight.rung == 1 && inFlight.worker == "busy-worker")
        #expect(inFlight.progress?.step == 12 && inFlight.progress?.steps == 60)

        let states = Dictionary(uniqueKeysWithValues: snapshot.workers.map { ($0.name, $0.state) })
        #expect(states == ["busy-worker": "busy", "idle-worker": "idle", "gone-worker": "lost"])
        let idle = try #require(snapshot.workers.first { $0.name == "idle-worker" })
        #expect(idle.finishedAttempts == 3)
        #expect(idle.busySeconds == 27 && idle.busySince == nil)
        #expect(snapshot.workers.first { $0.name == "busy-worker" }?.busySince == Date(timeIntervalSince1970: 1_031))
        #expect(abs((idle.throughputPerHour ?? 0) - 3.0 / 27 * 3600) < 1e-9)
        #expect(snapshot.events.first?.kind == "result", "newest first")
    }

    @Test func versionChangesExactlyWhenTheRunDoes() async throws {
        let run = try DashboardRun()
        defer { run.remove() }
        try run.addResult(.uniform(4), accuracy: 0.8, picojoules: 20)
        _ = try run.addInFlight()  // an open lease: busy time must not make the version tick
        let first = try DashboardSnapshot.load(from: run.store).version
        try await Task.sleep(for: .milliseconds(20))
        #expect(try DashboardSnapshot.load(from: run.store).version == first)
        try run.addResult(.pot(4), accuracy: 0.82, picojoules: 18)
        #expect(try DashboardSnapshot.load(from: run.store).version != first)

        // A worker that reconnects after being lost is no longer shown as lost.
        try run.store.write { w in try w.workerConnected("gone-worker", at: Date(timeIntervalSince1970: 1_050)) }
        #expect(try DashboardSnapshot.load(from: run.store).workers.first { $0.name == "gone-worker" }?.state == "idle")
    }

    @Test func addressesAreParsedAndBadOnesNamed() throws {
        #expect(try DashboardServer.parseAddress("127.0.0.1:8080") == ("127.0.0.1", 8080))
        #expect(try DashboardServer.parseAddress("[::1]:0") == ("::1", 0))
        #expect(try DashboardServer.parseAddress("0.0.0.0:9000") == ("0.0.0.0", 9000))
        for bad in ["8080", "host:", ":80", "host:70000", "[::1]8080", "host:http"] {
            #expect(throws: DashboardAddressError.self, "\(bad)") { try DashboardServer.parseAddress(bad) }
        }
        #expect(DashboardServer.isLoopback("127.0.0.1") && DashboardServer.isLoopback("::1"))
        #expect(!DashboardServer.isLoopback("0.0.0.0"))
    }
}

/// Collects the server's log lines (the request log among them) so tests can wait for requests.
final class CapturedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    var all: [String] { lock.withLock { lines } }

    func append(_ line: String) { lock.withLock { lines.append(line) } }

    func logger() -> Logger {
        var logger = Logger(label: "dashboard-test") { _ in CapturingHandler(log: self) }
        logger.logLevel = .debug
        return logger
    }

    /// Waits (polling every 20 ms) until a line satisfies `condition`.
    func wait(for limit: Duration, until condition: (String) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if all.contains(where: condition) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    struct CapturingHandler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            log.append("\(event.message) \(merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
        }
    }
}

/// A dashboard server on a free loopback port, stopped when the test ends.
struct RunningDashboard {
    let task: Task<Void, any Error>
    let url: URL

    static func start(_ store: RunStore, log: CapturedLog, longPoll: Duration = .seconds(20)) async throws -> RunningDashboard {
        var server = DashboardServer(store: store, host: "127.0.0.1", port: 0)
        server.longPoll = longPoll
        server.pollInterval = .milliseconds(100)
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        let logger = log.logger()
        let task = Task { try await server.run(logger: logger) { continuation.yield($0) } }
        var iterator = stream.makeAsyncIterator()
        guard let address = await iterator.next(), let url = URL(string: address) else { throw CancellationError() }
        return RunningDashboard(task: task, url: url)
    }

    func get(_ path: String) async throws -> (Data, HTTPURLResponse) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: path, relativeTo: url)!)
        return (data, response as! HTTPURLResponse)
    }
}

@Suite(.serialized)
struct DashboardServerTests {
    @Test func servesThePageAndJSONAndLongPollsForChanges() async throws {
        let run = try DashboardRun()
        defer { run.remove() }
        try run.addResult(.uniform(4), accuracy: 0.8, picojoules: 20)
        let log = CapturedLog()
        let server = try await RunningDashboard.start(run.store, log: log)
        defer { server.task.cancel() }

        let (page, pageResponse) = try await server.get("/")
        #expect(pageResponse.statusCode == 200)
        #expect(String(decoding: page, as: UTF8.self).contains("<script src=\"/dashboard.js\"></script>"))
        #expect(pageResponse.value(forHTTPHeaderField: "Content-Security-Policy")?.contains("default-src 'self'") == true)
        for path in ["/dashboard.js", "/dashboard.css", "/api/run", "/api/front", "/api/hypervolume", "/api/inflight", "/api/workers", "/api/events"] {
            let (_, response) = try await server.get(path)
            #expect(response.statusCode == 200, "\(path)")
        }
        let (front, _) = try await server.get("/api/front")
        let frontJSON = try #require(try JSONSerialization.jsonObject(with: front) as? [String: Any])
        #expect((frontJSON["front"] as? [Any])?.count == 1)

        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        let (body, _) = try await server.get("/api/snapshot")
        let first = try decoder.decode(DashboardSnapshot.self, from: body)
        // A long-poll on the current version is held until the run changes.
        async let held = server.get("/api/snapshot?after=\(first.version)")
        #expect(await log.wait(for: .seconds(10)) { $0.contains("after=\(first.version)") }, "\(log.all)")
        let added = try run.addResult(.pot(4), accuracy: 0.85, picojoules: 15)
        let (changedBody, _) = try await held
        let changed = try decoder.decode(DashboardSnapshot.self, from: changedBody)
        #expect(changed.version != first.version)
        #expect(changed.front.contains { $0.id == added })
    }

    /// `spikeq search --dashboard`: the server runs beside the coordinator and is shut down
    /// gracefully when the search ends: no error is logged, and the port is closed afterwards.
    @Test func backgroundDashboardStopsGracefully() async throws {
        let run = try DashboardRun()
        defer { run.remove() }
        let log = CapturedLog()
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        let dashboard = DashboardServer(store: run.store, host: "127.0.0.1", port: 0).start(logger: log.logger()) { continuation.yield($0) }
        var iterator = stream.makeAsyncIterator()
        let url = try #require(await iterator.next().flatMap { URL(string: $0) })
        let (_, response) = try await URLSession.shared.data(from: URL(string: "/api/run", relativeTo: url)!)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        await dashboard.stop()
        #expect(!log.all.contains { $0.localizedCaseInsensitiveContains("error") || $0.contains("Cancellation") }, "\(log.all)")
        await #expect(throws: (any Error).self) { _ = try await URLSession.shared.data(from: URL(string: "/api/run", relativeTo: url)!) }
    }

    @Test func unchangedLongPollAnswersAfterItsLimit() async throws {
        let run = try DashboardRun()
        defer { run.remove() }
        let server = try await RunningDashboard.start(run.store, log: CapturedLog(), longPoll: .milliseconds(300))
        defer { server.task.cancel() }
        let (body, _) = try await server.get("/api/snapshot")
        let version = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])["version"] as? String
        let (again, response) = try await server.get("/api/snapshot?after=\(version ?? "")")
        #expect(response.statusCode == 200)
        #expect((try JSONSerialization.jsonObject(with: again) as? [String: Any])?["version"] as? String == version)
    }
}

/// The page in a real headless browser: it renders with no console message, and a result recorded
/// after it loaded appears without a reload. Needs Chromium; skipped without it unless
/// `SPIKEQ_REQUIRE_EXTERNAL=1` (CI), where a missing browser fails the test.
@Suite(.serialized, .enabled(if: Browser.path != nil || TestEnvironment.requiresExternalTools))
struct DashboardBrowserTests {
    @Test func pageRendersAndUpdatesWithoutReload() async throws {
        let browser = try #require(Browser.path, "no headless browser installed (apt-get install chromium)")
        let run = try DashboardRun()
        defer { run.remove() }
        try run.addResult(.uniform(4), accuracy: 0.8, picojoules: 20)
        _ = try run.addInFlight()
        let log = CapturedLog()
        let server = try await RunningDashboard.start(run.store, log: log, longPoll: .seconds(2))
        defer { server.task.cancel() }

        // Virtual time runs the page's timers at once but waits for every pending fetch, so the page's
        // long-poll holds the browser until the server answers.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: browser)
        process.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=2500",
            "--dump-dom", server.url.absoluteString,
        ]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // The page has rendered its first snapshot once it long-polls on that snapshot's version.
        #expect(await log.wait(for: .seconds(60)) { $0.contains("/api/snapshot?after=") })
        let added = try run.addResult(.pot(5), accuracy: 0.86, picojoules: 12)
        let dom = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()

        #expect(log.all.filter { $0.contains("hb.request.path=/ ") || $0.hasSuffix("hb.request.path=/") }.count == 1, "the page was loaded once")
        #expect(dom.contains("<td>#\(added)</td>"), "the result recorded after load is in the front table")
        #expect(dom.contains("#\(added) u3 u3 u3") == false)
        try? dom.write(toFile: FileManager.default.temporaryDirectory.appendingPathComponent("dashboard-dom.html").path, atomically: true, encoding: .utf8)
        #expect(dom.contains("class=\"live\""), "the page reports a live connection")
        #expect(dom.contains("finetune"), "in-flight progress is shown")
        #expect(dom.contains("gone-worker") && dom.contains("state-lost"))
        #expect(dom.components(separatedBy: "<circle").count - 1 >= 4, "front points drawn in both energy tables")
        let console = stderr.split(separator: "\n").filter { $0.contains(":CONSOLE") || $0.contains("Uncaught") }
        #expect(console.isEmpty, "console messages: \(console)")
    }
}

enum Browser {
    static let path = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
}
