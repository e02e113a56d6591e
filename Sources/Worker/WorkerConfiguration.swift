import Foundation
public import Transport
public import Wire

/// Settings of a ``WorkerService``.
public struct WorkerConfiguration: Sendable {
    /// The broker's endpoint, e.g. `tcp://head-node:5555`.
    public var endpoint: String
    /// The worker's name and routing id: stable for the life of the process, so the broker sees a
    /// reconnect as the same worker. Printable ASCII, 1–255 bytes.
    public var name: String
    /// How this worker frames its commands: 18/MDP (`.rfc`, what SpikeQuant's broker expects, though it
    /// accepts both), or `.delimited` to serve a majortomo broker. Either is accepted from the broker.
    public var framing: MDPFraming = .rfc
    /// Heartbeat interval; must match the broker's (18/MDP requires agreed rates).
    public var heartbeatInterval: Duration = .seconds(1)
    /// The broker is presumed gone after `heartbeatInterval × heartbeatLiveness` of silence.
    public var heartbeatLiveness = 5
    /// First reconnect delay; doubles after each failed attempt up to ``reconnectMax``.
    public var reconnectInitial: Duration = .seconds(1)
    public var reconnectMax: Duration = .seconds(32)
    /// Least time between two PARTIALs (progress reports in between are coalesced to the latest).
    public var progressInterval: Duration = .milliseconds(250)
    /// Compute threads for evaluations whose request does not set its own.
    public var threads = 1
    /// CURVE keys for a broker that requires them; nil for plain TCP.
    public var curve: CurveClientSettings?
    /// Where fetched checkpoints are cached (`<dir>/artifacts/sha256/<hash>`).
    public var cacheDirectory: URL
    /// Largest inbound frame (an artifact chunk must fit).
    public var maxMessageBytes = 64 << 20
    /// Largest packed model a FINAL carries (the coordinator's frame limit): a larger one would make
    /// the coordinator drop the connection and the FINAL would be re-sent forever, so it is left out
    /// (the result still counts; that candidate cannot be exported without re-training).
    public var maxPackedModelBytes = MDP.defaultMaxFrameBytes
    /// Artifact fetch: bytes asked per request, time to wait for each reply, tries per chunk.
    public var artifactChunkBytes = 1 << 20
    public var artifactTimeout: Duration = .seconds(10)
    public var artifactRetries = 5

    public init(endpoint: String, name: String = WorkerConfiguration.defaultName(), cacheDirectory: URL = WorkerConfiguration.defaultCacheDirectory()) {
        self.endpoint = endpoint
        self.name = name
        self.cacheDirectory = cacheDirectory
    }

    /// The silence after which the broker is presumed gone.
    public var expiry: Duration { heartbeatInterval * heartbeatLiveness }

    /// `host/pid/nonce`: unique per process, readable in the broker's logs.
    public static func defaultName() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        let printable = host.filter { $0.isASCII && !$0.isWhitespace && $0 != "/" }
        let nonce = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        return "\(printable.isEmpty ? "host" : printable)/\(ProcessInfo.processInfo.processIdentifier)/\(nonce)"
    }

    /// `$XDG_CACHE_HOME/spikeq`, else `~/.cache/spikeq`.
    public static func defaultCacheDirectory() -> URL {
        if let xdg = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("spikeq")
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/spikeq")
    }
}

/// CURVE settings of a client socket.
public struct CurveClientSettings: Sendable {
    /// The broker's public key.
    public var serverKey: CurveKey
    /// This worker's key pair (its public key must be in the broker's authorized-keys directory).
    public var clientKeys: CurveKeyPair

    public init(serverKey: CurveKey, clientKeys: CurveKeyPair) {
        self.serverKey = serverKey
        self.clientKeys = clientKeys
    }

    /// Applies the settings to a socket before it connects.
    func apply(to socket: ZMQSocket) throws {
        try socket.setCurveClient(serverKey: serverKey, keyPair: clientKeys)
    }
}
