import ContentHash
import Foundation
import Transport
import Wire
import Threading

/// A worker as the broker knows it: its ZeroMQ routing id.
///
/// SpikeQuant workers set a stable, printable routing id (`host/pid/nonce`), so the same process
/// keeps its id across reconnects; third-party workers may use libzmq's generated binary ids.
public struct WorkerID: Hashable, Sendable, CustomStringConvertible {
    public let routingID: Data

    public init(routingID: Data) {
        self.routingID = routingID
    }

    /// The routing id as text if it is printable ASCII, else as hex.
    public var description: String {
        if !routingID.isEmpty, routingID.allSatisfy({ (0x20...0x7E).contains($0) }) {
            return String(decoding: routingID, as: UTF8.self)
        }
        return "0x" + ContentHash.hex(routingID)
    }
}

/// Identifies one dispatch of a request to a worker. It travels as the REQUEST's client-address
/// frame (8 bytes, big-endian), the worker echoes it in PARTIAL and FINAL, so results are matched to
/// dispatches even after reconnects and broker restarts.
///
/// Ids are random 64-bit numbers: a peer cannot guess another worker's dispatch or a future one,
/// and ids from a restarted broker do not collide with ids a worker still holds from before.
public struct DispatchID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// The client-address frame.
    public var frame: Data {
        withUnsafeBytes(of: rawValue.bigEndian) { Data($0) }
    }

    /// Parses a client-address frame; nil unless it has exactly 8 bytes.
    public init?(frame: Data) {
        guard frame.count == 8 else { return nil }
        rawValue = frame.reduce(0) { $0 << 8 | UInt64($1) }
    }

    public static func < (a: DispatchID, b: DispatchID) -> Bool { a.rawValue < b.rawValue }

    public var description: String { String(format: "%016llx", rawValue) }
}

/// A request a worker holds.
public struct HeldRequest: Sendable, Hashable {
    public var dispatch: DispatchID
    /// The request as dispatched. Nil only when a worker re-attached work this broker instance never
    /// dispatched (it was dispatched before a broker restart).
    public var request: EvaluationRequest?
    /// When it was dispatched (or re-attached).
    public var since: ContinuousClock.Instant
    /// True when the worker re-attached it after reconnecting (a PARTIAL for a dispatch this session
    /// was not given); its FINAL is then reported as late.
    public var reattached: Bool = false
}

/// What the broker reports to its owner (the study), in the order it happened.
public enum BrokerEvent: Sendable {
    /// A worker sent READY and is idle, waiting for a request.
    case workerReady(WorkerID)
    /// A worker reported progress (PARTIAL) on a dispatch.
    case partial(EvaluationProgress, dispatch: DispatchID, worker: WorkerID)
    /// A worker finished a dispatch (FINAL). `late` is true when the dispatch was not held by that
    /// worker's current session as dispatched by this broker: it had been reported lost, the worker
    /// re-attached it after reconnecting, or an earlier broker instance dispatched it. Each dispatch
    /// produces at most one `final`; repeats are dropped. `artifact` is the packed model when the
    /// worker sent one (the FINAL's second body frame).
    case final(EvaluationOutcome, artifact: Data?, dispatch: DispatchID, worker: WorkerID, late: Bool)
    /// A worker stopped heartbeating for `interval × liveness` and was removed. `held` is the request it
    /// had, which a late FINAL may still complete.
    case workerLost(WorkerID, held: HeldRequest?)
    /// A worker left: it sent DISCONNECT, re-registered (READY again after reconnecting), broke the
    /// protocol, or the owner asked to disconnect it. `held` is the request it had.
    case workerDisconnected(WorkerID, held: HeldRequest?, reason: String)
    /// A ``Broker/dispatch(_:to:)`` could not be delivered (no such worker, worker busy, no idle
    /// worker, unroutable, or the worker's FINAL was undecodable). The worker, if any, stays registered.
    case dispatchFailed(DispatchID, request: EvaluationRequest, worker: WorkerID?, reason: String)
}

/// Counters and timings of a running broker. Cheap to read from any thread.
public struct BrokerStatistics: Sendable, Hashable {
    public var workers = 0
    public var idleWorkers = 0
    public var busyWorkers = 0
    public var messagesReceived = 0
    public var messagesSent = 0
    public var heartbeatsSent = 0
    /// Messages dropped because they were not valid 18/MDP or had undecodable bodies.
    public var malformedDropped = 0
    public var disconnectsSent = 0
    public var dispatched = 0
    public var partials = 0
    public var finals = 0
    public var lateFinals = 0
    public var duplicateFinals = 0
    /// PARTIALs and FINALs for a dispatch this broker gave to another worker: dropped.
    public var unboundDropped = 0
    /// Under CURVE: messages from a key other than the one that owns the routing id, dropped.
    public var impersonationDropped = 0
    /// PARTIALs over a worker's rate (``BrokerConfiguration/partialsPerSecond``), dropped.
    public var partialsThrottled = 0
    /// FINALs for dispatch ids this broker never gave out over a worker's rate, dropped.
    public var unknownFinalsThrottled = 0
    /// READYs refused because ``BrokerConfiguration/maxWorkers`` were registered.
    public var registrationsRefused = 0
    /// Client replies not delivered (the client's queue was full or it was gone).
    public var clientRepliesDropped = 0
    /// FINAL acknowledgements sent (first ones and answers to repeats).
    public var acknowledgementsSent = 0
    public var workersLost = 0
    public var artifactChunksServed = 0
    public var artifactBytesServed = 0
    /// CPU time the broker thread has used (`CLOCK_THREAD_CPUTIME_ID`).
    public var loopCPUSeconds = 0.0
    /// The most a heartbeat tick ran after it was due; large values mean the broker is falling behind.
    public var maxTickLag: Duration = .zero
    /// Heartbeat ticks run.
    public var ticks = 0
}

/// One registered worker, as reported by ``Broker/workers()``.
public struct WorkerStatus: Sendable, Hashable {
    public var id: WorkerID
    public var service: String
    public var held: HeldRequest?
    public var registeredAt: ContinuousClock.Instant
    public var lastHeard: ContinuousClock.Instant
}

/// A per-peer rate limit: `rate` tokens a second, at most `burst` saved up.
struct TokenBucket {
    var tokens: Double
    var countedAt: ContinuousClock.Instant

    init(burst: Double, now: ContinuousClock.Instant) {
        tokens = burst
        countedAt = now
    }

    /// Refills for the time passed and takes one token if there is one.
    mutating func take(now: ContinuousClock.Instant, rate: Double, burst: Double) -> Bool {
        tokens = min(burst, tokens + max(0, (now - countedAt).seconds) * rate)
        countedAt = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
