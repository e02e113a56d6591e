import Threading
import Foundation
import Logging
import Transport
import Wire

/// What the evaluation thread tells the socket thread.
enum EvaluationEvent: Sendable {
    case progress(job: Int, EvaluationProgress)
    case finished(job: Int, EvaluationOutcome, Data?)
}

/// The worker's socket thread: opens and closes the DEALER link as the ``WorkerSession`` asks, feeds
/// it messages, evaluation events and time, and runs evaluations on their own thread (they report
/// through `inbox` + `doorbell`). All protocol decisions are the session's.
final class WorkerLoop {
    /// The current link's socket, shared with the session's transmit closure.
    private final class Link {
        var socket: ZMQSocket?
    }

    private let context: ZMQContext
    private let configuration: WorkerConfiguration
    private let inbox: Locked<[EvaluationEvent]>
    private let doorbell: Doorbell
    private let cancellation: Locked<Bool>
    private let statistics: Locked<WorkerStatistics>
    private let logger: Logger
    private let link = Link()
    private let session: WorkerSession
    /// Runs evaluations one after another; created once, so a request does not pay for a new thread.
    private let evaluationThread = SerialThread(name: "spikeq-eval")

    init(
        context: ZMQContext, configuration: WorkerConfiguration, evaluator: any Evaluator,
        checkpoints: (any CheckpointProviding)?, inbox: Locked<[EvaluationEvent]>, doorbell: Doorbell,
        cancellation: Locked<Bool>, statistics: Locked<WorkerStatistics>, logger: Logger
    ) {
        self.context = context
        self.configuration = configuration
        self.inbox = inbox
        self.doorbell = doorbell
        self.cancellation = cancellation
        self.statistics = statistics
        self.logger = logger
        let (link, evaluationThread) = (self.link, self.evaluationThread)
        session = WorkerSession(
            configuration: configuration, logger: logger, now: .now,
            transmit: { frames in
                guard let socket = link.socket else { throw ZMQError(code: .other, operation: "send", message: "no link to the broker") }
                try socket.send(frames, dontWait: true)
            },
            startEvaluation: { request, number in
                let context = EvaluationContext(
                    threads: request.budget.threads ?? configuration.threads, workerName: configuration.name,
                    checkpoints: checkpoints, cancellation: cancellation
                ) { progress in
                    inbox.withLock { $0.append(.progress(job: number, progress)) }
                    doorbell.ring()
                }
                evaluationThread.submit {
                    let (outcome, packedModel) = WorkerLoop.evaluate(request, with: evaluator, context: context, workerName: configuration.name)
                    inbox.withLock { $0.append(.finished(job: number, outcome, packedModel)) }
                    doorbell.ring()
                }
            })
    }

    /// Runs `request` and turns whatever happens into an outcome (a thrown failure becomes its error).
    private static func evaluate(
        _ request: EvaluationRequest, with evaluator: any Evaluator, context: EvaluationContext, workerName: String
    ) -> (EvaluationOutcome, Data?) {
        do {
            let reply = try evaluator.evaluate(request, context: context)
            return (
                EvaluationOutcome(
                    candidateId: request.candidateId, attempt: request.attempt, result: reply.result, error: nil, worker: workerName,
                    supernet: reply.supernet), reply.packedModel
            )
        } catch let failure as EvaluationFailure {
            return (EvaluationOutcome(candidateId: request.candidateId, attempt: request.attempt, result: nil, error: failure, worker: workerName), nil)
        } catch {
            let failure = EvaluationFailure(kind: .internal, message: "\(error)")
            return (EvaluationOutcome(candidateId: request.candidateId, attempt: request.attempt, result: nil, error: failure, worker: workerName), nil)
        }
    }

    // MARK: Loop

    func run(stopping: Locked<Bool>) {
        let poller = ZMQPoller()
        let step = min(configuration.heartbeatInterval / 4, configuration.progressInterval)
        while !stopping.current {
            let now = ContinuousClock.now
            if session.shouldConnect(at: now) { connect(now: now) }
            poller.removeAll()
            let bellIndex = poller.add(fileDescriptor: doorbell.fileDescriptor)
            let socketIndex = link.socket.map { poller.add($0) }
            let wait = link.socket == nil ? min(step, max(session.reconnectAt - now, .zero)) : step
            do {
                _ = try poller.poll(timeout: wait)
            } catch let error as ZMQError where error.code == .terminated {
                break
            } catch {
                logger.error("Worker poll failed", metadata: ["error": "\(error)"])
            }
            if poller.isReadable(bellIndex) { doorbell.drain() }
            drainInbox()
            if let socketIndex, poller.isReadable(socketIndex) || (link.socket?.hasPendingInput ?? false) {
                receiveAll()
            }
            session.tick(at: .now)
            closeIfUnlinked()
            publish()
        }
        cancellation.withLock { $0 = true }
        session.sayGoodbye()
        try? link.socket?.setLinger(.milliseconds(100))
        link.socket = nil
        evaluationThread.finish()
        publish()
    }

    private func publish() {
        let snapshot = session.statistics
        statistics.withLock { $0 = snapshot }
    }

    /// Opens a new socket (the old one, if any, is closed by then) and tells the session.
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
            link.socket = socket
            session.linkOpened(at: now)
        } catch {
            logger.error(
                "Cannot open a socket to the broker",
                metadata: ["worker.id": "\(configuration.name)", "zmq.endpoint": "\(configuration.endpoint)", "error": "\(error)"])
            session.linkLost(reason: "socket setup failed", at: now)
        }
    }

    /// Drops the socket once the session considers the link gone (DISCONNECT, broker silence).
    private func closeIfUnlinked() {
        if !session.isLinked { link.socket = nil }
    }

    private func receiveAll() {
        while let socket = link.socket {
            do {
                guard let frames = try socket.receive(dontWait: true) else { return }
                session.receive(frames, at: .now)
            } catch {
                session.receiveFailed(error)
            }
            if !session.isLinked {
                closeIfUnlinked()
                return
            }
        }
    }

    private func drainInbox() {
        let events = inbox.withLock { queue -> [EvaluationEvent] in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
        for event in events {
            switch event {
            case .progress(let number, let progress): session.evaluationProgressed(number, progress)
            case .finished(let number, let outcome, let packedModel): session.evaluationFinished(number, outcome, packedModel: packedModel, at: .now)
            }
        }
    }
}
