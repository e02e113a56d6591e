import Broker
import Foundation
import Logging
import QuantConfig
import Testing
import Transport
import Wire

/// The broker's protocol core driven without a socket: frames in, frames and events out, on a
/// made-up clock. Late, re-attached, duplicate, spoofed and poisoned FINALs, heartbeats and expiry,
/// all without sleeps.
struct BrokerStateTests {
    /// A ``BrokerState`` with recorded output and a clock the test moves.
    final class Harness {
        var now = ContinuousClock.now
        var sent: [[Data]] = []
        var events: [BrokerEvent] = []
        /// Peers the "socket" cannot route to: sends to them throw EHOSTUNREACH.
        var unreachable: Set<Data> = []
        private(set) var state: BrokerState!

        init(configure: (inout BrokerConfiguration) -> Void = { _ in }) {
            var configuration = BrokerConfiguration(endpoint: "inproc://embedded")
            configuration.heartbeatInterval = .seconds(1)
            configuration.heartbeatLiveness = 3
            configure(&configuration)
            var logger = Logger(label: "spikeq.test.broker-state")
            logger.logLevel = .critical
            state = BrokerState(
                configuration: configuration, artifacts: ArtifactCatalog(), logger: logger, now: now,
                transmit: { [unowned self] frames in
                    if self.unreachable.contains(frames[0]) {
                        throw ZMQError(code: .hostUnreachable, operation: "send", message: "unroutable")
                    }
                    self.sent.append(frames)
                },
                emit: { [unowned self] in self.events.append($0) })
        }

        func advance(_ duration: Duration) {
            now += duration
            state.tick(at: now)
        }

        func from(_ worker: String, _ message: MDPWorkerMessage, framing: MDPFraming = .rfc) {
            state.receive([Data(worker.utf8)] + message.frames(in: framing), userID: nil, at: now)
        }

        func ready(_ worker: String) { from(worker, .ready(service: MDP.evaluateService)) }

        func dispatch(_ id: UInt64, candidate: Int64, to worker: String) {
            state.run(.dispatch(DispatchID(rawValue: id), Self.request(candidate), WorkerID(routingID: Data(worker.utf8))), at: now)
        }

        func final(_ worker: String, dispatch id: UInt64, candidate: Int64) {
            let outcome = EvaluationOutcome(
                candidateId: candidate, attempt: 1, result: nil, error: EvaluationFailure(kind: .internal, message: "test"), worker: worker)
            from(worker, .final(client: DispatchID(rawValue: id).frame, body: [try! BodyCodec.encode(outcome)]))
        }

        func partial(_ worker: String, dispatch id: UInt64, candidate: Int64) {
            let progress = EvaluationProgress(candidateId: candidate, attempt: 1, phase: "fine-tune", step: 1, steps: 10)
            from(worker, .partial(client: DispatchID(rawValue: id).frame, body: [try! BodyCodec.encode(progress)]))
        }

        /// Messages sent to `worker`, decoded.
        func messages(to worker: String) -> [MDPWorkerMessage] {
            sent.filter { $0[0] == Data(worker.utf8) }.compactMap { try? MDPWorkerMessage(frames: Array($0.dropFirst())) }
        }

        /// FINAL events as (dispatch, worker, late).
        var finals: [(dispatch: UInt64, worker: String, late: Bool)] {
            events.compactMap {
                guard case .final(_, _, let dispatch, let worker, let late) = $0 else { return nil }
                return (dispatch.rawValue, "\(worker)", late)
            }
        }

        func held(by worker: String) -> HeldRequest? {
            state.workerStatuses.first { $0.id == WorkerID(routingID: Data(worker.utf8)) }?.held
        }

        static func request(_ candidate: Int64) -> EvaluationRequest {
            EvaluationRequest(
                candidateId: candidate, attempt: 1, config: QuantizationConfig(layers: ["head": .uniform(4)]),
                budget: FineTuneBudget(epochs: 1), seed: 1,
                baseCheckpoint: ArtifactReference(sha256: String(repeating: "0", count: 64), bytes: 0, name: "base.safetensors"),
                dataset: DatasetReference(configYAML: "name: synthetic\n", fingerprint: "fp"), energyModels: [:])
        }
    }

    @Test func aDispatchIsARequestCarryingItsIdAndOnlyItsHolderFinishesIt() throws {
        let h = Harness()
        h.ready("a")
        h.ready("b")
        #expect(h.events.count == 2)
        h.dispatch(7, candidate: 1, to: "a")
        guard case .request(let client, let body)? = h.messages(to: "a").last else {
            Issue.record("no REQUEST sent to a: \(h.messages(to: "a"))")
            return
        }
        #expect(DispatchID(frame: client) == DispatchID(rawValue: 7))
        #expect(try BodyCodec.decode(EvaluationRequest.self, fromBody: body).candidateId == 1)
        #expect(h.held(by: "a")?.dispatch == DispatchID(rawValue: 7))

        h.final("b", dispatch: 7, candidate: 1)
        #expect(h.finals.isEmpty, "b does not hold dispatch 7")
        #expect(h.state.stats.unboundDropped == 1)
        #expect(h.held(by: "a") != nil, "a spoofed FINAL does not release a's lease")

        h.partial("b", dispatch: 7, candidate: 1)
        #expect(!h.events.contains { if case .partial = $0 { true } else { false } }, "nor can b report a's progress")

        h.final("a", dispatch: 7, candidate: 1)
        #expect(h.finals.count == 1)
        #expect(h.finals.first?.worker == "a" && h.finals.first?.late == false)
        #expect(h.held(by: "a") == nil, "a is idle again")
    }

    @Test func repeatedFinalsAreDroppedAndAnsweredWithAckOnceCommitted() {
        let h = Harness()
        h.ready("a")
        h.dispatch(9, candidate: 2, to: "a")
        h.final("a", dispatch: 9, candidate: 2)
        h.final("a", dispatch: 9, candidate: 2)
        #expect(h.finals.count == 1)
        #expect(h.state.stats.duplicateFinals == 1)
        #expect(!h.messages(to: "a").contains(.acknowledge(client: DispatchID(rawValue: 9).frame)), "not committed yet")

        h.state.run(.acknowledge(DispatchID(rawValue: 9), WorkerID(routingID: Data("a".utf8))), at: h.now)
        let acks = { h.messages(to: "a").filter { $0 == .acknowledge(client: DispatchID(rawValue: 9).frame) }.count }
        #expect(acks() == 1)
        h.final("a", dispatch: 9, candidate: 2)
        #expect(acks() == 2, "a repeat after the commit is answered again, so the worker stops re-sending")
        #expect(h.finals.count == 1)
    }

    /// Undecodable FINALs for ids never given out mark nothing: when such an id is dispatched later,
    /// its honest FINAL is accepted.
    @Test func poisonedIdsDoNotStallLaterDispatches() {
        let h = Harness()
        h.ready("mallory")
        h.ready("honest")
        for id in UInt64(100)..<110 {
            h.from("mallory", .final(client: DispatchID(rawValue: id).frame, body: [Data("{not json".utf8)]))
        }
        #expect(h.state.stats.malformedDropped == 10)
        h.dispatch(105, candidate: 3, to: "honest")
        h.final("honest", dispatch: 105, candidate: 3)
        #expect(h.finals.map(\.dispatch) == [105])
        #expect(h.state.stats.duplicateFinals == 0)
    }

    @Test func unknownFinalsAreRateLimitedPerWorker() {
        let h = Harness { $0.unknownFinalBurst = 5; $0.unknownFinalsPerSecond = 1 }
        h.ready("w")
        for id in UInt64(1)...8 { h.final("w", dispatch: 1_000 + id, candidate: 1) }
        #expect(h.finals.count == 5, "the burst reaches the study (a restarted coordinator's re-sent FINALs)")
        #expect(h.state.stats.unknownFinalsThrottled == 3)
        h.now += .seconds(2)
        h.final("w", dispatch: 2_000, candidate: 1)
        #expect(h.finals.count == 6, "the bucket refills with time")
    }

    /// A worker that goes silent is lost with its dispatch; after it comes back, its late FINAL still
    /// completes the dispatch (once), and no other worker can.
    @Test func aLostWorkersLateFinalCompletesItsDispatchOnce() {
        let h = Harness()
        h.ready("a")
        h.ready("b")
        h.dispatch(11, candidate: 4, to: "a")
        // b keeps heartbeating; a is silent for longer than the expiry (3 s).
        for _ in 0..<8 {
            h.advance(.milliseconds(500))
            h.from("b", .heartbeat)
        }
        let lost = h.events.compactMap { event -> HeldRequest? in
            if case .workerLost(let worker, let held) = event, worker == WorkerID(routingID: Data("a".utf8)) { return held }
            return nil
        }
        #expect(lost.map(\.dispatch) == [DispatchID(rawValue: 11)])
        #expect(h.state.workerStatuses.map(\.id) == [WorkerID(routingID: Data("b".utf8))])

        h.final("b", dispatch: 11, candidate: 4)
        #expect(h.finals.isEmpty, "b never held dispatch 11")
        h.ready("a")
        h.final("a", dispatch: 11, candidate: 4)
        #expect(h.finals.count == 1 && h.finals[0].late, "a's late FINAL is accepted and marked late")
        h.final("a", dispatch: 11, candidate: 4)
        #expect(h.finals.count == 1)
    }

    /// A worker that reconnects mid-evaluation re-attaches its request with a PARTIAL; the broker then
    /// treats it as busy and its FINAL as late.
    @Test func aReconnectedWorkerReattachesItsRunningRequest() {
        let h = Harness()
        h.ready("a")
        h.dispatch(21, candidate: 5, to: "a")
        h.ready("a")  // same routing id on a new socket
        #expect(h.events.contains { if case .workerDisconnected(_, let held, _) = $0 { held?.dispatch.rawValue == 21 } else { false } })
        #expect(h.held(by: "a") == nil)
        h.partial("a", dispatch: 21, candidate: 5)
        #expect(h.held(by: "a")?.reattached == true)
        #expect(h.held(by: "a")?.request?.candidateId == 5, "the request is remembered from the lost dispatch")
        h.final("a", dispatch: 21, candidate: 5)
        #expect(h.finals.count == 1 && h.finals[0].late)
    }

    @Test func heartbeatsFollowTheClock() {
        let h = Harness()
        h.ready("a")
        h.advance(.milliseconds(500))
        #expect(!h.messages(to: "a").contains(.heartbeat), "written to less than ¾ of an interval ago")
        h.advance(.milliseconds(300))
        #expect(h.messages(to: "a").filter { $0 == .heartbeat }.count == 1)
        h.from("a", .heartbeat)
        h.advance(.seconds(3))
        #expect(h.state.workerStatuses.count == 1, "heard 3 s ago: not past the expiry")
        h.advance(.milliseconds(1))
        #expect(h.state.workerStatuses.isEmpty)
        #expect(h.state.stats.workersLost == 1)
    }

    @Test func progressFloodsAreCutBeforeDecoding() {
        let h = Harness { $0.partialBurst = 4; $0.partialsPerSecond = 2 }
        h.ready("a")
        h.dispatch(31, candidate: 6, to: "a")
        for _ in 0..<10 { h.partial("a", dispatch: 31, candidate: 6) }
        #expect(h.state.stats.partials == 4)
        #expect(h.state.stats.partialsThrottled == 6)
        #expect(h.held(by: "a") != nil, "throttled progress is still a sign of life, not a violation")
    }

    @Test func protocolViolationsDisconnectAndUnregisteredPeersAreToldToReconnect() {
        let h = Harness()
        h.from("stranger", .heartbeat)
        #expect(h.messages(to: "stranger") == [.disconnect])
        h.ready("a")
        h.from("a", .request(client: DispatchID(rawValue: 1).frame, body: [Data("{}".utf8)]))
        #expect(h.messages(to: "a").last == .disconnect)
        #expect(h.state.workerStatuses.isEmpty)
        h.ready("b")
        h.partial("b", dispatch: 77, candidate: 1)  // an id it was never given, while idle: re-attach
        h.dispatch(78, candidate: 2, to: "b")
        #expect(h.events.contains { if case .dispatchFailed(let id, _, _, _) = $0 { id.rawValue == 78 } else { false } }, "b is busy")
    }

    @Test func anUnroutableWorkerFailsTheDispatchAndTheWorkerKeepsNothing() {
        let h = Harness()
        h.ready("a")
        h.unreachable.insert(Data("a".utf8))
        h.dispatch(41, candidate: 7, to: "a")
        #expect(h.events.contains { if case .dispatchFailed(let id, _, _, let reason) = $0 { id.rawValue == 41 && reason.contains("unreachable") } else { false } })
        #expect(h.held(by: "a") == nil)
        h.dispatch(42, candidate: 7, to: "nobody")
        #expect(h.events.contains { if case .dispatchFailed(let id, _, _, let reason) = $0 { id.rawValue == 42 && reason.contains("not registered") } else { false } })
    }

    @Test func delimitedPeersAreAnsweredInTheirFramingAndGetNoAck() {
        let h = Harness()
        h.from("py", .ready(service: MDP.evaluateService), framing: .delimited)
        h.dispatch(51, candidate: 8, to: "py")
        #expect(h.sent.last?[1] == Data(), "the REQUEST starts with the empty delimiter frame the peer used")
        let outcome = EvaluationOutcome(candidateId: 8, attempt: 1, result: nil, error: EvaluationFailure(kind: .internal, message: "x"), worker: "py")
        h.from("py", .final(client: DispatchID(rawValue: 51).frame, body: [try! BodyCodec.encode(outcome)]), framing: .delimited)
        #expect(h.finals.count == 1)
        let before = h.sent.count
        h.state.run(.acknowledge(DispatchID(rawValue: 51), WorkerID(routingID: Data("py".utf8))), at: h.now)
        #expect(h.sent.count == before, "majortomo treats unknown commands as errors: no ACK")
    }

    /// Only an undecodable artifact request is malformed input; a well-formed one the service refuses
    /// (unknown schema, unknown hash) is answered and not counted as malformed.
    @Test func artifactRequestsAreCountedByWhatTheyAre() throws {
        let h = Harness()
        func ask(_ body: Data) {
            h.state.receive([Data("client".utf8)] + MDPClientMessage.request(service: MDP.artifactService, body: [body]).frames(in: .rfc),
                            userID: nil, at: h.now)
        }
        var request = ArtifactChunkRequest(sha256: String(repeating: "a", count: 64), offset: 0, length: 10)
        ask(try BodyCodec.encode(request))
        request.schema = "spikeq.artifact/99"
        ask(try BodyCodec.encode(request))
        #expect(h.state.stats.malformedDropped == 0)
        #expect(h.sent.count == 2, "both answered")
        ask(Data("{not json".utf8))
        #expect(h.state.stats.malformedDropped == 1)
        #expect(h.state.stats.artifactChunksServed == 0)
    }
}
