import Foundation
import Transport
import Wire
import Threading

/// Settings of a ``Broker``.
public struct BrokerConfiguration: Sendable {
    /// Where to bind, e.g. `tcp://*:5555`, or `tcp://127.0.0.1:*` for a free port.
    public var endpoint: String
    /// How often the broker sends HEARTBEAT to a worker it has sent nothing else to, and the unit of
    /// liveness. Workers must use the same interval (18/MDP requires agreed rates).
    public var heartbeatInterval: Duration = .seconds(1)
    /// A worker not heard from for `heartbeatInterval × heartbeatLiveness` is lost.
    public var heartbeatLiveness: Int = 5
    /// Largest inbound frame; a peer sending more is disconnected by libzmq (`ZMQ_MAXMSGSIZE`). A
    /// message may hold one such frame plus 1 MiB (``ZMQSocket/maximumMessageBytes``).
    public var maxMessageBytes: Int = MDP.defaultMaxFrameBytes
    /// Largest chunk the artifact service returns per request.
    public var artifactChunkBytes: Int = 1 << 20
    /// Largest PARTIAL body (progress is a few hundred bytes of JSON); larger ones are dropped
    /// without decoding, so progress floods cost the coordinator no JSON parsing of large bodies.
    public var maxPartialBytes: Int = 64 << 10
    /// PARTIALs each worker may send per second, with bursts of ``partialBurst``; the excess is dropped
    /// (and counted) before decoding, though it still counts as a sign of life. SpikeQuant workers send
    /// at most 4 per second (they coalesce progress), so only floods are cut.
    public var partialsPerSecond: Double = 10
    public var partialBurst: Double = 20
    /// FINALs per second (burst ``unknownFinalBurst``) a worker may send for dispatch ids this broker
    /// never gave out: legitimate after a coordinator restart (a worker re-sends what it kept), a
    /// flood otherwise, and each one reaches the study.
    public var unknownFinalsPerSecond: Double = 2
    public var unknownFinalBurst: Double = 20
    /// Most registered workers; further READYs get DISCONNECT (bounded memory when anyone who can
    /// reach a plain-TCP port registers ids in a loop).
    public var maxWorkers = 10_000
    /// Messages queued towards one peer (ZMQ_SNDHWM) and from one peer (ZMQ_RCVHWM). The send side
    /// bounds what a client that requests artifact chunks and never reads can make the broker hold
    /// (64 × the chunk size); replies beyond it are dropped and the client retries. The receive side
    /// bounds what one connection can make the coordinator buffer before TCP pushes back (an honest
    /// worker has at most a heartbeat, a PARTIAL and a FINAL in flight); libzmq still holds one
    /// multipart message whole until its last frame arrives.
    public var sendQueueMessages = 64
    public var receiveQueueMessages = 2
    /// CURVE server keys and the allowlist of worker keys; nil for plain TCP.
    public var curve: CurveServerSettings?
    /// The ZAP domain the socket authenticates in (with ``curve``).
    public var zapDomain = "spikeq"
    /// How many lost dispatches are remembered for late FINALs (oldest forgotten first).
    public var lostDispatchMemory = 10_000
    /// How many finished dispatches are remembered to drop repeated FINALs.
    public var finishedDispatchMemory = 100_000
    /// Also run ZMTP-level heartbeats (`ZMQ_HEARTBEAT_IVL`/`TIMEOUT`), so dead TCP peers are noticed
    /// by libzmq itself.
    public var transportHeartbeats = true
    /// On shutdown, send DISCONNECT to every worker so they reconnect at once to the next broker.
    public var disconnectWorkersOnShutdown = true

    public init(endpoint: String) {
        self.endpoint = endpoint
    }

    /// The silence after which a peer is considered gone.
    public var expiry: Duration { heartbeatInterval * heartbeatLiveness }

    /// The liveness (heartbeats missed) for which a worker silent for `timeout` seconds is lost: the
    /// timeout rounded up to whole intervals, at least 2 so one late heartbeat is not a loss.
    public static func liveness(timeout: Double, interval: Duration) -> Int {
        let seconds = interval.seconds
        guard seconds > 0, timeout.isFinite, timeout > 0 else { return 2 }
        return max(2, Int((timeout / seconds).rounded(.up)))
    }
}

/// CURVE settings of a server socket (Ironhouse: encryption plus an allowlist of client keys).
public struct CurveServerSettings: Sendable {
    /// The server's key pair; the secret key must be present.
    public var serverKeys: CurveKeyPair
    /// A directory of public certificates (`NAME.key`) of the workers allowed to connect.
    public var authorizedKeysDirectory: URL

    public init(serverKeys: CurveKeyPair, authorizedKeysDirectory: URL) {
        self.serverKeys = serverKeys
        self.authorizedKeysDirectory = authorizedKeysDirectory
    }
}

/// Whether a bind endpoint only accepts connections from this machine.
package enum EndpointScope {
    package static func isLocalOnly(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
        guard endpoint.hasPrefix("tcp://") else { return false }
        var host = String(endpoint.dropFirst("tcp://".count))
        if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host == "localhost" || host == "::1" || host.hasPrefix("127.") || host == "lo"
    }
}
