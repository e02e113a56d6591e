import Foundation
import Logging
import Transport
import Wire

/// What the evaluation thread tells the socket thread.
enum EvaluationEvent: Sendable {
    case progress(job: Int, EvaluationProgress)
    case finished(job: Int, EvaluationOutcome, Data?)
}

/// The worker's socket state machine (Paranoid Pirate with 18/MDP commands). Lives on, and is only
/// touched by, the worker's socket thread; evaluations run on their own threads and report through
/// `inbox` + `doorbell`.
final class WorkerLoop {
    private struct Link {
        let socket: ZMQSocket
        let generation: Int
        var lastHeard: ContinuousClock.Instant
        var lastSent: ContinuousClock.Instant
    }

    private struct Job {
        let number: Int
        let client: Data
        let request: EvaluationRequest
        var latestProgress: EvaluationProgress?
        var progressSent = true
        var lastPartial = ContinuousClock.now - .seconds(3600)
    }

    /// A FINAL kept until the broker acknowledges it (ACK: its coordinator committed the result),
    /// and sent again after every reconnect until then. The broker drops repeats, answering those it
    /// already acknowledged with ACK again, so a coordinator killed between receipt and commit
    /// loses nothing.
    private struct PendingFinal {
        let client: Data
        /// The outcome's JSON, then the packed model if there is one.
        let body: [Data]
        let candidateId: Int64
        var sentAt: ContinuousClock.Instant?
        var sentOnLink: Int
    }

    private let context: ZMQContext
    private let configuration: WorkerConfiguration
    private let evaluator: any Evaluator
    private let checkpoints: (any CheckpointProviding)?
    private let inbox: Locked<[EvaluationEvent]>
    private let doorbell: Doorbell
    private let cancellation: Locked<Bool>
    private let statistics: Locked<WorkerStatistics>
    private let logger: Logger

    private var link: Link?
    private var generation = 0
    private var reconnectAt = ContinuousClock.now
    private var reconnectDelay: Duration
    private var job: Job?
    private var jobCounter = 0
    private var pending: [PendingFinal] = []
    private var stats = WorkerStatistics()
    /// Runs evaluations one after another; created once, so a request does not pay for a new thread.
    private let evaluationThread = SerialThread(name: "spikeq-eval")

    init(
        context: ZMQContext, configuration: WorkerConfiguration, evaluator: any Evaluator,
        checkpoints: (any CheckpointProviding)?, inbox: Locked<[EvaluationEvent]>, doorbell: Doorbell,
        cancellation: Locked<Bool>, statistics: Locked<WorkerStatistics>, logger: Logger
    ) {
        self.context = context
        self.configuration = configuration
        self.evaluator = evaluator
        self.checkpoints = checkpoints
        self.inbox = inbox
        self.doorbell = doorbell
        self.cancellation = cancellation
        self.statistics = statistics
        self.logger = logger
        self.reconnectDelay = configuration.reconnectInitial
    }

    // MARK: Loop

    func run(stopping: Locked<Bool>) {
        let poller = ZMQPoller()
        let step = min(configuration.heartbeatInterval / 4, configuration.progressInterval)
        while !stopping.current {
            let now = ContinuousClock.now
            if link == nil && now >= reconnectAt { connect(now: now) }
            poller.removeAll()
            let bellIndex = poller.add(fileDescriptor: doorbell.fileDescriptor)
            let socketIndex = link.map { poller.add($0.socket) }
            let wait = link == nil ? min(step, max(reconnectAt - now, .zero)) : step
            do {
                _ = try poller.poll(timeout: wait)
            } catch let error as ZMQError where error.code == .terminated {
                break
            } catch {
                logger.error("Worker poll failed", metadata: ["error": "\(error)"])
            }
            if poller.isReadable(bellIndex) { doorbell.drain() }
            drainInbox()
            if let socketIndex, poller.isReadable(socketIndex) || (link?.socket.hasPendingInput ?? false) {
                receiveAll()
            }
            timers(now: .now)
            publish()
        }
        cancellation.withLock { $0 = true }
        if let link {
            try? link.socket.send(MDPWorkerMessage.disconnect.frames(in: configuration.framing), dontWait: true)
            try? link.socket.setLinger(.milliseconds(100))
        }
        link = nil
        evaluationThread.finish()
        publish()
    }

    private func publish() {
        stats.connected = link != nil
        stats.busy = job != nil
        stats.pendingFinals = pending.count
        let snapshot = stats
        statistics.withLock { $0 = snapshot }
    }

    private var metadata: Logger.Metadata {
        ["worker.id": "\(configuration.name)", "zmq.endpoint": "\(configuration.endpoint)"]
    }

    // MARK: Link management

    private func connect(now: ContinuousClock.Instant) {
        do {
            let socket = try ZMQSocket(context: context, type: .dealer)
            socket.maximumFrames = 32
            try socket.setRoutingID(Data(configuration.name.utf8))
            try socket.setMaxMessageSize(configuration.maxMessageBytes)
            try socket.setReconnect(interval: .milliseconds(100), maximum: configuration.reconnectMax)
            try socket.setTransportHeartbeat(
                interval: configuration.heartbeatInterval, timeout: configuration.expiry, ttl: configuration.expiry)
            if let curve = configuration.curve { try curve.apply(to: socket) }
            try socket.connect(configuration.endpoint)
            generation += 1
            link = Link(socket: socket, generation: generation, lastHeard: now, lastSent: now)
            stats.connections += 1
            send(.ready(service: MDP.evaluateService))
            logger.info("Connecting to broker", metadata: metadata.merging(["worker.link": "\(generation)"]) { $1 })
            if var running = job {
                // Re-attach the running evaluation so the broker does not hand this worker more work.
                let progress = running.latestProgress
                    ?? EvaluationProgress(candidateId: running.request.candidateId, attempt: running.request.attempt, phase: "running")
                sendPartial(progress, for: &running)
                job = running
            }
            for index in pending.indices { sendFinal(at: index) }
            forgetUnacknowledgedFinals()
        } catch {
            logger.error("Cannot open a socket to the broker", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            scheduleReconnect(now: now, reason: "socket setup failed")
        }
    }

    private func scheduleReconnect(now: ContinuousClock.Instant, reason: String) {
        link = nil
        reconnectAt = now + reconnectDelay
        logger.warning(
            "Broker link down; reconnecting",
            metadata: metadata.merging(["reason": "\(reason)", "worker.retry_ms": "\(reconnectDelay.milliseconds)"]) { $1 })
        reconnectDelay = min(reconnectDelay * 2, configuration.reconnectMax)
    }

    private func timers(now: ContinuousClock.Instant) {
        guard var current = link else { return }
        if now - current.lastHeard > configuration.expiry {
            stats.brokerTimeouts += 1
            scheduleReconnect(now: now, reason: "no heartbeat for \(configuration.expiry)")
            return
        }
        // Progress coalesced to at most one PARTIAL per progressInterval.
        if var running = job, !running.progressSent, let progress = running.latestProgress,
            now - running.lastPartial >= configuration.progressInterval
        {
            sendPartial(progress, for: &running)
            job = running
        }
        current = link ?? current
        if now - current.lastSent >= configuration.heartbeatInterval {
            send(.heartbeat)
        }
    }

    // MARK: Sending

    @discardableResult
    private func send(_ message: MDPWorkerMessage) -> Bool {
        guard let current = link else { return false }
        do {
            try current.socket.send(message.frames(in: configuration.framing), dontWait: true)
            link?.lastSent = .now
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
            running.lastPartial = .now
            stats.partialsSent += 1
        }
    }

    private func sendFinal(at index: Int) {
        if send(.final(client: pending[index].client, body: pending[index].body)) {
            pending[index].sentAt = .now
            pending[index].sentOnLink = generation
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
                error: EvaluationFailure(kind: "internal", message: "result cannot be encoded: \(error)"), worker: configuration.name)
            guard let fallback = try? BodyCodec.encode(failure) else { return }
            body = [fallback]
        }
        pending.append(PendingFinal(client: client, body: body, candidateId: outcome.candidateId, sentAt: nil, sentOnLink: 0))
        sendFinal(at: pending.count - 1)
        forgetUnacknowledgedFinals()
    }

    /// A delimited (majortomo) broker never sends SpikeQuant's ACK, so a FINAL is forgotten once sent,
    /// as plain 18/MDP does; keeping it would grow the list and re-send it on every reconnect.
    private func forgetUnacknowledgedFinals() {
        if configuration.framing == .delimited { pending.removeAll { $0.sentAt != nil } }
    }

    // MARK: Receiving

    private func receiveAll() {
        while let current = link {
            let frames: [Data]
            do {
                guard let received = try current.socket.receive(dontWait: true) else { return }
                frames = received
            } catch {
                logger.warning("Dropped unreadable message from broker", metadata: metadata.merging(["error": "\(error)"]) { $1 })
                continue
            }
            let message: MDPWorkerMessage
            do {
                message = try MDPWorkerMessage(frames: MDPFraming.detect(frames).frames)
            } catch {
                logger.warning("Dropped malformed message from broker", metadata: metadata.merging(["error": "\(error)"]) { $1 })
                continue
            }
            stats.messagesReceived += 1
            link?.lastHeard = .now
            switch message {
            case .heartbeat:
                reconnectDelay = configuration.reconnectInitial
            case .disconnect:
                stats.disconnectsReceived += 1
                scheduleReconnect(now: .now, reason: "broker sent DISCONNECT")
                return
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
    }

    private func accept(client: Data, body: [Data]) {
        stats.requestsReceived += 1
        let request: EvaluationRequest
        do {
            request = try BodyCodec.decode(EvaluationRequest.self, fromBody: body)
        } catch {
            let ids = body.first.flatMap { try? BodyCodec.decode(RequestIdentity.self, from: $0) }
            logger.warning("Refused an undecodable request", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return refuse(client: client, candidateId: ids?.candidateId ?? 0, attempt: ids?.attempt ?? 0, kind: "bad-request", "\(error)")
        }
        guard request.schema == EvaluationRequest.currentSchema || request.isSupernetJob else {
            return refuse(
                client: client, candidateId: request.candidateId, attempt: request.attempt, kind: "schema",
                "request schema '\(request.schema)' is not '\(EvaluationRequest.currentSchema)' or '\(EvaluationRequest.supernetSchema)' with a supernet job")
        }
        let problems = request.problems
        guard problems.isEmpty else {
            logger.warning("Refused a request with out-of-range fields", metadata: metadata.merging(["error": "\(problems.joined(separator: "; "))"]) { $1 })
            return refuse(
                client: client, candidateId: request.candidateId, attempt: request.attempt, kind: "bad-request",
                problems.joined(separator: "; "))
        }
        if let running = job {
            return refuse(
                client: client, candidateId: request.candidateId, attempt: request.attempt, kind: "busy",
                "worker \(configuration.name) is still evaluating candidate \(running.request.candidateId)")
        }
        start(request, client: client)
    }

    /// The two fields a refusal needs, from a body that is otherwise undecodable.
    private struct RequestIdentity: Decodable {
        var candidateId: Int64
        var attempt: Int
    }

    private func refuse(client: Data, candidateId: Int64, attempt: Int, kind: String, _ message: String) {
        stats.refused += 1
        let outcome = EvaluationOutcome(
            candidateId: candidateId, attempt: attempt, result: nil, error: EvaluationFailure(kind: kind, message: message),
            worker: configuration.name)
        enqueueFinal(outcome, client: client)
    }

    // MARK: Evaluations

    private func start(_ request: EvaluationRequest, client: Data) {
        jobCounter += 1
        let number = jobCounter
        job = Job(number: number, client: client, request: request)
        var jobMetadata = metadata
        jobMetadata["candidate.id"] = "\(request.candidateId)"
        jobMetadata["candidate.attempt"] = "\(request.attempt)"
        logger.info("Evaluation started", metadata: jobMetadata)
        let (inbox, doorbell, evaluator) = (self.inbox, self.doorbell, self.evaluator)
        let context = EvaluationContext(
            threads: request.budget.threads ?? configuration.threads, workerName: configuration.name,
            checkpoints: checkpoints, cancellation: cancellation
        ) { progress in
            inbox.withLock { $0.append(.progress(job: number, progress)) }
            doorbell.ring()
        }
        let name = configuration.name
        evaluationThread.submit {
            let outcome: EvaluationOutcome
            var packedModel: Data?
            do {
                let reply = try evaluator.evaluate(request, context: context)
                packedModel = reply.packedModel
                outcome = EvaluationOutcome(
                    candidateId: request.candidateId, attempt: request.attempt, result: reply.result, error: nil, worker: name,
                    supernet: reply.supernet)
            } catch let failure as EvaluationFailure {
                outcome = EvaluationOutcome(
                    candidateId: request.candidateId, attempt: request.attempt, result: nil, error: failure, worker: name)
            } catch {
                outcome = EvaluationOutcome(
                    candidateId: request.candidateId, attempt: request.attempt, result: nil,
                    error: EvaluationFailure(kind: "internal", message: "\(error)"), worker: name)
            }
            inbox.withLock { $0.append(.finished(job: number, outcome, packedModel)) }
            doorbell.ring()
        }
    }

    private func drainInbox() {
        let events = inbox.withLock { queue -> [EvaluationEvent] in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
        for event in events {
            switch event {
            case .progress(let number, let progress):
                guard var running = job, running.number == number else { continue }
                running.latestProgress = progress
                running.progressSent = false
                job = running
            case .finished(let number, let outcome, let packedModel):
                guard let running = job, running.number == number else { continue }
                job = nil
                if outcome.error == nil { stats.completed += 1 } else { stats.failed += 1 }
                logger.info(
                    "Evaluation finished",
                    metadata: metadata.merging([
                        "candidate.id": "\(outcome.candidateId)", "candidate.attempt": "\(outcome.attempt)",
                        "outcome": "\(outcome.error.map { "failed: \($0)" } ?? "ok")",
                        "worker.connected": "\(link != nil)",
                    ]) { $1 })
                enqueueFinal(outcome, client: running.client, packedModel: packedModel)
            }
        }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
