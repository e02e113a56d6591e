import Foundation
import Logging
import Transport
import Wire
import Threading

/// The worker's protocol state without a socket (Paranoid Pirate with 18/MDP commands): whether the
/// link is up and when to reconnect, heartbeats both ways, the running evaluation and its coalesced
/// progress, and the FINALs kept until the broker acknowledges them. It takes decoded input and the
/// time, sends through ``transmit`` and starts evaluations through ``startEvaluation``; ``WorkerLoop``
/// drives it from the DEALER socket, tests drive it directly.
///
/// Not thread-safe: one owner (the worker's socket thread, or a test) calls it.
package final class WorkerSession {
    /// Sends one message on the current link without blocking; throws when it cannot.
    package typealias Transmit = ([Data]) throws -> Void
    /// Starts evaluating a validated request; the evaluation's events come back as job `number`.
    package typealias StartEvaluation = (_ request: EvaluationRequest, _ number: Int) -> Void

    private struct Job {
        let number: Int
        let client: Data
        let request: EvaluationRequest
        var latestProgress: EvaluationProgress?
        var progressSent = true
        var lastPartial: ContinuousClock.Instant
    }

    /// A FINAL kept until the broker acknowledges it (ACK: its coordinator committed the result),
    /// and sent again after every reconnect until then. The broker drops repeats, answering those it
    /// already acknowledged with ACK again, so a coordinator killed between receipt and commit
    /// loses nothing.
    private struct PendingFinal {
        let client: Data
        /// The outcome's JSON, then the packed model if there is one.
        let body: [Data]
        var sentAt: ContinuousClock.Instant?
    }

    private let configuration: WorkerConfiguration
    private let transmit: Transmit
    private let startEvaluation: StartEvaluation
    private let logger: Logger

    /// Whether a link (socket) to the broker is up; the driver opens or closes its socket to match.
    package private(set) var isLinked = false
    /// When to open the next link while none is up.
    package private(set) var reconnectAt: ContinuousClock.Instant
    private var reconnectDelay: Duration
    private var generation = 0
    private var lastHeard: ContinuousClock.Instant
    private var lastSent: ContinuousClock.Instant
    private var job: Job?
    private var jobCounter = 0
    private var pending: [PendingFinal] = []
    private var stats = WorkerStatistics()
    /// The time of the input being handled (set by every entry point).
    private var now: ContinuousClock.Instant

    package init(
        configuration: WorkerConfiguration, logger: Logger, now: ContinuousClock.Instant, transmit: @escaping Transmit,
        startEvaluation: @escaping StartEvaluation
    ) {
        self.configuration = configuration
        self.logger = logger
        self.transmit = transmit
        self.startEvaluation = startEvaluation
        self.now = now
        reconnectAt = now
        lastHeard = now
        lastSent = now
        reconnectDelay = configuration.reconnectInitial
    }

    package var statistics: WorkerStatistics {
        var snapshot = stats
        snapshot.connected = isLinked
        snapshot.busy = job != nil
        snapshot.pendingFinals = pending.count
        return snapshot
    }

    /// Whether an evaluation is running.
    package var isBusy: Bool { job != nil }

    private var metadata: Logger.Metadata {
        ["worker.id": "\(configuration.name)", "zmq.endpoint": "\(configuration.endpoint)"]
    }

    // MARK: Link

    /// Whether the driver should open a link now.
    package func shouldConnect(at now: ContinuousClock.Instant) -> Bool { !isLinked && now >= reconnectAt }

    /// A new link is up: READY, then the running evaluation re-attached (so the broker does not hand
    /// this worker more work) and every unacknowledged FINAL sent again.
    package func linkOpened(at now: ContinuousClock.Instant) {
        self.now = now
        generation += 1
        isLinked = true
        lastHeard = now
        lastSent = now
        stats.connections += 1
        send(.ready(service: MDP.evaluateService))
        logger.info("Connecting to broker", metadata: metadata.merging(["worker.link": "\(generation)"]) { $1 })
        if var running = job {
            let progress = running.latestProgress
                ?? EvaluationProgress(candidateId: running.request.candidateId, attempt: running.request.attempt, phase: "running")
            sendPartial(progress, for: &running)
            job = running
        }
        for index in pending.indices { sendFinal(at: index) }
        forgetUnacknowledgedFinals()
    }

    /// The link is down (or could not be opened): reconnect after the back-off, which doubles each
    /// time up to ``WorkerConfiguration/reconnectMax`` and resets when the broker answers.
    package func linkLost(reason: String, at now: ContinuousClock.Instant) {
        self.now = now
        isLinked = false
        reconnectAt = now + reconnectDelay
        logger.warning(
            "Broker link down; reconnecting",
            metadata: metadata.merging(["reason": "\(reason)", "worker.retry_ms": "\(reconnectDelay.milliseconds)"]) { $1 })
        reconnectDelay = min(reconnectDelay * 2, configuration.reconnectMax)
    }

    /// Heartbeats and progress: the broker is presumed gone after the expiry; the latest progress
    /// goes out at most once per ``WorkerConfiguration/progressInterval``; HEARTBEAT when nothing
    /// else was sent for an interval.
    package func tick(at now: ContinuousClock.Instant) {
        self.now = now
        guard isLinked else { return }
        if now - lastHeard > configuration.expiry {
            stats.brokerTimeouts += 1
            linkLost(reason: "no heartbeat for \(configuration.expiry)", at: now)
            return
        }
        if var running = job, !running.progressSent, let progress = running.latestProgress,
            now - running.lastPartial >= configuration.progressInterval
        {
            sendPartial(progress, for: &running)
            job = running
        }
        if now - lastSent >= configuration.heartbeatInterval {
            send(.heartbeat)
        }
    }

    // MARK: From the broker

    /// Handles one message from the broker.
    package func receive(_ frames: [Data], at now: ContinuousClock.Instant) {
        self.now = now
        guard isLinked else { return }
        let message: MDPWorkerMessage
        do {
            message = try MDPWorkerMessage(frames: MDPFraming.detect(frames).frames)
        } catch {
            logger.warning("Dropped malformed message from broker", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return
        }
        stats.messagesReceived += 1
        lastHeard = now
        switch message {
        case .heartbeat:
            reconnectDelay = configuration.reconnectInitial
        case .disconnect:
            stats.disconnectsReceived += 1
            linkLost(reason: "broker sent DISCONNECT", at: now)
        case .request(let client, let body):
            reconnectDelay = configuration.reconnectInitial
            accept(client: client, body: body)
        case .acknowledge(let client):
            let before = pending.count
            pending.removeAll { $0.client == client }
            stats.finalsAcknowledged += before - pending.count
        case .ready, .partial, .final:
            logger.warning("Ignored a command only workers send", metadata: metadata.merging(["mdp.command": "\(message.command)"]) { $1 })
        }
    }

    /// Counts a message the socket could not read.
    package func receiveFailed(_ error: any Error) {
        logger.warning("Dropped unreadable message from broker", metadata: metadata.merging(["error": "\(error)"]) { $1 })
    }

    private func accept(client: Data, body: [Data]) {
        stats.requestsReceived += 1
        let request: EvaluationRequest
        do {
            request = try BodyCodec.decode(EvaluationRequest.self, fromBody: body)
        } catch {
            let ids = body.first.flatMap { try? BodyCodec.decode(RequestIdentity.self, from: $0) }
            logger.warning("Refused an undecodable request", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return refuse(client: client, candidateId: ids?.candidateId ?? 0, attempt: ids?.attempt ?? 0, kind: .badRequest, "\(error)")
        }
        guard request.schema == EvaluationRequest.currentSchema || request.isSupernetJob else {
            return refuse(
                client: client, candidateId: request.candidateId, attempt: request.attempt, kind: .schema,
                "request schema '\(request.schema)' is not '\(EvaluationRequest.currentSchema)' or '\(EvaluationRequest.supernetSchema)' with a supernet job")
        }
        let problems = request.problems
        guard problems.isEmpty else {
            logger.warning("Refused a request with out-of-range fields", metadata: metadata.merging(["error": "\(problems.joined(separator: "; "))"]) { $1 })
            return refuse(
                client: client, candidateId: request.candidateId, attempt: request.attempt, kind: .badRequest,
                problems.joined(separator: "; "))
        }
        if let running = job {
            return refuse(
                client: client, candidateId: request.candidateId, attempt: request.attempt, kind: .busy,
                "worker \(configuration.name) is still evaluating candidate \(running.request.candidateId)")
        }
        jobCounter += 1
        job = Job(number: jobCounter, client: client, request: request, lastPartial: now - .seconds(3600))
        logger.info(
            "Evaluation started",
            metadata: metadata.merging(["candidate.id": "\(request.candidateId)", "candidate.attempt": "\(request.attempt)"]) { $1 })
        startEvaluation(request, jobCounter)
    }

    /// The two fields a refusal needs, from a body that is otherwise undecodable.
    private struct RequestIdentity: Decodable {
        var candidateId: Int64
        var attempt: Int
    }

    private func refuse(client: Data, candidateId: Int64, attempt: Int, kind: FailureKind, _ message: String) {
        stats.refused += 1
        let outcome = EvaluationOutcome(
            candidateId: candidateId, attempt: attempt, result: nil, error: EvaluationFailure(kind: kind, message: message),
            worker: configuration.name)
        enqueueFinal(outcome, client: client)
    }

    // MARK: From the evaluation

    /// The running evaluation `number` reported progress; it is sent coalesced by ``tick(at:)``.
    package func evaluationProgressed(_ number: Int, _ progress: EvaluationProgress) {
        guard var running = job, running.number == number else { return }
        running.latestProgress = progress
        running.progressSent = false
        job = running
    }

    /// The running evaluation `number` ended: its FINAL is sent (now, or on the next link) and kept
    /// until acknowledged.
    package func evaluationFinished(_ number: Int, _ outcome: EvaluationOutcome, packedModel: Data?, at now: ContinuousClock.Instant) {
        self.now = now
        guard let running = job, running.number == number else { return }
        job = nil
        if outcome.error == nil { stats.completed += 1 } else { stats.failed += 1 }
        logger.info(
            "Evaluation finished",
            metadata: metadata.merging([
                "candidate.id": "\(outcome.candidateId)", "candidate.attempt": "\(outcome.attempt)",
                "outcome": "\(outcome.error.map { "failed: \($0)" } ?? "ok")", "worker.connected": "\(isLinked)",
            ]) { $1 })
        enqueueFinal(outcome, client: running.client, packedModel: packedModel)
    }

    // MARK: Sending

    /// Sends DISCONNECT (on shutdown), if a link is up.
    package func sayGoodbye() {
        send(.disconnect)
    }

    @discardableResult
    private func send(_ message: MDPWorkerMessage) -> Bool {
        guard isLinked else { return false }
        do {
            try transmit(message.frames(in: configuration.framing))
            lastSent = now
            stats.messagesSent += 1
            return true
        } catch {
            logger.warning("Send to broker failed", metadata: metadata.merging(["error": "\(error)", "mdp.command": "\(message.command)"]) { $1 })
            return false
        }
    }

    private func sendPartial(_ progress: EvaluationProgress, for running: inout Job) {
        guard let body = try? BodyCodec.encode(progress) else { return }
        if send(.partial(client: running.client, body: [body])) {
            running.progressSent = true
            running.lastPartial = now
            stats.partialsSent += 1
        }
    }

    private func sendFinal(at index: Int) {
        if send(.final(client: pending[index].client, body: pending[index].body)) {
            pending[index].sentAt = now
            stats.finalsSent += 1
        }
    }

    private func enqueueFinal(_ outcome: EvaluationOutcome, client: Data, packedModel: Data? = nil) {
        var body: [Data]
        do {
            body = [try BodyCodec.encode(outcome)]
            if let packedModel {
                if packedModel.count <= configuration.maxPackedModelBytes {
                    body.append(packedModel)
                } else {
                    logger.error(
                        "Packed model too large for a FINAL; sent without it (raise --max-message-mib on the coordinator and workers)",
                        metadata: metadata.merging(["bytes": "\(packedModel.count)", "limit": "\(configuration.maxPackedModelBytes)"]) { $1 })
                }
            }
        } catch {
            let failure = EvaluationOutcome(
                candidateId: outcome.candidateId, attempt: outcome.attempt, result: nil,
                error: EvaluationFailure(kind: .internal, message: "result cannot be encoded: \(error)"), worker: configuration.name)
            guard let fallback = try? BodyCodec.encode(failure) else { return }
            body = [fallback]
        }
        pending.append(PendingFinal(client: client, body: body, sentAt: nil))
        sendFinal(at: pending.count - 1)
        forgetUnacknowledgedFinals()
    }

    /// A delimited (majortomo) broker never sends SpikeQuant's ACK, so a FINAL is forgotten once sent,
    /// as plain 18/MDP does; keeping it would grow the list and re-send it on every reconnect.
    private func forgetUnacknowledgedFinals() {
        if configuration.framing == .delimited { pending.removeAll { $0.sentAt != nil } }
    }
}
