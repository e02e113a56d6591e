import Threading
import Foundation
public import Logging
public import ServiceLifecycle
public import Transport
public import Wire

/// The 18/MDP broker: a bound ROUTER socket driven by its own thread, with a registry of
/// `spikeq.evaluate` workers, heartbeats both ways, and the `spikeq.artifact` service for clients.
///
/// The owner (the study) talks to it through two thread-safe channels:
/// - ``events``: an `AsyncStream` of ``BrokerEvent`` in the order they happened (worker ready,
///   progress, results, lost and disconnected workers, failed dispatches). Consume it from one task.
/// - commands: ``dispatch(_:to:)``, ``disconnect(_:)``, ``workers()``; they are queued and executed on
///   the broker thread, which a ``Doorbell`` wakes at once.
///
/// The broker never blocks on a peer: it sends with `DONTWAIT` and `ROUTER_MANDATORY`, drops malformed
/// input with a (rate-limited) warning, and answers valid-but-unexpected worker commands with
/// DISCONNECT as 18/MDP requires.
///
///     let broker = try Broker(context: context, configuration: .init(endpoint: "tcp://*:5555"), logger: logger)
///     for await event in broker.events {
///         if case .workerReady(let worker) = event { broker.dispatch(request, to: worker) }
///     }
public final class Broker: Sendable {
    /// The bound endpoint with any wildcard port resolved (`tcp://0.0.0.0:5555`).
    public let endpoint: String
    public let events: AsyncStream<BrokerEvent>
    /// The files served through `spikeq.artifact`; add to it at any time.
    public let artifacts: ArtifactCatalog
    public let configuration: BrokerConfiguration

    private let continuation: AsyncStream<BrokerEvent>.Continuation
    private let commands = Locked<[BrokerCommand]>([])
    private let doorbell: Doorbell
    private let stopping = Locked(false)
    private let stats = Locked(BrokerStatistics())
    private let thread: OwnerThread
    private let zap: ZAPHandler?

    /// Under CURVE: handshakes the ZAP handler admitted and refused so far (nil without CURVE).
    public var authentications: (allowed: Int, denied: Int)? { zap?.decisions }

    /// Binds the socket on the broker thread and starts serving.
    ///
    /// With ``BrokerConfiguration/curve`` set, a ``ZAPHandler`` admitting only the keys in the
    /// authorized-keys directory is started on `context` first (one per context).
    ///
    /// - Throws: ``ZMQError`` if the endpoint cannot be bound, CURVE is unavailable, or the keys are unusable.
    public init(
        context: ZMQContext, configuration: BrokerConfiguration, artifacts: ArtifactCatalog = ArtifactCatalog(),
        logger: Logger
    ) throws {
        self.configuration = configuration
        self.artifacts = artifacts
        precondition(configuration.heartbeatLiveness >= 1, "heartbeat liveness is at least 1")
        precondition(configuration.heartbeatInterval > .zero, "heartbeat interval is positive")
        (events, continuation) = AsyncStream.makeStream(of: BrokerEvent.self)
        doorbell = try Doorbell()

        if let curve = configuration.curve {
            guard ZMQLibrary.hasCurve else {
                throw ZMQError(code: .notSupported, operation: "Broker(curve)", message: "this libzmq was built without CURVE")
            }
            guard curve.serverKeys.secretKey != nil else {
                throw ZMQError(code: .invalidKey, operation: "Broker(curve)", message: "the server certificate has no secret key")
            }
            let authorized = try AuthorizedKeys(directory: curve.authorizedKeysDirectory)
            let count = try authorized.keys().count
            for problem in authorized.problems {
                logger.warning("Unreadable authorized key file", metadata: ["error": "\(problem)"])
            }
            if count == 0 {
                logger.warning(
                    "No worker keys are authorized yet: no worker can connect until a public key is added (the directory is re-read at every connection)",
                    metadata: ["zmq.authorized_keys": "\(curve.authorizedKeysDirectory.path)"])
            }
            zap = try ZAPHandler(context: context, authorizer: authorized, logger: logger)
            logger.info(
                "CURVE enabled",
                metadata: ["zmq.authorized_keys": "\(curve.authorizedKeysDirectory.path)", "zmq.authorized_count": "\(count)"])
        } else {
            zap = nil
            if !EndpointScope.isLocalOnly(configuration.endpoint) {
                logger.warning(
                    "Broker bound without CURVE on a network address: anyone who can reach it can register workers and read artifacts",
                    metadata: ["zmq.endpoint": "\(configuration.endpoint)"])
            }
        }

        let ready = DispatchSemaphore(value: 0)
        let bound = Locked<Result<String, ZMQError>?>(nil)
        let (commands, doorbell, stopping, stats, continuation) = (
            self.commands, self.doorbell, self.stopping, self.stats, self.continuation
        )
        thread = OwnerThread(name: "spikeq-broker") {
            let socket: ZMQSocket
            do {
                socket = try Self.makeSocket(context: context, configuration: configuration)
                bound.withLock { $0 = .success((try? socket.lastEndpoint()) ?? configuration.endpoint) }
            } catch {
                let zmqError = error as? ZMQError ?? ZMQError(code: .other, operation: "bind", message: "\(error)")
                bound.withLock { $0 = .failure(zmqError) }
                ready.signal()
                continuation.finish()
                return
            }
            ready.signal()
            let loop = BrokerLoop(
                socket: socket, configuration: configuration, commands: commands, doorbell: doorbell,
                statistics: stats, artifacts: artifacts, logger: logger, emit: { continuation.yield($0) })
            loop.run(stopping: stopping)
            // Whatever the owner queued after the loop's last look: answer it, so no caller waits forever.
            let leftovers = stopping.withLock { flag -> [BrokerCommand] in
                flag = true
                return commands.withLock { queue in
                    defer { queue.removeAll() }
                    return queue
                }
            }
            for command in leftovers {
                switch command {
                case .snapshot(let reply): reply([])
                case .dispatch(let id, let request, let worker):
                    continuation.yield(.dispatchFailed(id, request: request, worker: worker, reason: "broker stopped"))
                case .disconnect, .acknowledge: break
                }
            }
            continuation.finish()
        }
        ready.wait()
        switch bound.current {
        case .success(let resolved)?:
            endpoint = resolved
        case .failure(let error)?:
            thread.join()
            zap?.stop()
            throw error
        case nil:
            preconditionFailure("the broker thread signalled without a result")
        }
        logger.info("Broker listening", metadata: ["zmq.endpoint": "\(endpoint)", "mdp.service": "\(MDP.evaluateService)"])
    }

    private static func makeSocket(context: ZMQContext, configuration: BrokerConfiguration) throws -> ZMQSocket {
        let socket = try ZMQSocket(context: context, type: .router)
        socket.maximumFrames = 32
        // A FINAL is its outcome JSON plus at most one packed model of up to a frame's size.
        socket.maximumMessageBytes = configuration.maxMessageBytes + (1 << 20)
        try socket.setRouterMandatory(true)
        try socket.setRouterHandover(true)
        try socket.setMaxMessageSize(configuration.maxMessageBytes)
        try socket.setHighWaterMarks(send: configuration.sendQueueMessages, receive: configuration.receiveQueueMessages)
        if configuration.transportHeartbeats {
            try socket.setTransportHeartbeat(
                interval: configuration.heartbeatInterval, timeout: configuration.expiry, ttl: configuration.expiry)
        }
        if let curve = configuration.curve, let secret = curve.serverKeys.secretKey {
            try socket.setZAPDomain(configuration.zapDomain)
            // Ask ZAP for every connection in this domain, also where libzmq would skip it; a draft
            // option, absent from some libzmq builds (ZAP is then already used for CURVE).
            try? socket.setZAPEnforceDomain(true)
            try socket.setCurveServer(secretKey: secret)
        }
        try socket.bind(configuration.endpoint)
        return socket
    }

    // MARK: Commands

    /// Sends `request` to `worker` (or, if nil, to the idle worker that has waited longest).
    ///
    /// Returns at once; the REQUEST leaves from the broker thread. If it cannot be delivered the
    /// broker emits ``BrokerEvent/dispatchFailed(_:request:worker:reason:)`` with the returned id.
    /// - Returns: The id that PARTIAL and FINAL events for this dispatch will carry.
    @discardableResult
    public func dispatch(_ request: EvaluationRequest, to worker: WorkerID? = nil) -> DispatchID {
        // Unpredictable, so a peer cannot guess another worker's dispatch (or a future one).
        let id = DispatchID(rawValue: UInt64.random(in: 1...UInt64.max))
        enqueue(.dispatch(id, request, worker))
        return id
    }

    /// Tells `worker` that its FINAL for `dispatch` has been committed (the ACK extension, see
    /// docs/protocol.md); the worker stops re-sending it. Later repeats of that FINAL are answered
    /// with ACK again.
    public func acknowledge(_ dispatch: DispatchID, to worker: WorkerID) {
        enqueue(.acknowledge(dispatch, worker))
    }

    /// Sends DISCONNECT to a worker and forgets it (emits ``BrokerEvent/workerDisconnected(_:held:reason:)``).
    public func disconnect(_ worker: WorkerID) {
        enqueue(.disconnect(worker))
    }

    /// The registered workers, as the broker thread sees them now.
    public func workers() async -> [WorkerStatus] {
        await withCheckedContinuation { continuation in
            let accepted = stopping.withLock { stopping -> Bool in
                guard !stopping else { return false }
                commands.withLock { $0.append(.snapshot { continuation.resume(returning: $0) }) }
                return true
            }
            if accepted { doorbell.ring() } else { continuation.resume(returning: []) }
        }
    }

    /// Counters and timings; updated after every loop iteration.
    public var statistics: BrokerStatistics { stats.current }

    private func enqueue(_ command: BrokerCommand) {
        let accepted = stopping.withLock { stopping -> Bool in
            guard !stopping else { return false }
            commands.withLock { $0.append(command) }
            return true
        }
        if accepted {
            doorbell.ring()
        } else if case .dispatch(let id, let request, let worker) = command {
            continuation.yield(.dispatchFailed(id, request: request, worker: worker, reason: "broker stopped"))
        }
    }

    // MARK: Lifecycle

    /// Stops the broker thread (sending DISCONNECT to workers if configured), closes the socket, stops
    /// the ZAP handler and finishes ``events``. Safe to call more than once.
    public func shutdown() {
        stopping.withLock { $0 = true }
        doorbell.ring()
        thread.join()
        zap?.stop()
        continuation.finish()
    }

    deinit {
        shutdown()
    }
}

extension Broker: Service {
    /// Serves until the task is cancelled or a graceful shutdown is requested (ServiceLifecycle), then
    /// calls ``shutdown()``. The broker already serves from `init`; `run` only ties its lifetime to a
    /// `ServiceGroup`.
    public func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                try? await Task.sleep(for: .milliseconds(100))
            }
        } onGracefulShutdown: {}
        shutdown()
    }
}
