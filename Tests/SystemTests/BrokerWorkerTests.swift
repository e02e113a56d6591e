import Broker
import Coordinator
import Foundation
import Testing
import Transport
import Wire
import Worker

/// The broker and real workers over loopback TCP.
@Suite(.serialized)
struct BrokerWorkerTests {
    @Test func twoWorkersFinishAllRequests() async throws {
        let context = try ZMQContext()
        let broker = try Broker(context: context, configuration: Net.brokerConfiguration(), logger: Net.logger)
        let log = EventLog(broker)
        let workers = try ["alpha", "beta"].map { name in
            try WorkerService(
                context: context, configuration: Net.workerConfiguration(endpoint: broker.endpoint, name: name),
                evaluator: NullEvaluator(sleep: .milliseconds(20), progressReports: 2), logger: Net.logger)
        }
        workers.forEach { $0.start() }
        defer {
            workers.forEach { $0.stop() }
            broker.shutdown()
        }
        #expect(await log.wait { _ in log.readyWorkers.count == 2 })

        // Keep both workers busy until 20 requests have finished.
        let total: Int64 = 20
        var next: Int64 = 0
        var dispatched: [DispatchID: Int64] = [:]
        for worker in log.readyWorkers {
            dispatched[broker.dispatch(Net.request(candidate: next), to: worker)] = next
            next += 1
        }
        var seen = 0
        while seen < Int(total) {
            let count = seen
            guard await log.wait(for: .seconds(5), { _ in log.finals.count > count }) else { break }
            for (_, _, worker, _) in log.finals[seen...] where next < total {
                dispatched[broker.dispatch(Net.request(candidate: next), to: worker)] = next
                next += 1
            }
            seen = log.finals.count
        }
        let finals = log.finals
        #expect(finals.count == Int(total))
        #expect(Set(finals.map(\.0.candidateId)) == Set(0..<total))
        #expect(Set(finals.map(\.2)).count == 2, "both workers evaluated")
        #expect(finals.allSatisfy { !$0.3 }, "no FINAL was late")
        for (outcome, dispatch, _, _) in finals {
            #expect(dispatched[dispatch] == outcome.candidateId)
            let expected = NullEvaluator.result(for: Net.request(candidate: outcome.candidateId), seconds: 0)
            #expect(outcome.result?.accuracy == expected.accuracy)
            #expect(outcome.result?.toolVersion.hasSuffix("+null-evaluator") == true)
        }
        let partials = log.all.filter { if case .partial = $0 { true } else { false } }
        #expect(!partials.isEmpty)
        #expect(broker.statistics.finals == Int(total))
        #expect(broker.statistics.malformedDropped == 0)
    }

    @Test func packedModelTravelsAsTheFinalsSecondFrame() async throws {
        struct Packing: Evaluator {
            func evaluate(_ request: EvaluationRequest, context: EvaluationContext) throws -> EvaluationReply {
                let packed = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(request.candidateId)) })
                return EvaluationReply(result: NullEvaluator.result(for: request, seconds: 0), packedModel: packed)
            }
        }
        let context = try ZMQContext()
        let broker = try Broker(context: context, configuration: Net.brokerConfiguration(), logger: Net.logger)
        let log = EventLog(broker)
        let worker = try WorkerService(
            context: context, configuration: Net.workerConfiguration(endpoint: broker.endpoint, name: "packing"),
            evaluator: Packing(), logger: Net.logger)
        worker.start()
        defer {
            worker.stop()
            broker.shutdown()
        }
        #expect(await log.wait { _ in log.readyWorkers.count == 1 })
        _ = broker.dispatch(Net.request(candidate: 9), to: log.readyWorkers[0])
        #expect(await log.wait { _ in log.finals.count == 1 })
        let artifacts = log.all.compactMap { event -> Data? in
            if case .final(_, let artifact, _, _, _) = event { artifact } else { nil }
        }
        #expect(artifacts.count == 1)
        #expect(artifacts.first == Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 9) }))
    }

    @Test func silentWorkerIsExpiredAndItsLateFinalAcceptedOnce() async throws {
        let context = try ZMQContext()
        let broker = try Broker(context: context, configuration: Net.brokerConfiguration(), logger: Net.logger)
        defer { broker.shutdown() }
        let log = EventLog(broker)
        let raw = try RawWorker(context: context, endpoint: broker.endpoint, name: "silent")
        try raw.send(.ready(service: MDP.evaluateService))
        #expect(await log.wait { _ in log.readyWorkers.count == 1 })
        let worker = try #require(log.readyWorkers.first)
        let request = Net.request(candidate: 42)
        let dispatch = broker.dispatch(request, to: worker)
        guard case .request(let client, let body)? = try raw.next() else {
            Issue.record("no REQUEST reached the worker")
            return
        }
        #expect(DispatchID(frame: client) == dispatch)
        #expect(try BodyCodec.decode(EvaluationRequest.self, fromBody: body) == request)

        // Go silent: the broker expires the worker after interval × liveness and reports the request.
        let started = ContinuousClock.now
        let lost = await log.wait(for: .seconds(30)) { events in
            events.contains { if case .workerLost(let id, let held) = $0 { id == worker && held?.dispatch == dispatch } else { false } }
        }
        #expect(lost)
        #expect(ContinuousClock.now - started >= .milliseconds(400))
        if case .workerLost(_, let held)? = log.all.last(where: { if case .workerLost = $0 { true } else { false } }) {
            #expect(held?.request == request)
        }

        // The worker comes back on a new socket with the same id and delivers the result late.
        let back = try RawWorker(context: context, endpoint: broker.endpoint, name: "silent")
        try back.send(.ready(service: MDP.evaluateService))
        let outcome = EvaluationOutcome(
            candidateId: 42, attempt: 1, result: NullEvaluator.result(for: request, seconds: 0), error: nil, worker: "silent")
        let final = MDPWorkerMessage.final(client: dispatch.frame, body: [try BodyCodec.encode(outcome)])
        try back.send(final)
        #expect(await log.wait { _ in log.finals.count == 1 })
        #expect(log.finals.first?.3 == true, "marked late")
        #expect(log.finals.first?.0 == outcome)
        // A repeat of the same FINAL is dropped.
        try back.send(final)
        try back.send(.heartbeat)
        #expect(await log.wait { _ in broker.statistics.duplicateFinals == 1 })
        try await Task.sleep(for: .milliseconds(50))
        #expect(log.finals.count == 1)
    }

    @Test func finalFromAnotherWorkerIsDroppedAndTheHolderStillFinishes() async throws {
        let context = try ZMQContext()
        let broker = try Broker(context: context, configuration: Net.rawPeerBrokerConfiguration(), logger: Net.logger)
        defer { broker.shutdown() }
        let log = EventLog(broker)
        let holder = try RawWorker(context: context, endpoint: broker.endpoint, name: "holder")
        let other = try RawWorker(context: context, endpoint: broker.endpoint, name: "other")
        try holder.send(.ready(service: MDP.evaluateService))
        try other.send(.ready(service: MDP.evaluateService))
        #expect(await log.wait { _ in log.readyWorkers.count == 2 })
        let holderID = WorkerID(routingID: Data("holder".utf8))
        let request = Net.request(candidate: 77)
        let dispatch = broker.dispatch(request, to: holderID)
        guard case .request? = try holder.next() else {
            Issue.record("no REQUEST reached the holder")
            return
        }
        let outcome = EvaluationOutcome(candidateId: 77, attempt: 1, result: nil,
                                        error: EvaluationFailure(kind: .internal, message: "x"), worker: "w")
        let final = MDPWorkerMessage.final(client: dispatch.frame, body: [try BodyCodec.encode(outcome)])
        try other.send(final)
        #expect(await log.wait { _ in broker.statistics.unboundDropped == 1 }, "only the holder may finish it")
        #expect(log.finals.isEmpty)
        try holder.send(final)
        #expect(await log.wait { _ in log.finals.count == 1 })
        #expect(log.finals.first?.3 == false)
        // The holder is idle again: a new dispatch reaches it.
        let next = broker.dispatch(Net.request(candidate: 78), to: holderID)
        guard case .request(let client, _)? = try holder.next() else {
            Issue.record("the holder was not freed")
            return
        }
        #expect(DispatchID(frame: client) == next)
    }

    @Test func unexpectedCommandsGetDisconnect() async throws {
        let context = try ZMQContext()
        let broker = try Broker(context: context, configuration: Net.rawPeerBrokerConfiguration(), logger: Net.logger)
        defer { broker.shutdown() }
        let log = EventLog(broker)
        // HEARTBEAT before READY.
        let early = try RawWorker(context: context, endpoint: broker.endpoint, name: "early")
        try early.send(.heartbeat)
        #expect(try early.next() == .disconnect)
        // A worker sending REQUEST breaks the protocol.
        let rogue = try RawWorker(context: context, endpoint: broker.endpoint, name: "rogue")
        try rogue.send(.ready(service: MDP.evaluateService))
        #expect(await log.wait { _ in log.readyWorkers.count == 1 })
        try rogue.send(.request(client: Data([1]), body: [Data("{}".utf8)]))
        #expect(try rogue.next() == .disconnect)
        #expect(await log.wait { events in
            events.contains { if case .workerDisconnected(let id, _, _) = $0 { id.description == "rogue" } else { false } }
        })
        // Unknown service.
        let other = try RawWorker(context: context, endpoint: broker.endpoint, name: "other")
        try other.send(.ready(service: "echo"))
        #expect(try other.next() == .disconnect)
        // Dispatching to nobody fails with an event.
        let id = broker.dispatch(Net.request(candidate: 1), to: WorkerID(routingID: Data("ghost".utf8)))
        #expect(await log.wait { events in
            events.contains { if case .dispatchFailed(let failed, _, _, _) = $0 { failed == id } else { false } }
        })
    }

    @Test func workerReconnectsAndDeliversLateFinalAfterBrokerRestart() async throws {
        let context = try ZMQContext()
        var first: Broker? = try Broker(context: context, configuration: Net.brokerConfiguration(), logger: Net.logger)
        let endpoint = first!.endpoint
        let firstLog = EventLog(first!)
        let worker = try WorkerService(
            context: context, configuration: Net.workerConfiguration(endpoint: endpoint, name: "survivor"),
            evaluator: NullEvaluator(sleep: .milliseconds(800), progressReports: 8), logger: Net.logger)
        worker.start()
        defer { worker.stop() }
        #expect(await firstLog.wait { _ in firstLog.readyWorkers.count == 1 })
        let dispatch = first!.dispatch(Net.request(candidate: 7), to: firstLog.readyWorkers[0])
        #expect(await firstLog.wait { events in events.contains { if case .partial = $0 { true } else { false } } })

        // The broker goes away mid-evaluation and a new one binds the same endpoint.
        first!.shutdown()
        first = nil
        try await Task.sleep(for: .milliseconds(100))
        let second = try Broker(context: context, configuration: Net.brokerConfiguration(endpoint: endpoint), logger: Net.logger)
        defer { second.shutdown() }
        let log = EventLog(second)
        // At least once: on a loaded machine the worker may miss the new broker's heartbeats for
        // its liveness window and register again, as MDP has it do.
        #expect(await log.wait(for: .seconds(30)) { _ in !log.readyWorkers.isEmpty }, "worker re-registered")
        #expect(await log.wait(for: .seconds(30)) { _ in log.finals.count == 1 }, "result delivered to the new broker")
        let final = try #require(log.finals.first)
        #expect(final.0.candidateId == 7)
        #expect(final.1 == dispatch)
        #expect(final.3, "late: the new broker never dispatched it")
        #expect(worker.statistics.connections >= 2)
        // The worker is usable again afterwards, at its latest registration.
        let again = second.dispatch(Net.request(candidate: 8), to: try #require(log.readyWorkers.last))
        #expect(await log.wait(for: .seconds(30)) { _ in log.finals.contains { $0.1 == again && !$0.3 } })
    }

    @Test func resultFinishedWhileDisconnectedIsDeliveredAfterReconnect() async throws {
        let context = try ZMQContext()
        var first: Broker? = try Broker(context: context, configuration: Net.brokerConfiguration(), logger: Net.logger)
        let endpoint = first!.endpoint
        let firstLog = EventLog(first!)
        let worker = try WorkerService(
            context: context, configuration: Net.workerConfiguration(endpoint: endpoint, name: "patient"),
            evaluator: NullEvaluator(sleep: .milliseconds(200), progressReports: 1), logger: Net.logger)
        worker.start()
        defer { worker.stop() }
        #expect(await firstLog.wait { _ in firstLog.readyWorkers.count == 1 })
        let dispatch = first!.dispatch(Net.request(candidate: 99), to: firstLog.readyWorkers[0])
        try await Task.sleep(for: .milliseconds(20))
        first!.shutdown()
        first = nil
        // The evaluation ends while no broker is listening; the worker must keep the outcome.
        #expect(await poll(within: .seconds(30)) { worker.statistics.completed == 1 ? true : nil } == true)
        #expect(worker.statistics.pendingFinals == 1)
        let second = try Broker(context: context, configuration: Net.brokerConfiguration(endpoint: endpoint), logger: Net.logger)
        defer { second.shutdown() }
        let log = EventLog(second)
        #expect(await log.wait(for: .seconds(30)) { _ in log.finals.count == 1 })
        #expect(log.finals.first?.0.candidateId == 99)
        #expect(log.finals.first?.1 == dispatch)
        #expect(log.finals.first?.3 == true)
        // Not forgotten until the broker's owner acknowledges it (after its commit): the worker goes on
        // hearing from the broker (heartbeats every 75 ms) and still holds it.
        let heard = worker.statistics.messagesReceived
        var heardMore = false
        let heardBy = ContinuousClock.now + .seconds(5)
        while !heardMore && ContinuousClock.now < heardBy {
            heardMore = worker.statistics.messagesReceived >= heard + 5
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(heardMore, "the broker kept the link busy")
        #expect(worker.statistics.pendingFinals == 1, "kept until acknowledged")
        second.acknowledge(dispatch, to: try #require(log.finals.first?.2))
        var drained = false
        let deadline = ContinuousClock.now + .seconds(2)
        while !drained && ContinuousClock.now < deadline {
            drained = worker.statistics.pendingFinals == 0
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(drained, "the FINAL was forgotten once acknowledged")
        #expect(worker.statistics.finalsAcknowledged == 1)
    }

    @Test func evaluatorFailureIsReportedAndBusyWorkerRefuses() async throws {
        struct Failing: Evaluator {
            func evaluate(_ request: EvaluationRequest, context: EvaluationContext) throws -> EvaluationReply {
                Thread.sleep(forTimeInterval: 0.3)
                throw EvaluationFailure(kind: .diverged, message: "loss became NaN at step 3")
            }
        }
        let context = try ZMQContext()
        let broker = try Broker(context: context, configuration: Net.brokerConfiguration(), logger: Net.logger)
        let log = EventLog(broker)
        let worker = try WorkerService(
            context: context, configuration: Net.workerConfiguration(endpoint: broker.endpoint, name: "failing"),
            evaluator: Failing(), logger: Net.logger)
        worker.start()
        defer {
            worker.stop()
            broker.shutdown()
        }
        #expect(await log.wait { _ in log.readyWorkers.count == 1 })
        let id = log.readyWorkers[0]
        let first = broker.dispatch(Net.request(candidate: 1), to: id)
        // The broker refuses a second dispatch to a busy worker itself.
        let second = broker.dispatch(Net.request(candidate: 2), to: id)
        #expect(await log.wait { events in
            events.contains { if case .dispatchFailed(let d, _, _, let reason) = $0 { d == second && reason.contains("busy") } else { false } }
        })
        #expect(await log.wait { _ in log.finals.count == 1 })
        let outcome = try #require(log.finals.first)
        #expect(outcome.1 == first)
        #expect(outcome.0.result == nil)
        #expect(outcome.0.error == EvaluationFailure(kind: .diverged, message: "loss became NaN at step 3"))
        #expect(outcome.0.worker == "failing")
    }
}
