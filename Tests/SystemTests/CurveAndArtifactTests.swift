import Threading
import Broker
import Coordinator
import Foundation
import Testing
import Transport
import Wire
import Worker

@Suite(.serialized)
struct CurveBrokerTests {
    /// Under CURVE a routing id belongs to the key that first used it: another authorized key that
    /// takes over the id (ROUTER_HANDOVER) can neither register as that worker nor finish its dispatch.
    @Test func anotherKeyCannotImpersonateAWorker() async throws {
        try #require(ZMQLibrary.hasCurve, "libzmq without CURVE")
        let directory = Net.temporaryDirectory("curve-owner")
        let authorized = directory.appendingPathComponent("authorized", isDirectory: true)
        try FileManager.default.createDirectory(at: authorized, withIntermediateDirectories: true)
        let server = try CurveKeyPair.generate()
        let alice = try CurveKeyPair.generate()
        let mallory = try CurveKeyPair.generate()
        for (name, keys) in [("alice", alice), ("mallory", mallory)] {
            try CurveCertificate(keys: CurveKeyPair(publicKey: keys.publicKey, secretKey: nil), metadata: [("name", name)])
                .save(to: authorized.appendingPathComponent("\(name).key"))
        }
        let context = try ZMQContext()
        var configuration = Net.brokerConfiguration()
        configuration.curve = CurveServerSettings(serverKeys: server, authorizedKeysDirectory: authorized)
        configuration.heartbeatLiveness = 1000  // hand-driven peers do not heartbeat
        let broker = try Broker(context: context, configuration: configuration, logger: Net.logger)
        defer { broker.shutdown() }
        let log = EventLog(broker)

        func peer(_ keys: CurveKeyPair) throws -> ZMQSocket {
            let socket = try ZMQSocket(context: context, type: .dealer)
            try socket.setCurveClient(serverKey: server.publicKey, keyPair: keys)
            try socket.setRoutingID(Data("shared-id".utf8))
            try socket.connect(broker.endpoint)
            return socket
        }
        let shared = WorkerID(routingID: Data("shared-id".utf8))
        let honest = try peer(alice)
        try honest.send(MDPWorkerMessage.ready(service: MDP.evaluateService).frames)
        #expect(await log.wait { _ in log.readyWorkers.contains(shared) })
        let request = Net.request(candidate: 77)
        let dispatch = broker.dispatch(request, to: shared)
        var received: MDPWorkerMessage?
        while received == nil || received == .heartbeat {
            received = try MDPWorkerMessage(frames: try #require(try honest.receive(timeout: .seconds(10))))
        }
        guard case .request(let client, _) = received else {
            Issue.record("expected a REQUEST, got \(String(describing: received))")
            return
        }
        #expect(client == dispatch.frame)

        // Mallory, also authorized, connects under the same routing id and tries to finish the dispatch.
        let outcome = EvaluationOutcome(
            candidateId: 77, attempt: request.attempt, result: NullEvaluator.result(for: request, seconds: 0.1), error: nil, worker: "shared-id")
        let body = try BodyCodec.encode(outcome)
        do {
            let impostor = try peer(mallory)  // closed at the end of this block (linger 0)
            try impostor.send(MDPWorkerMessage.ready(service: MDP.evaluateService).frames)
            try impostor.send(MDPWorkerMessage.final(client: client, body: [body]).frames)
            #expect(await log.wait(for: .seconds(10)) { _ in broker.statistics.impersonationDropped >= 2 })
            #expect(!log.finals.contains { $0.1 == dispatch }, "the impostor's FINAL was dropped")
            #expect(log.readyWorkers.filter { $0 == shared }.count == 1, "the impostor's READY was dropped")
        }

        // Alice, reconnecting under her key on a new socket (as the worker does), still delivers her result.
        let reconnected = try peer(alice)
        try reconnected.send(MDPWorkerMessage.final(client: client, body: [body]).frames)
        #expect(await log.wait(for: .seconds(10)) { _ in log.finals.contains { $0.1 == dispatch } })
        _ = honest
    }

    @Test func onlyListedWorkerKeysAreAdmitted() async throws {
        try #require(ZMQLibrary.hasCurve, "libzmq without CURVE")
        let directory = Net.temporaryDirectory("curve")
        let authorized = directory.appendingPathComponent("authorized", isDirectory: true)
        try FileManager.default.createDirectory(at: authorized, withIntermediateDirectories: true)
        let server = try CurveKeyPair.generate()
        let listed = try CurveKeyPair.generate()
        let unlisted = try CurveKeyPair.generate()
        try CurveCertificate(keys: CurveKeyPair(publicKey: listed.publicKey, secretKey: nil), metadata: [("name", "listed")])
            .save(to: authorized.appendingPathComponent("listed.key"))

        let context = try ZMQContext()
        var configuration = Net.brokerConfiguration()
        configuration.curve = CurveServerSettings(serverKeys: server, authorizedKeysDirectory: authorized)
        let broker = try Broker(context: context, configuration: configuration, logger: Net.logger)
        defer { broker.shutdown() }
        let log = EventLog(broker)

        func worker(_ name: String, _ keys: CurveKeyPair) throws -> WorkerService {
            var settings = Net.workerConfiguration(endpoint: broker.endpoint, name: name)
            settings.curve = CurveClientSettings(serverKey: server.publicKey, clientKeys: keys)
            return try WorkerService(
                context: context, configuration: settings, evaluator: NullEvaluator(sleep: .milliseconds(5), progressReports: 1),
                logger: Net.logger)
        }
        let intruder = try worker("intruder", unlisted)
        let member = try worker("member", listed)
        intruder.start()
        member.start()
        defer {
            intruder.stop()
            member.stop()
        }
        let memberID = WorkerID(routingID: Data("member".utf8))
        #expect(await log.wait { _ in log.readyWorkers.contains(memberID) })
        let id = broker.dispatch(Net.request(candidate: 3), to: memberID)
        #expect(await log.wait { _ in log.finals.contains { $0.1 == id } })
        // The intruder's handshakes are refused (several reconnect attempts): it never gets in.
        #expect(await log.wait(for: .seconds(30)) { _ in (broker.authentications?.denied ?? 0) >= 3 })
        #expect(!log.readyWorkers.contains(WorkerID(routingID: Data("intruder".utf8))))
        #expect(intruder.statistics.messagesReceived == 0)

        // A plain (non-CURVE) client gets no artifact either.
        let plain = try RawClient.request(
            context: context, endpoint: broker.endpoint, service: MDP.artifactService,
            body: [Data("{}".utf8)], timeout: .milliseconds(300))
        #expect(plain == nil)
    }

    @Test func keyAddedToTheDirectoryIsAdmittedWithoutRestart() async throws {
        try #require(ZMQLibrary.hasCurve, "libzmq without CURVE")
        let authorized = Net.temporaryDirectory("curve-late")
        let server = try CurveKeyPair.generate()
        let late = try CurveKeyPair.generate()
        let context = try ZMQContext()
        var configuration = Net.brokerConfiguration()
        configuration.curve = CurveServerSettings(serverKeys: server, authorizedKeysDirectory: authorized)
        let broker = try Broker(context: context, configuration: configuration, logger: Net.logger)
        defer { broker.shutdown() }
        let log = EventLog(broker)
        var settings = Net.workerConfiguration(endpoint: broker.endpoint, name: "late")
        settings.curve = CurveClientSettings(serverKey: server.publicKey, clientKeys: late)
        let worker = try WorkerService(context: context, configuration: settings, evaluator: NullEvaluator(), logger: Net.logger)
        worker.start()
        defer { worker.stop() }
        // Wait for the event that matters (the ZAP handler refused the handshake), not for a time.
        #expect(await poll(within: .seconds(30)) { (broker.authentications?.denied ?? 0) >= 1 ? true : nil } == true)
        #expect(log.readyWorkers.isEmpty)
        try CurveCertificate(keys: CurveKeyPair(publicKey: late.publicKey, secretKey: nil))
            .save(to: authorized.appendingPathComponent("late.key"))
        #expect(await log.wait(for: .seconds(30)) { _ in !log.readyWorkers.isEmpty })
    }
}

@Suite(.serialized)
struct ArtifactServiceTests {
    /// A client that asks for chunk after chunk and never reads gets at most the send queue's worth
    /// queued at the broker; the other replies are dropped (counted), not buffered.
    @Test func aClientThatNeverReadsCannotMakeTheBrokerBuffer() async throws {
        let directory = Net.temporaryDirectory("artifact-hog")
        let source = directory.appendingPathComponent("big.bin")
        try Data(repeating: 7, count: 1 << 20).write(to: source)
        var configuration = Net.brokerConfiguration()
        configuration.sendQueueMessages = 8
        let context = try ZMQContext()
        let broker = try Broker(context: context, configuration: configuration, logger: Net.logger)
        defer { broker.shutdown() }
        let reference = try broker.artifacts.add(fileAt: source)
        let hog = try ZMQSocket(context: context, type: .dealer)
        try hog.setHighWaterMarks(send: 1_000, receive: 1)
        try hog.connect(broker.endpoint)
        let request = try BodyCodec.encode(ArtifactChunkRequest(sha256: reference.sha256, offset: 0, length: 1 << 20))
        for _ in 0..<300 { try hog.send(MDPClientMessage.request(service: MDP.artifactService, body: [request]).frames) }
        #expect(await Self.eventually { broker.statistics.artifactChunksServed == 300 })
        // Replies that found the queue full were dropped; far fewer than 300 MiB were kept.
        #expect(await Self.eventually { broker.statistics.clientRepliesDropped > 0 })
        #expect(broker.statistics.messagesSent < 100, "\(broker.statistics.messagesSent) replies queued or delivered")
    }

    /// Polls `condition` until it holds or 10 s pass.
    static func eventually(_ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            if ContinuousClock.now > deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    @Test func checkpointIsFetchedVerifiedCachedAndRefetchedWhenCorrupt() async throws {
        let directory = Net.temporaryDirectory("artifact")
        let source = directory.appendingPathComponent("base.safetensors")
        var bytes = [UInt8](repeating: 0, count: 3 * (1 << 20) + 12345)
        for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: index &* 2654435761 >> 13) }
        try Data(bytes).write(to: source)

        let context = try ZMQContext()
        var configuration = Net.brokerConfiguration()
        configuration.artifactChunkBytes = 256 << 10
        let broker = try Broker(context: context, configuration: configuration, logger: Net.logger)
        defer { broker.shutdown() }
        let reference = try broker.artifacts.add(fileAt: source)
        #expect(reference.bytes == bytes.count)

        let cache = ArtifactCache(directory: directory.appendingPathComponent("cache"))
        let fetcher = ArtifactFetcher(context: context, endpoint: broker.endpoint, chunkBytes: 1 << 20, logger: Net.logger)
        let provider = CheckpointProvider(cache: cache, fetcher: fetcher)
        let progress = Locked<[Int]>([])
        let local = try provider.file(for: reference) { done, _ in progress.withLock { $0.append(done) } }
        #expect(try Data(contentsOf: local) == Data(bytes))
        #expect(progress.current.last == bytes.count)
        // Chunks were capped by the broker at 256 KiB. (The broker publishes its counters after the
        // loop turn that sent the last reply, so they are awaited, not read at once.)
        let chunks = (bytes.count + (256 << 10) - 1) / (256 << 10)
        #expect(await Self.eventually { broker.statistics.artifactChunksServed == chunks })

        // Second use: from the cache, nothing fetched.
        #expect(try provider.file(for: reference, progress: nil) == local)
        #expect(broker.statistics.artifactChunksServed == chunks)

        // Corrupt the cached copy: it is detected, deleted and fetched again.
        let handle = try FileHandle(forWritingTo: local)
        try handle.seek(toOffset: 1000)
        try handle.write(contentsOf: Data([0xFF, 0xFE]))
        try handle.close()
        let fresh = ArtifactCache(directory: directory.appendingPathComponent("cache"))
        let again = try CheckpointProvider(cache: fresh, fetcher: fetcher).file(for: reference, progress: nil)
        #expect(try Data(contentsOf: again) == Data(bytes))
        #expect(await Self.eventually { broker.statistics.artifactChunksServed == 2 * chunks })

        // Unknown hash and a size that lies are refused with checkpoint failures.
        let unknown = ArtifactReference(sha256: String(repeating: "a", count: 64), bytes: 10, name: "missing")
        #expect(throws: EvaluationFailure.self) { try provider.file(for: unknown, progress: nil) }
        let lying = ArtifactReference(sha256: reference.sha256, bytes: reference.bytes + 1, name: "lying")
        #expect {
            try provider.file(for: lying, progress: nil)
        } throws: { error in
            (error as? EvaluationFailure)?.kind == .checkpointHash
        }
        // No partial downloads are left behind.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: cache.directory.path).filter { $0.hasSuffix(".partial") }
        #expect(leftovers.isEmpty)
    }

    @Test func workerEvaluatorFetchesCheckpointThroughTheWorker() async throws {
        let directory = Net.temporaryDirectory("artifact-worker")
        let source = directory.appendingPathComponent("base.safetensors")
        try Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7) }).write(to: source)
        let context = try ZMQContext()
        let broker = try Broker(context: context, configuration: Net.brokerConfiguration(), logger: Net.logger)
        defer { broker.shutdown() }
        let reference = try broker.artifacts.add(fileAt: source)
        let log = EventLog(broker)
        let worker = try WorkerService(
            context: context,
            configuration: Net.workerConfiguration(endpoint: broker.endpoint, name: "fetcher", cache: directory.appendingPathComponent("cache")),
            evaluator: NullEvaluator(sleep: .milliseconds(5), progressReports: 1, fetchCheckpoint: true), logger: Net.logger)
        worker.start()
        defer { worker.stop() }
        #expect(await log.wait { _ in !log.readyWorkers.isEmpty })
        var request = Net.request(candidate: 11)
        request.baseCheckpoint = reference
        let id = broker.dispatch(request, to: log.readyWorkers[0])
        #expect(await log.wait { _ in log.finals.contains { $0.1 == id } })
        #expect(log.finals.first?.0.result?.checkpointHash == reference.sha256)
        #expect(broker.statistics.artifactChunksServed == 1)
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("cache/artifacts/sha256/\(reference.sha256)").path))
    }
}
