import Threading
import Foundation
public import Logging
public import ServiceLifecycle
import UnixSignals
public import Transport
import Wire

/// Counters of a running worker.
public struct WorkerStatistics: Sendable, Hashable {
    public var connected = false
    public var busy = false
    /// Sockets opened to the broker (1 + reconnects).
    public var connections = 0
    public var brokerTimeouts = 0
    public var disconnectsReceived = 0
    public var requestsReceived = 0
    public var completed = 0
    public var failed = 0
    /// Requests answered at once with a failure (busy, undecodable, unknown schema).
    public var refused = 0
    public var partialsSent = 0
    public var finalsSent = 0
    /// FINALs the broker has not acknowledged yet; they are re-sent after a reconnect.
    public var pendingFinals = 0
    /// FINALs the broker acknowledged (its coordinator committed them).
    public var finalsAcknowledged = 0
    public var messagesSent = 0
    public var messagesReceived = 0
}

/// A `spikeq.evaluate` worker: a DEALER connected to the broker, heartbeating from its own socket
/// thread while an ``Evaluator`` runs each request on a separate thread.
///
/// - It sends READY, then answers each REQUEST with PARTIALs (coalesced progress) and one FINAL
///   carrying an ``Wire/EvaluationOutcome`` (the result, or a structured failure if the evaluator threw).
/// - If the broker is silent for `heartbeatInterval × heartbeatLiveness`, or sends DISCONNECT, it
///   closes the socket and reconnects on a new one after an exponential back-off
///   (`reconnectInitial` doubling to `reconnectMax`), sending READY again. A running evaluation keeps
///   running; on reconnect the worker re-attaches it with a PARTIAL.
/// - A finished outcome is kept until delivered: it is sent again after every reconnect until the
///   link it went out on stayed healthy for an interval (the broker drops repeats).
public final class WorkerService: Service, Sendable {
    public let configuration: WorkerConfiguration
    private let context: ZMQContext
    private let evaluator: any Evaluator
    private let checkpoints: (any CheckpointProviding)?
    private let logger: Logger
    private let stopping = Locked(false)
    private let cancellation = Locked(false)
    private let stats = Locked(WorkerStatistics())
    private let inbox = Locked<[EvaluationEvent]>([])
    private let doorbell: Doorbell
    private let thread = Locked<OwnerThread?>(nil)
    /// Finishes when the socket thread has ended (stopped, or given up on its own).
    private let ended: AsyncStream<Void>
    private let endedContinuation: AsyncStream<Void>.Continuation

    /// - Parameters:
    ///   - checkpoints: Where evaluations get the base checkpoint; by default a ``CheckpointProvider``
    ///     that fetches from this broker's `spikeq.artifact` into `configuration.cacheDirectory`.
    public init(
        context: ZMQContext, configuration: WorkerConfiguration, evaluator: any Evaluator,
        checkpoints: (any CheckpointProviding)? = nil, logger: Logger
    ) throws {
        precondition(configuration.heartbeatLiveness >= 1, "heartbeat liveness is at least 1")
        let name = Data(configuration.name.utf8)
        guard (1...255).contains(name.count), name.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw ZMQError(
                code: .invalidArgument, operation: "WorkerService",
                message: "a worker name is 1–255 printable ASCII characters without spaces, got '\(configuration.name)'")
        }
        self.configuration = configuration
        self.context = context
        self.evaluator = evaluator
        self.logger = logger
        self.doorbell = try Doorbell()
        (ended, endedContinuation) = AsyncStream.makeStream(of: Void.self)
        self.checkpoints = checkpoints ?? CheckpointProvider(
            cache: ArtifactCache(directory: configuration.cacheDirectory),
            fetcher: ArtifactFetcher(
                context: context, endpoint: configuration.endpoint, curve: configuration.curve,
                chunkBytes: configuration.artifactChunkBytes, timeout: configuration.artifactTimeout,
                retries: configuration.artifactRetries, maxMessageBytes: configuration.maxMessageBytes, logger: logger))
    }

    /// Starts the socket thread. Calling it again while running does nothing.
    public func start() {
        thread.withLock { current in
            guard current == nil else { return }
            let (context, configuration, evaluator, checkpoints) = (context, configuration, evaluator, checkpoints)
            let (inbox, doorbell, cancellation, stats, logger, stopping, ended) = (
                inbox, doorbell, cancellation, stats, logger, self.stopping, endedContinuation
            )
            current = OwnerThread(name: "spikeq-worker") {
                // The loop and its sockets are created on, and never leave, this thread.
                let loop = WorkerLoop(
                    context: context, configuration: configuration, evaluator: evaluator, checkpoints: checkpoints,
                    inbox: inbox, doorbell: doorbell, cancellation: cancellation, statistics: stats, logger: logger)
                loop.run(stopping: stopping)
                ended.finish()
            }
        }
    }

    /// Cancels a running evaluation (it sees ``EvaluationContext/isCancelled``), sends DISCONNECT and
    /// closes the socket. Returns once the socket thread has finished; does not wait for the
    /// evaluation thread.
    public func stop() {
        requestStop()
        thread.current?.join()
    }

    /// Asks the socket thread to end, without waiting for it.
    private func requestStop() {
        stopping.withLock { $0 = true }
        doorbell.ring()
    }

    /// Runs until the task is cancelled, a graceful shutdown is requested (ServiceLifecycle) or the
    /// socket thread ends on its own; waits for the thread's end, not on a timer.
    public func run() async throws {
        start()
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                for await _ in ended {}
            } onCancel: {
                self.requestStop()
            }
        } onGracefulShutdown: {
            self.logger.info("Worker shutting down", metadata: ["worker.id": "\(self.configuration.name)"])
            self.requestStop()
        }
        stop()
    }

    public var statistics: WorkerStatistics { stats.current }

    deinit {
        stop()
    }
}

extension WorkerService {
    /// Runs the worker in a `ServiceGroup` until SIGTERM or SIGINT, then stops it gracefully
    /// (cancelling a running evaluation and sending DISCONNECT). What `spikeq worker` does.
    public func runUntilSignalled() async throws {
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: self)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
