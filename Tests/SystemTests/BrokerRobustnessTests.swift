import Broker
import Coordinator
import Foundation
import Seeding
import Testing
import Transport
import Wire
import Worker

/// Garbage at the broker: it must drop it, log (rate-limited), and keep serving.
@Suite(.serialized)
struct BrokerRobustnessTests {
    /// One malformed or hostile message, drawn from a family of near-misses and pure noise.
    static func malformedMessage(_ rng: inout SeededGenerator, dispatch: DispatchID) -> [Data] {
        func bytes(_ count: Int) -> Data { Data((0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }) }
        let worker = MDP.workerHeader
        let client = MDP.clientHeader
        switch Int.random(in: 0..<14, using: &rng) {
        case 0: return (0..<Int.random(in: 1...6, using: &rng)).map { _ in bytes(Int.random(in: 0...40, using: &rng)) }
        case 1: return [worker, Data([UInt8.random(in: 7...255, using: &rng)])]
        case 2: return [worker, Data([0x01])]
        case 3: return [worker, Data([0x01]), Data([0x00, 0x07])]
        case 4: return [Data("MDPW01".utf8), Data([0x05])]
        case 5: return [Data(), Data("MDPW01".utf8), Data([0x01]), Data("spikeq.evaluate".utf8)]
        case 6: return [worker, Data([0x04]), dispatch.frame, Data([1]), bytes(8)]
        case 7: return [worker, Data([0x04]), bytes(8), Data(), bytes(Int.random(in: 0...200, using: &rng))]
        case 8: return [worker, Data([0x03]), bytes(3), Data(), Data("{\"candidateId\":".utf8)]
        case 9: return [client, Data([0x01]), Data(MDP.artifactService.utf8), bytes(30)]
        case 10: return [client, Data([0x02]), Data(MDP.artifactService.utf8), bytes(3)]
        case 11: return [client, Data([0x01]), Data("nope".utf8), Data("{}".utf8)]
        case 12: return [worker, Data([0x05]), Data(), Data()]
        default: return Array(repeating: Data([0x41]), count: Int.random(in: 33...60, using: &rng))
        }
    }

    @Test func thousandsOfMalformedMessagesLeaveTheBrokerServing() async throws {
        let context = try ZMQContext()
        var configuration = Net.brokerConfiguration()
        configuration.maxMessageBytes = 64 << 10
        let broker = try Broker(context: context, configuration: configuration, logger: Net.logger)
        defer { broker.shutdown() }
        let log = EventLog(broker)
        var rng = SeededGenerator(seed: 2024)
        let dispatch = DispatchID(rawValue: 12345)

        // Several hostile peers, some of them registered workers (so FINAL/PARTIAL paths are exercised).
        var peers: [RawWorker] = []
        for index in 0..<8 {
            let peer = try RawWorker(context: context, endpoint: broker.endpoint, name: "fuzz-\(index)")
            if index.isMultiple(of: 2) { try peer.send(.ready(service: MDP.evaluateService)) }
            peers.append(peer)
        }
        let count = 3000
        for index in 0..<count {
            let frames = Self.malformedMessage(&rng, dispatch: dispatch)
            try peers[index % peers.count].socket.send(frames)
        }
        // An oversized frame makes libzmq drop that peer's connection; the broker must not care.
        let big = try RawWorker(context: context, endpoint: broker.endpoint, name: "big")
        try big.socket.send([MDP.workerHeader, Data([0x01]), Data(count: 128 << 10)])

        #expect(await log.wait(for: .seconds(10)) { _ in broker.statistics.messagesReceived >= count })

        // Still serving: a real worker registers and completes a request.
        let worker = try WorkerService(
            context: context, configuration: Net.workerConfiguration(endpoint: broker.endpoint, name: "honest"),
            evaluator: NullEvaluator(sleep: .milliseconds(10), progressReports: 1), logger: Net.logger)
        worker.start()
        defer { worker.stop() }
        let honest = WorkerID(routingID: Data("honest".utf8))
        #expect(await log.wait { _ in log.readyWorkers.contains(honest) })
        let id = broker.dispatch(Net.request(candidate: 5), to: honest)
        #expect(await log.wait { _ in log.finals.contains { $0.1 == id && $0.0.result != nil } })
        // And the artifact service still answers.
        let reply = try RawClient.request(
            context: context, endpoint: broker.endpoint, service: MDP.artifactService,
            body: [BodyCodec.encode(ArtifactChunkRequest(sha256: String(repeating: "1", count: 64), offset: 0, length: 10))])
        let header = try BodyCodec.decode(ArtifactChunkReply.self, from: try #require(reply?.body.first))
        #expect(header.error?.kind == .notFound)
        let stats = broker.statistics
        #expect(stats.malformedDropped >= count / 2)
        #expect(stats.finals == 1, "no garbage FINAL was taken for a result")
    }
}

/// A one-shot MDP/Client request over a fresh DEALER.
enum RawClient {
    static func request(
        context: ZMQContext, endpoint: String, service: String, body: [Data], curve: CurveClientSettings? = nil,
        timeout: Duration = .seconds(3)
    ) throws -> MDPClientMessage? {
        let socket = try ZMQSocket(context: context, type: .dealer)
        if let curve { try socket.setCurveClient(serverKey: curve.serverKey, keyPair: curve.clientKeys) }
        try socket.connect(endpoint)
        try socket.send(MDPClientMessage.request(service: service, body: body).frames)
        guard let frames = try socket.receive(timeout: timeout) else { return nil }
        return try MDPClientMessage(frames: frames)
    }
}

struct EndpointScopeTests {
    @Test(arguments: [
        ("tcp://127.0.0.1:5555", true), ("tcp://127.0.0.1:*", true), ("tcp://localhost:5555", true),
        ("tcp://[::1]:5555", true), ("ipc:///tmp/spikeq.sock", true), ("inproc://x", true),
        ("tcp://*:5555", false), ("tcp://0.0.0.0:5555", false), ("tcp://10.0.0.5:5555", false), ("tcp://eth0:5555", false),
    ])
    func plainTCPWarningOnlyForNetworkAddresses(endpoint: String, local: Bool) {
        #expect(EndpointScope.isLocalOnly(endpoint) == local)
    }
}
