import Broker
import Coordinator
import Foundation
import Testing
import Transport
import Wire

/// Registered peers that send well-formed MDP for dispatches they do not hold: only the holder can
/// finish or refresh a dispatch, guessed or stolen ids poison nothing, and FINALs are acknowledged.
@Suite(.serialized)
struct HostileBrokerPeerTests {
    /// Unique routing ids: a socket left from an earlier test (its context not yet closed) may
    /// reconnect to a later broker that was given the same ephemeral port.
    let honestName = "honest-\(UUID().uuidString.prefix(8))"
    var honestID: WorkerID { WorkerID(routingID: Data(honestName.utf8)) }
    private func failure(for request: EvaluationRequest, worker: String) throws -> Data {
        try BodyCodec.encode(
            EvaluationOutcome(
                candidateId: request.candidateId, attempt: request.attempt, result: nil,
                error: EvaluationFailure(kind: .diverged, message: "claimed by \(worker)"), worker: worker))
    }

    /// A broker, two raw workers registered with it, and a request dispatched to `honest`.
    private func setUp(_ context: ZMQContext) async throws -> (Broker, EventLog, RawWorker, RawWorker, DispatchID, EvaluationRequest) {
        let broker = try Broker(context: context, configuration: Net.rawPeerBrokerConfiguration(), logger: Net.logger)
        let log = EventLog(broker)
        let honest = try RawWorker(context: context, endpoint: broker.endpoint, name: honestName)
        let thief = try RawWorker(context: context, endpoint: broker.endpoint, name: "thief-\(UUID().uuidString.prefix(8))")
        try honest.send(.ready(service: MDP.evaluateService))
        try thief.send(.ready(service: MDP.evaluateService))
        #expect(await log.wait { _ in log.readyWorkers.count == 2 })
        let request = Net.request(candidate: 5)
        let dispatch = broker.dispatch(request, to: honestID)
        let received = try honest.next()
        guard case .request(let client, _)? = received else {
            Issue.record("the honest worker got no REQUEST but \(String(describing: received)); events \(log.all)")
            throw CancellationError()
        }
        #expect(DispatchID(frame: client) == dispatch)
        return (broker, log, honest, thief, dispatch, request)
    }

    @Test func onlyTheHolderFinishesAHeldDispatch() async throws {
        let context = try ZMQContext()
        let (broker, log, honest, thief, dispatch, request) = try await setUp(context)
        defer { broker.shutdown() }
        // Stolen id: a decodable FINAL, an undecodable one, and a PARTIAL from the thief.
        try thief.send(.final(client: dispatch.frame, body: [try failure(for: request, worker: "thief")]))
        try thief.send(.final(client: dispatch.frame, body: [Data("{not json".utf8)]))
        try thief.send(.partial(client: dispatch.frame, body: [Data("{}".utf8)]))
        #expect(await log.wait { _ in broker.statistics.unboundDropped == 3 })
        #expect(log.finals.isEmpty)
        // Made-up ids poison nothing either: undecodable FINALs for them are not remembered.
        for guess in 1...50 {
            try thief.send(.final(client: DispatchID(rawValue: UInt64(guess)).frame, body: [Data("x".utf8)]))
        }
        // The first 20 are read (and dropped as undecodable); the rest of the burst is over the rate.
        #expect(await log.wait { _ in broker.statistics.malformedDropped + broker.statistics.unknownFinalsThrottled == 50 })
        #expect(broker.statistics.unknownFinalsThrottled >= 20, "burst 20 at 2/s")
        // Even the holder's PARTIALs are bounded.
        let dropped = broker.statistics.malformedDropped
        try honest.send(.partial(client: dispatch.frame, body: [Data(repeating: 0x20, count: 100 << 10)]))
        #expect(await log.wait { _ in broker.statistics.malformedDropped == dropped + 1 })
        #expect(!log.all.contains { if case .partial = $0 { true } else { false } })
        // The holder's FINAL still completes the dispatch, once.
        try honest.send(.final(client: dispatch.frame, body: [try failure(for: request, worker: "honest")]))
        #expect(await log.wait { _ in log.finals.count == 1 })
        let final = try #require(log.finals.first)
        #expect(final.1 == dispatch && final.2 == honestID && !final.3)
        #expect(final.0.worker == "honest")
    }

    @Test func onlyTheOwnerFinishesALostDispatch() async throws {
        let context = try ZMQContext()
        let (broker, log, honest, thief, dispatch, request) = try await setUp(context)
        defer { broker.shutdown() }
        try honest.send(.disconnect)
        #expect(await log.wait { events in
            events.contains { if case .workerDisconnected(let id, _, _) = $0 { id == honestID } else { false } }
        })
        try thief.send(.final(client: dispatch.frame, body: [Data("garbage".utf8)]))
        try thief.send(.final(client: dispatch.frame, body: [try failure(for: request, worker: "thief")]))
        #expect(await log.wait { _ in broker.statistics.unboundDropped == 2 })
        // The owner comes back and delivers its (late) FINAL.
        try honest.send(.ready(service: MDP.evaluateService))
        try honest.send(.final(client: dispatch.frame, body: [try failure(for: request, worker: "honest")]))
        #expect(await log.wait { _ in log.finals.count == 1 })
        #expect(log.finals.first?.0.worker == "honest" && log.finals.first?.3 == true)
    }

    @Test func finalsAreAcknowledgedAndRepeatsAnsweredAgain() async throws {
        let context = try ZMQContext()
        let (broker, log, honest, _, dispatch, request) = try await setUp(context)
        defer { broker.shutdown() }
        let body = [try failure(for: request, worker: "honest")]
        try honest.send(.final(client: dispatch.frame, body: body))
        #expect(await log.wait { _ in log.finals.count == 1 })
        // A repeat before the owner committed is dropped silently.
        try honest.send(.final(client: dispatch.frame, body: body))
        #expect(await log.wait { _ in broker.statistics.duplicateFinals == 1 })
        broker.acknowledge(dispatch, to: honestID)
        #expect(try honest.next() == .acknowledge(client: dispatch.frame))
        // A repeat after the commit (the ACK was lost, say) is answered with ACK again, not re-reported.
        try honest.send(.final(client: dispatch.frame, body: body))
        #expect(try honest.next() == .acknowledge(client: dispatch.frame))
        #expect(log.finals.count == 1)
        #expect(await log.wait { _ in broker.statistics.acknowledgementsSent == 2 })
    }

    /// A progress flood from the holder is cut to its rate: the burst passes, the rest is dropped
    /// before decoding, and the worker stays registered and can still finish.
    @Test func progressFloodsAreRateLimited() async throws {
        let context = try ZMQContext()
        let (broker, log, honest, _, dispatch, request) = try await setUp(context)
        defer { broker.shutdown() }
        let started = ContinuousClock.now
        let progress = try BodyCodec.encode(EvaluationProgress(candidateId: request.candidateId, attempt: request.attempt, phase: "finetune"))
        for _ in 0..<500 { try honest.send(.partial(client: dispatch.frame, body: [progress])) }
        #expect(await log.wait { _ in broker.statistics.partials + broker.statistics.partialsThrottled == 500 })
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let allowed = Int(20 + 10 * seconds.rounded(.up))
        #expect(broker.statistics.partials <= allowed, "burst 20 + 10/s over \(seconds) s")
        #expect(broker.statistics.partialsThrottled >= 500 - allowed)
        try honest.send(.final(client: dispatch.frame, body: [try failure(for: request, worker: "honest")]))
        #expect(await log.wait { _ in log.finals.count == 1 })
    }

    /// Registering ids in a loop fills the registry up to its cap, no further; the peers beyond it are
    /// told to go away.
    @Test func registrationsBeyondTheCapAreRefused() async throws {
        let context = try ZMQContext()
        var configuration = Net.brokerConfiguration()
        configuration.maxWorkers = 3
        configuration.heartbeatLiveness = 600
        let broker = try Broker(context: context, configuration: configuration, logger: Net.logger)
        defer { broker.shutdown() }
        let log = EventLog(broker)
        let peers = try (0..<5).map { try RawWorker(context: context, endpoint: broker.endpoint, name: "reg-\($0)-\(UUID().uuidString.prefix(6))") }
        for peer in peers { try peer.send(.ready(service: MDP.evaluateService)) }
        #expect(await log.wait { _ in broker.statistics.registrationsRefused == 2 && log.readyWorkers.count == 3 })
        let refused = try peers.filter { !log.readyWorkers.contains(WorkerID(routingID: try $0.socket.routingID())) }
        #expect(refused.count == 2)
        for peer in refused { #expect(try peer.next(timeout: .seconds(10)) == .disconnect) }
    }
}
