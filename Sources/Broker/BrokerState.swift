import Foundation
import Logging
import Transport
import Wire
import Threading

/// The broker's state machine without a socket (the swift-nio "embedded" idea): the registry of
/// workers, the dispatch ledger, heartbeats and the binding of results to dispatches. It takes
/// decoded input and the time, sends through ``transmit`` and reports through ``emit``; ``BrokerLoop``
/// drives it from the ROUTER socket, and tests drive it directly with frames and a made-up clock.
///
/// Not thread-safe: one owner (the broker thread, or a test) calls it.
package final class BrokerState {
    struct Entry {
        var id: WorkerID
        var service: String
        var registeredAt: ContinuousClock.Instant
        var lastHeard: ContinuousClock.Instant
        var lastSent: ContinuousClock.Instant
        var idleSince: ContinuousClock.Instant
        var held: HeldRequest?
        /// How the worker frames its commands (from its READY); replies use the same.
        var framing: MDPFraming
        /// Rate limits of its PARTIALs and of its FINALs for ids this broker never gave out.
        var partialBucket: TokenBucket
        var unknownFinalBucket: TokenBucket
    }

    /// Sends one multipart message (routing id first) without blocking; throws ``ZMQError`` when
    /// the peer is unreachable or its queue is full.
    package typealias Transmit = ([Data]) throws -> Void

    private let configuration: BrokerConfiguration
    private let transmit: Transmit
    private let emit: (BrokerEvent) -> Void
    private var artifactService: ArtifactService
    private let logger: Logger
    private let limits: MDPLimits

    private var workers: [WorkerID: Entry] = [:]
    /// Under CURVE: which authorized key (ZAP User-Id) owns each routing id.
    private var owners: [WorkerID: String] = [:]
    private var ledger: DispatchLedger
    private var throttle = LogThrottle()
    /// Counters; the driver publishes them.
    package private(set) var stats = BrokerStatistics()
    /// The time of the input being handled (set by every entry point).
    private var now: ContinuousClock.Instant

    package init(
        configuration: BrokerConfiguration, artifacts: ArtifactCatalog, logger: Logger, now: ContinuousClock.Instant,
        transmit: @escaping Transmit, emit: @escaping (BrokerEvent) -> Void
    ) {
        self.configuration = configuration
        self.transmit = transmit
        self.emit = emit
        self.artifactService = ArtifactService(catalog: artifacts, chunkBytes: configuration.artifactChunkBytes, logger: logger)
        self.logger = logger
        self.now = now
        self.ledger = DispatchLedger(
            lostCapacity: configuration.lostDispatchMemory, finishedCapacity: configuration.finishedDispatchMemory)
        self.limits = MDPLimits(maxFrames: 32, maxFrameBytes: configuration.maxMessageBytes)
    }

    deinit {
        artifactService.close()
    }

    // MARK: Entry points

    /// Handles one received message (routing id first); `userID` is the ZAP User-Id under CURVE.
    package func receive(_ frames: [Data], userID: String?, at now: ContinuousClock.Instant) {
        self.now = now
        stats.messagesReceived += 1
        handle(frames, userID: userID)
    }

    /// Counts a message the socket could not read (too large, too many frames).
    package func receiveFailed(_ error: any Error, at now: ContinuousClock.Instant) {
        self.now = now
        stats.messagesReceived += 1
        stats.malformedDropped += 1
        warn("Dropped unreadable message", ["error": "\(error)"])
    }

    /// Runs one command from the owner.
    package func run(_ command: BrokerCommand, at now: ContinuousClock.Instant) {
        self.now = now
        switch command {
        case .dispatch(let id, let request, let worker): dispatch(id, request, to: worker)
        case .disconnect(let worker): disconnect(worker, reason: "requested by the coordinator")
        case .acknowledge(let dispatch, let worker):
            ledger.markAcknowledged(dispatch)
            if acknowledge(dispatch, to: worker) { stats.acknowledgementsSent += 1 }
        case .snapshot(let reply): reply(workerStatuses)
        }
    }

    /// Heartbeats: removes workers silent for longer than the expiry (emitting ``BrokerEvent/workerLost(_:held:)``)
    /// and sends HEARTBEAT to those the broker has not written to for ¾ of an interval.
    package func tick(at now: ContinuousClock.Instant) {
        self.now = now
        let expiry = configuration.expiry
        let heartbeatAfter = configuration.heartbeatInterval * 3 / 4
        for (id, entry) in workers {
            if now - entry.lastHeard > expiry {
                workers[id] = nil
                stats.workersLost += 1
                if let held = entry.held { ledger.markLost(held.dispatch, owner: id, request: held.request) }
                logger.warning(
                    "Worker expired",
                    metadata: [
                        "worker.id": "\(id)", "worker.silent_ms": "\((now - entry.lastHeard).milliseconds)",
                        "dispatch.id": "\(entry.held.map { "\($0.dispatch)" } ?? "-")",
                    ])
                emit(.workerLost(id, held: entry.held))
            } else if now - entry.lastSent >= heartbeatAfter {
                if send(.heartbeat, to: id) { stats.heartbeatsSent += 1 }
            }
        }
    }

    /// Tells every registered worker to disconnect (on shutdown, so they reconnect at once elsewhere).
    package func disconnectAll(at now: ContinuousClock.Instant) {
        self.now = now
        for id in workers.keys { send(.disconnect, to: id) }
    }

    /// The counters with the registry's current sizes filled in.
    package func statistics(loopCPUSeconds: Double) -> BrokerStatistics {
        var snapshot = stats
        snapshot.workers = workers.count
        snapshot.busyWorkers = workers.values.reduce(0) { $0 + ($1.held == nil ? 0 : 1) }
        snapshot.idleWorkers = snapshot.workers - snapshot.busyWorkers
        snapshot.loopCPUSeconds = loopCPUSeconds
        return snapshot
    }

    package var workerStatuses: [WorkerStatus] {
        workers.values.map {
            WorkerStatus(id: $0.id, service: $0.service, held: $0.held, registeredAt: $0.registeredAt, lastHeard: $0.lastHeard)
        }
    }

    // MARK: Sending

    /// Sends to a peer; returns whether libzmq accepted it. Unroutable peers are logged, not fatal.
    @discardableResult
    private func send(_ message: MDPWorkerMessage, to id: WorkerID, framing: MDPFraming? = nil) -> Bool {
        do {
            let framing = framing ?? workers[id]?.framing ?? .rfc
            try transmit([id.routingID] + message.frames(in: framing))
            stats.messagesSent += 1
            if message == .disconnect { stats.disconnectsSent += 1 }
            workers[id]?.lastSent = now
            return true
        } catch let error as ZMQError where error.code == .hostUnreachable || error.code == .wouldBlock {
            logger.debug("Worker unreachable", metadata: ["worker.id": "\(id)", "error": "\(error)"])
            return false
        } catch {
            logger.error("Send to worker failed", metadata: ["worker.id": "\(id)", "error": "\(error)"])
            return false
        }
    }

    /// Sends SpikeQuant's ACK extension, except to delimited (majortomo) workers: that library treats
    /// an unknown command as a protocol error, and its workers do not re-send FINALs anyway.
    private func acknowledge(_ dispatch: DispatchID, to id: WorkerID) -> Bool {
        guard workers[id]?.framing != .delimited else { return false }
        return send(.acknowledge(client: dispatch.frame), to: id)
    }

    private func sendToClient(_ message: MDPClientMessage, to client: Data, framing: MDPFraming) {
        do {
            try transmit([client] + message.frames(in: framing))
            stats.messagesSent += 1
        } catch {
            stats.clientRepliesDropped += 1
            logger.debug("Reply to client not delivered", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Commands from the owner

    private func dispatch(_ dispatchID: DispatchID, _ request: EvaluationRequest, to target: WorkerID?) {
        func fail(_ worker: WorkerID?, _ reason: String) {
            logger.warning(
                "Dispatch failed",
                metadata: [
                    "dispatch.id": "\(dispatchID)", "candidate.id": "\(request.candidateId)",
                    "worker.id": "\(worker.map { "\($0)" } ?? "-")", "reason": "\(reason)",
                ])
            emit(.dispatchFailed(dispatchID, request: request, worker: worker, reason: reason))
        }
        let chosen: WorkerID
        if let target {
            guard let entry = workers[target] else { return fail(target, "worker is not registered") }
            guard entry.held == nil else { return fail(target, "worker is busy with dispatch \(entry.held!.dispatch)") }
            chosen = target
        } else {
            // Least recently used idle worker.
            guard let entry = workers.values.filter({ $0.held == nil }).min(by: { $0.idleSince < $1.idleSince })
            else { return fail(nil, "no idle worker") }
            chosen = entry.id
        }
        let body: Data
        do {
            body = try BodyCodec.encode(request)
        } catch {
            return fail(chosen, "request cannot be encoded: \(error)")
        }
        guard send(.request(client: dispatchID.frame, body: [body]), to: chosen) else {
            return fail(chosen, "worker is unreachable")
        }
        workers[chosen]?.held = HeldRequest(dispatch: dispatchID, request: request, since: now)
        stats.dispatched += 1
        logger.debug(
            "Dispatched", metadata: ["dispatch.id": "\(dispatchID)", "candidate.id": "\(request.candidateId)", "worker.id": "\(chosen)"])
    }

    private func disconnect(_ id: WorkerID, reason: String) {
        guard let entry = workers[id] else { return }
        send(.disconnect, to: id)
        unregister(entry, reason: reason)
    }

    private func unregister(_ entry: Entry, reason: String) {
        workers[entry.id] = nil
        if let held = entry.held { ledger.markLost(held.dispatch, owner: entry.id, request: held.request) }
        logger.info("Worker disconnected", metadata: ["worker.id": "\(entry.id)", "reason": "\(reason)"])
        emit(.workerDisconnected(entry.id, held: entry.held, reason: reason))
    }

    // MARK: Incoming messages

    private func warn(_ message: Logger.Message, _ metadata: Logger.Metadata) {
        if throttle.allow(logger, now: now) { logger.warning(message, metadata: metadata) }
    }

    private func handle(_ frames: [Data], userID: String?) {
        guard frames.count >= 2 else {
            stats.malformedDropped += 1
            warn("Dropped message without content", ["zmq.frames": "\(frames.count)"])
            return
        }
        let sender = WorkerID(routingID: frames[0])
        guard claim(sender, by: userID) else { return }
        let (framing, payload) = MDPFraming.detect(Array(frames.dropFirst()))
        switch MDP.subProtocol(of: payload) {
        case .worker:
            do {
                handleWorker(try MDPWorkerMessage(frames: payload, limits: limits), from: sender, framing: framing)
            } catch {
                stats.malformedDropped += 1
                warn("Dropped malformed worker message", ["worker.id": "\(sender)", "error": "\(error)"])
            }
        case .client:
            do {
                handleClient(try MDPClientMessage(frames: payload, limits: limits, framing: framing), from: frames[0], framing: framing)
            } catch {
                stats.malformedDropped += 1
                warn("Dropped malformed client message", ["client.id": "\(sender)", "error": "\(error)"])
            }
        case nil:
            stats.malformedDropped += 1
            let reason: String
            do {
                _ = try MDPWorkerMessage(frames: payload, limits: limits)
                reason = "unrecognised header"
            } catch {
                reason = "\(error)"
            }
            warn("Dropped non-MDP message", ["peer.id": "\(sender)", "error": "\(reason)"])
        }
    }

    /// Under CURVE, a routing id belongs to the key (ZAP User-Id) that first used it, for this broker's
    /// life: another authorized key cannot take over a worker's identity (ROUTER_HANDOVER would hand it
    /// the connection) to report on, or refresh, that worker's dispatches.
    private func claim(_ sender: WorkerID, by userID: String?) -> Bool {
        guard let userID else { return true }
        if let owner = owners[sender] {
            guard owner == userID else {
                stats.impersonationDropped += 1
                warn("Dropped message: routing id belongs to another key", [
                    "peer.id": "\(sender)", "zap.user": "\(PeerText.escaped(userID))", "zap.owner": "\(PeerText.escaped(owner))",
                ])
                return false
            }
            return true
        }
        if owners.count >= Self.maxOwners {
            // Forget owners of ids that are not registered now (bounded memory under id churn).
            owners = owners.filter { workers[$0.key] != nil }
        }
        owners[sender] = userID
        return true
    }

    /// Most routing-id owners remembered (see ``claim(_:by:)``).
    static let maxOwners = 65_536

    private func handleWorker(_ message: MDPWorkerMessage, from id: WorkerID, framing: MDPFraming) {
        guard var entry = workers[id] else {
            switch message {
            case .ready(let service): register(id, service: service, framing: framing, now: now)
            case .disconnect: break
            default:
                // 18/MDP: a valid but unexpected command (nothing before READY) gets DISCONNECT.
                logger.info(
                    "Unregistered worker told to reconnect", metadata: ["worker.id": "\(id)", "mdp.command": "\(message.command)"])
                send(.disconnect, to: id, framing: framing)
            }
            return
        }
        entry.lastHeard = now
        workers[id] = entry
        switch message {
        case .heartbeat:
            break
        case .ready(let service):
            // The same routing id on a new socket: the worker reconnected (ROUTER_HANDOVER gave it the
            // id). Its old session is over; any request it held is lost unless it re-attaches.
            unregister(entry, reason: "re-registered after reconnecting")
            register(id, service: service, framing: framing, now: now)
        case .disconnect:
            unregister(entry, reason: "worker sent DISCONNECT")
        case .request:
            protocolViolation(entry, "workers do not send REQUEST")
        case .acknowledge:
            protocolViolation(entry, "workers do not send ACK")
        case .partial(let client, let body):
            handlePartial(entry, client: client, body: body, now: now)
        case .final(let client, let body):
            handleFinal(entry, client: client, body: body, now: now)
        }
    }

    private func register(_ id: WorkerID, service: String, framing: MDPFraming, now: ContinuousClock.Instant) {
        guard service == MDP.evaluateService else {
            logger.warning("Worker offered an unknown service", metadata: ["worker.id": "\(id)", "mdp.service": "\(service)"])
            send(.disconnect, to: id, framing: framing)
            return
        }
        guard workers.count < configuration.maxWorkers else {
            stats.registrationsRefused += 1
            warn("Refused a worker: the registry is full", ["worker.id": "\(id)", "workers": "\(workers.count)"])
            send(.disconnect, to: id, framing: framing)
            return
        }
        workers[id] = Entry(
            id: id, service: service, registeredAt: now, lastHeard: now, lastSent: now, idleSince: now, held: nil,
            framing: framing, partialBucket: TokenBucket(burst: configuration.partialBurst, now: now),
            unknownFinalBucket: TokenBucket(burst: configuration.unknownFinalBurst, now: now))
        logger.info("Worker ready", metadata: ["worker.id": "\(id)", "mdp.framing": "\(framing)"])
        emit(.workerReady(id))
    }

    private func protocolViolation(_ entry: Entry, _ reason: String) {
        logger.warning("Worker broke the protocol", metadata: ["worker.id": "\(entry.id)", "reason": "\(reason)"])
        send(.disconnect, to: entry.id)
        unregister(entry, reason: "protocol violation: \(reason)")
    }

    private func handlePartial(_ entry: Entry, client: Data, body: [Data], now: ContinuousClock.Instant) {
        guard let dispatchID = DispatchID(frame: client) else {
            return protocolViolation(entry, "PARTIAL with a client address that is not one of ours")
        }
        if entry.held?.dispatch != dispatchID {
            guard entry.held == nil, !ledger.isFinished(dispatchID) else {
                return protocolViolation(entry, "PARTIAL for dispatch \(dispatchID), which it does not hold")
            }
            if let owner = holder(of: dispatchID), owner != entry.id {
                stats.unboundDropped += 1
                warn("Dropped PARTIAL for another worker's dispatch", ["worker.id": "\(entry.id)", "dispatch.id": "\(dispatchID)"])
                return
            }
            // A worker that reconnected mid-evaluation re-attaches its running request (its own, or
            // one an earlier broker instance dispatched).
            let request = ledger.reclaim(dispatchID, by: entry.id)
            workers[entry.id]?.held = HeldRequest(dispatch: dispatchID, request: request, since: now, reattached: true)
            logger.info("Worker re-attached a running request", metadata: ["worker.id": "\(entry.id)", "dispatch.id": "\(dispatchID)"])
        }
        guard workers[entry.id]?.partialBucket.take(now: now, rate: configuration.partialsPerSecond, burst: configuration.partialBurst) == true else {
            stats.partialsThrottled += 1
            warn("Dropped PARTIAL over the worker's rate", ["worker.id": "\(entry.id)", "dispatch.id": "\(dispatchID)"])
            return
        }
        let bytes = body.reduce(0) { $0 + $1.count }
        guard bytes <= configuration.maxPartialBytes else {
            stats.malformedDropped += 1
            warn("Dropped oversized PARTIAL", ["worker.id": "\(entry.id)", "bytes": "\(bytes)"])
            return
        }
        do {
            let progress = try BodyCodec.decode(EvaluationProgress.self, fromBody: body)
            stats.partials += 1
            emit(.partial(progress, dispatch: dispatchID, worker: entry.id))
        } catch {
            stats.malformedDropped += 1
            warn("Dropped undecodable PARTIAL", ["worker.id": "\(entry.id)", "error": "\(error)"])
        }
    }

    /// The worker this broker gave `dispatch` to, while it holds it or since it was lost; nil for
    /// ids this broker instance never gave out (dispatched before a restart, or made up).
    private func holder(of dispatch: DispatchID) -> WorkerID? {
        workers.values.first { $0.held?.dispatch == dispatch }?.id ?? ledger.owner(of: dispatch)
    }

    private func handleFinal(_ entry: Entry, client: Data, body: [Data], now: ContinuousClock.Instant) {
        guard let dispatchID = DispatchID(frame: client) else {
            return protocolViolation(entry, "FINAL with a client address that is not one of ours")
        }
        let heldHere = entry.held?.dispatch == dispatchID
        let owner = heldHere ? entry.id : holder(of: dispatchID)
        if let owner, owner != entry.id {
            // Only the worker a dispatch was given to may finish it.
            stats.unboundDropped += 1
            warn("Dropped FINAL for another worker's dispatch", ["worker.id": "\(entry.id)", "dispatch.id": "\(dispatchID)"])
            return
        }
        let late = !heldHere || entry.held?.reattached == true
        if heldHere {
            workers[entry.id]?.held = nil
            workers[entry.id]?.idleSince = now
        }
        if ledger.isFinished(dispatchID) {
            // Already reported (a resent FINAL, or another session finished it first). Once the owner
            // committed it, the repeat is answered so the worker stops re-sending.
            stats.duplicateFinals += 1
            logger.debug("Dropped repeated FINAL", metadata: ["worker.id": "\(entry.id)", "dispatch.id": "\(dispatchID)"])
            if ledger.isAcknowledged(dispatchID), acknowledge(dispatchID, to: entry.id) {
                stats.acknowledgementsSent += 1
            }
            return
        }
        // This worker's own dispatch (held now, or lost by it): an undecodable FINAL ends it. For an id
        // this broker never gave out, nothing is recorded, so guessed ids cannot poison the ledger.
        let ownDispatch = heldHere || owner == entry.id
        if !ownDispatch,
            workers[entry.id]?.unknownFinalBucket.take(now: now, rate: configuration.unknownFinalsPerSecond, burst: configuration.unknownFinalBurst) != true
        {
            stats.unknownFinalsThrottled += 1
            warn("Dropped FINAL for an unknown dispatch over the worker's rate", ["worker.id": "\(entry.id)", "dispatch.id": "\(dispatchID)"])
            return
        }
        let outcome: EvaluationOutcome
        do {
            // Body: the outcome's JSON, optionally followed by the packed model.
            guard body.count == 1 || body.count == 2 else {
                throw BodyCodingError(type: "EvaluationOutcome", detail: "expected 1 or 2 body frames, got \(body.count)")
            }
            outcome = try BodyCodec.decode(EvaluationOutcome.self, from: body[0])
        } catch {
            stats.malformedDropped += 1
            if ownDispatch { ledger.markFinished(dispatchID) }
            warn("Undecodable FINAL", ["worker.id": "\(entry.id)", "dispatch.id": "\(dispatchID)", "error": "\(error)"])
            if heldHere, let request = entry.held?.request {
                emit(.dispatchFailed(dispatchID, request: request, worker: entry.id, reason: "undecodable FINAL: \(error)"))
            }
            return
        }
        ledger.markFinished(dispatchID)
        stats.finals += 1
        if late { stats.lateFinals += 1 }
        logger.debug(
            "Final received",
            metadata: [
                "worker.id": "\(entry.id)", "dispatch.id": "\(dispatchID)", "candidate.id": "\(outcome.candidateId)",
                "late": "\(late)",
            ])
        emit(.final(outcome, artifact: body.count == 2 ? body[1] : nil, dispatch: dispatchID, worker: entry.id, late: late))
    }

    // MARK: Clients (the artifact service)

    private func handleClient(_ message: MDPClientMessage, from client: Data, framing: MDPFraming) {
        guard case .request(let service, let body) = message else {
            stats.malformedDropped += 1
            warn("Dropped client message that is not a REQUEST", ["mdp.command": "\(message.command)"])
            return
        }
        guard service == MDP.artifactService else {
            let error = ServiceError(kind: .unknownService, message: "this broker serves '\(MDP.artifactService)' to clients, not '\(service)'")
            if let frame = try? BodyCodec.encode(ServiceErrorReply(error: error)) {
                sendToClient(.final(service: service, body: [frame]), to: client, framing: framing)
            }
            return
        }
        let (reply, data) = artifactService.serve(body, counting: &stats)
        guard let header = try? BodyCodec.encode(reply) else { return }
        sendToClient(.final(service: service, body: data.map { [header, $0] } ?? [header]), to: client, framing: framing)
    }

}
