import Foundation
import Logging
import QuantConfig
import Testing
import Transport
import Wire
import Worker

/// The worker's protocol core driven without a socket: links opened and lost by hand, frames in,
/// frames out, on a made-up clock.
struct WorkerSessionTests {
    final class Harness {
        var now = ContinuousClock.now
        var sent: [MDPWorkerMessage] = []
        var started: [(request: EvaluationRequest, number: Int)] = []
        let configuration: WorkerConfiguration
        private(set) var session: WorkerSession!

        init(framing: MDPFraming = .rfc) {
            var configuration = WorkerConfiguration(
                endpoint: "inproc://embedded", name: "w1", cacheDirectory: FileManager.default.temporaryDirectory)
            configuration.framing = framing
            configuration.heartbeatInterval = .seconds(1)
            configuration.heartbeatLiveness = 3
            configuration.reconnectInitial = .seconds(1)
            configuration.reconnectMax = .seconds(4)
            configuration.progressInterval = .milliseconds(250)
            self.configuration = configuration
            var logger = Logger(label: "spikeq.test.worker-session")
            logger.logLevel = .critical
            session = WorkerSession(
                configuration: configuration, logger: logger, now: now,
                transmit: { [unowned self] frames in
                    self.sent.append(try MDPWorkerMessage(frames: MDPFraming.detect(frames).frames))
                },
                startEvaluation: { [unowned self] request, number in self.started.append((request, number)) })
        }

        func connect() {
            #expect(session.shouldConnect(at: now))
            session.linkOpened(at: now)
        }

        func fromBroker(_ message: MDPWorkerMessage) { session.receive(message.frames, at: now) }

        func request(_ candidate: Int64, client: UInt8 = 1, threads: Int? = nil) {
            var request = EvaluationRequest(
                candidateId: candidate, attempt: 1, config: QuantizationConfig(layers: ["head": .uniform(4)]),
                budget: FineTuneBudget(epochs: 1), seed: 1,
                baseCheckpoint: ArtifactReference(sha256: String(repeating: "0", count: 64), bytes: 0, name: "base.safetensors"),
                dataset: DatasetReference(configYAML: "name: synthetic\n", fingerprint: "fp"), energyModels: [:])
            request.budget.threads = threads
            fromBroker(.request(client: Data([client]), body: [try! BodyCodec.encode(request)]))
        }

        func finish(_ number: Int, candidate: Int64) {
            let outcome = EvaluationOutcome(
                candidateId: candidate, attempt: 1, result: nil, error: EvaluationFailure(kind: .diverged, message: "test"), worker: "w1")
            session.evaluationFinished(number, outcome, packedModel: nil, at: now)
        }

        /// FINALs sent, as (client byte, failure kind).
        var finals: [(client: UInt8, kind: FailureKind?)] {
            sent.compactMap {
                guard case .final(let client, let body) = $0 else { return nil }
                let outcome = try? BodyCodec.decode(EvaluationOutcome.self, from: body[0])
                return (client.first ?? 0, outcome?.error?.kind)
            }
        }

        var partials: [(client: UInt8, step: Int)] {
            sent.compactMap {
                guard case .partial(let client, let body) = $0 else { return nil }
                return (client.first ?? 0, (try? BodyCodec.decode(EvaluationProgress.self, fromBody: body))?.step ?? -1)
            }
        }
    }

    @Test func readyThenOneEvaluationAtATime() {
        let h = Harness()
        h.connect()
        #expect(h.sent == [.ready(service: MDP.evaluateService)])
        h.request(1, client: 1)
        #expect(h.started.map(\.number) == [1])
        #expect(h.session.isBusy)
        h.request(2, client: 2)
        #expect(h.started.count == 1, "a second request while busy is refused, not started")
        #expect(h.finals.map(\.client) == [2] && h.finals.first?.kind == .busy)
        h.finish(1, candidate: 1)
        #expect(h.finals.map(\.client) == [2, 1])
        #expect(!h.session.isBusy)
    }

    @Test func badRequestsAreRefusedWithTheirIds() throws {
        let h = Harness()
        h.connect()
        h.fromBroker(.request(client: Data([7]), body: [Data(#"{"candidateId": 12, "attempt": 3, "config": 5}"#.utf8)]))
        h.request(13, client: 8, threads: 0)
        #expect(h.started.isEmpty)
        #expect(h.finals.map(\.client) == [7, 8])
        #expect(h.finals.allSatisfy { $0.kind == .badRequest })
        guard case .final(_, let body)? = h.sent.first(where: { if case .final = $0 { true } else { false } }) else { return }
        let outcome = try BodyCodec.decode(EvaluationOutcome.self, from: body[0])
        #expect(outcome.candidateId == 12 && outcome.attempt == 3, "the refusal names the candidate the broker asked about")
    }

    /// A FINAL is kept until ACK: sent again on every new link until then, never after.
    @Test func finalsAreResentUntilAcknowledged() {
        let h = Harness()
        h.connect()
        h.request(1, client: 1)
        h.fromBroker(.disconnect)
        #expect(!h.session.isLinked)
        h.finish(1, candidate: 1)
        #expect(h.finals.isEmpty, "no link: the FINAL waits")
        #expect(h.session.statistics.pendingFinals == 1)

        h.now += .milliseconds(999)
        #expect(!h.session.shouldConnect(at: h.now), "back-off: 1 s")
        h.now += .milliseconds(1)
        h.connect()
        #expect(h.sent.suffix(2).first == .ready(service: MDP.evaluateService))
        #expect(h.finals.map(\.client) == [1])

        h.fromBroker(.disconnect)
        h.now += .seconds(2)  // the back-off doubled
        h.connect()
        #expect(h.finals.map(\.client) == [1, 1], "still unacknowledged: sent again")
        h.fromBroker(.acknowledge(client: Data([1])))
        #expect(h.session.statistics.pendingFinals == 0)
        #expect(h.session.statistics.finalsAcknowledged == 1)
        h.fromBroker(.disconnect)
        h.now += .seconds(4)
        h.connect()
        #expect(h.finals.count == 2, "acknowledged: not sent again")
    }

    @Test func aRunningEvaluationIsReattachedOnANewLink() {
        let h = Harness()
        h.connect()
        h.request(1, client: 9)
        h.session.evaluationProgressed(1, EvaluationProgress(candidateId: 1, attempt: 1, phase: "fine-tune", step: 4, steps: 10))
        h.fromBroker(.disconnect)
        h.now += .seconds(1)
        h.connect()
        #expect(Array(h.sent.suffix(2)).first == .ready(service: MDP.evaluateService))
        #expect(h.partials.last?.client == 9 && h.partials.last?.step == 4, "READY, then a PARTIAL for the running request")
    }

    @Test func progressIsCoalescedToTheLatestPerInterval() {
        let h = Harness()
        h.connect()
        h.request(1, client: 1)
        for step in 1...5 {
            h.session.evaluationProgressed(1, EvaluationProgress(candidateId: 1, attempt: 1, phase: "fine-tune", step: step, steps: 10))
        }
        h.session.tick(at: h.now)
        #expect(h.partials.map(\.step) == [5])
        h.session.evaluationProgressed(1, EvaluationProgress(candidateId: 1, attempt: 1, phase: "fine-tune", step: 6, steps: 10))
        h.now += .milliseconds(100)
        h.session.tick(at: h.now)
        #expect(h.partials.count == 1, "within the progress interval")
        h.now += .milliseconds(150)
        h.session.tick(at: h.now)
        #expect(h.partials.map(\.step) == [5, 6])
        h.session.evaluationProgressed(99, EvaluationProgress(candidateId: 1, attempt: 1, phase: "fine-tune", step: 7, steps: 10))
        h.now += .seconds(1)
        h.session.tick(at: h.now)
        #expect(h.partials.count == 2, "progress of an evaluation that is not the running one is ignored")
    }

    @Test func heartbeatsSilenceAndBackOff() {
        let h = Harness()
        h.connect()
        h.now += .milliseconds(999)
        h.session.tick(at: h.now)
        #expect(!h.sent.contains(.heartbeat))
        h.now += .milliseconds(1)
        h.session.tick(at: h.now)
        #expect(h.sent.filter { $0 == .heartbeat }.count == 1)
        // The broker is silent: lost after 3 s; reconnects back off 1, 2, 4, 4 s.
        var delays: [Duration] = []
        for _ in 0..<4 {
            for _ in 0..<40 where h.session.isLinked {
                h.now += .milliseconds(100)
                h.session.tick(at: h.now)
            }
            #expect(!h.session.isLinked)
            delays.append(h.session.reconnectAt - h.now)
            h.now = h.session.reconnectAt
            h.connect()
        }
        #expect(delays == [.seconds(1), .seconds(2), .seconds(4), .seconds(4)])
        #expect(h.session.statistics.brokerTimeouts == 4)
        h.fromBroker(.heartbeat)
        h.fromBroker(.disconnect)
        #expect(h.session.reconnectAt - h.now == .seconds(1), "an answer from the broker resets the back-off")
    }

    @Test func aDelimitedBrokerGetsNoResends() {
        let h = Harness(framing: .delimited)
        h.connect()
        h.request(1, client: 1)
        h.finish(1, candidate: 1)
        #expect(h.finals.count == 1)
        #expect(h.session.statistics.pendingFinals == 0, "majortomo never acknowledges: forgotten once sent")
    }
}
