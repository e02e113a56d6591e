import CZeroMQ
import Foundation

/// Typed setters for the socket options SpikeQuant uses. Each throws ``ZMQError`` naming the option.
extension ZMQSocket {
    func setIntegerOption(_ option: CInt, _ value: CInt, _ name: String) throws {
        var value = value
        try zmqCall("zmq_setsockopt(\(name))") {
            zmq_setsockopt(handle, option, &value, MemoryLayout<CInt>.size)
        }
    }

    func setBytesOption(_ option: CInt, _ value: Data, _ name: String) throws {
        try zmqCall("zmq_setsockopt(\(name))") {
            value.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        }
    }

    func integerOption(_ option: CInt) throws -> CInt {
        var value: CInt = 0
        var size = MemoryLayout<CInt>.size
        try zmqCall("zmq_getsockopt(\(option))") { zmq_getsockopt(handle, option, &value, &size) }
        return value
    }

    static func milliseconds(_ duration: Duration) -> CInt {
        let (seconds, attoseconds) = duration.components
        let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return CInt(clamping: ms)
    }

    /// How long unsent messages are kept after close (0 discards them; the default set at creation).
    public func setLinger(_ duration: Duration) throws {
        try setIntegerOption(ZMQ_LINGER, Self.milliseconds(duration), "ZMQ_LINGER")
    }

    /// The routing id this socket presents to a ROUTER peer: 1–255 bytes, not starting with a zero byte
    /// (those are reserved for ids libzmq generates). Set before connecting.
    public func setRoutingID(_ id: Data) throws {
        guard (1...255).contains(id.count), id.first != 0 else {
            throw ZMQError(
                code: .invalidArgument, operation: "zmq_setsockopt(ZMQ_ROUTING_ID)",
                message: "a routing id has 1 to 255 bytes and does not start with a zero byte (got \(id.count) bytes)")
        }
        try setBytesOption(ZMQ_ROUTING_ID, id, "ZMQ_ROUTING_ID")
    }

    /// The socket's routing id (empty if none was set on a socket that has not connected).
    public func routingID() throws -> Data {
        var buffer = [UInt8](repeating: 0, count: 256)
        var size = buffer.count
        try zmqCall("zmq_getsockopt(ZMQ_ROUTING_ID)") { zmq_getsockopt(handle, ZMQ_ROUTING_ID, &buffer, &size) }
        return Data(buffer[0..<size])
    }

    /// ROUTER only: fail with ``ZMQError/Code/hostUnreachable`` instead of silently dropping a message
    /// addressed to a peer that is not connected.
    public func setRouterMandatory(_ enabled: Bool) throws {
        try setIntegerOption(ZMQ_ROUTER_MANDATORY, enabled ? 1 : 0, "ZMQ_ROUTER_MANDATORY")
    }

    /// ROUTER only: when a new connection presents a routing id that is already in use, hand the id to
    /// the newcomer (a worker that reconnected) instead of rejecting it.
    public func setRouterHandover(_ enabled: Bool) throws {
        try setIntegerOption(ZMQ_ROUTER_HANDOVER, enabled ? 1 : 0, "ZMQ_ROUTER_HANDOVER")
    }

    /// ZMTP-level heartbeats (PING/PONG), which detect dead TCP peers under the application protocol.
    ///
    /// - Parameters:
    ///   - interval: How often to send a PING (`ZMQ_HEARTBEAT_IVL`).
    ///   - timeout: Close the connection when nothing arrives this long after a PING (`ZMQ_HEARTBEAT_TIMEOUT`).
    ///   - ttl: Tells the peer to close the connection when it hears nothing for this long
    ///     (`ZMQ_HEARTBEAT_TTL`, rounded to deciseconds, at most 6553.5 s).
    public func setTransportHeartbeat(interval: Duration, timeout: Duration, ttl: Duration) throws {
        try setIntegerOption(ZMQ_HEARTBEAT_IVL, Self.milliseconds(interval), "ZMQ_HEARTBEAT_IVL")
        try setIntegerOption(ZMQ_HEARTBEAT_TIMEOUT, Self.milliseconds(timeout), "ZMQ_HEARTBEAT_TIMEOUT")
        try setIntegerOption(ZMQ_HEARTBEAT_TTL, min(Self.milliseconds(ttl), 6_553_599), "ZMQ_HEARTBEAT_TTL")
    }

    /// libzmq's own TCP reconnect interval, doubled after each failure up to `maximum` (0 = no back-off).
    public func setReconnect(interval: Duration, maximum: Duration) throws {
        try setIntegerOption(ZMQ_RECONNECT_IVL, Self.milliseconds(interval), "ZMQ_RECONNECT_IVL")
        try setIntegerOption(ZMQ_RECONNECT_IVL_MAX, Self.milliseconds(maximum), "ZMQ_RECONNECT_IVL_MAX")
    }

    /// The largest inbound frame accepted; a peer sending a larger one is disconnected (`ZMQ_MAXMSGSIZE`,
    /// -1 = unlimited).
    public func setMaxMessageSize(_ bytes: Int) throws {
        var value = Int64(bytes)
        try zmqCall("zmq_setsockopt(ZMQ_MAXMSGSIZE)") {
            zmq_setsockopt(handle, ZMQ_MAXMSGSIZE, &value, MemoryLayout<Int64>.size)
        }
    }

    /// Queue limits in messages per peer (0 = unlimited).
    public func setHighWaterMarks(send: Int, receive: Int) throws {
        try setIntegerOption(ZMQ_SNDHWM, CInt(clamping: send), "ZMQ_SNDHWM")
        try setIntegerOption(ZMQ_RCVHWM, CInt(clamping: receive), "ZMQ_RCVHWM")
    }

    /// Time allowed for the ZMTP (and CURVE) handshake of a new connection (`ZMQ_HANDSHAKE_IVL`).
    public func setHandshakeInterval(_ duration: Duration) throws {
        try setIntegerOption(ZMQ_HANDSHAKE_IVL, Self.milliseconds(duration), "ZMQ_HANDSHAKE_IVL")
    }

    /// Queue messages only to completed connections (`ZMQ_IMMEDIATE`), so a DEALER whose broker is
    /// down does not pile up messages in a pipe that may never connect.
    public func setImmediate(_ enabled: Bool) throws {
        try setIntegerOption(ZMQ_IMMEDIATE, enabled ? 1 : 0, "ZMQ_IMMEDIATE")
    }

    /// Makes this socket a CURVE server with the given long-term secret key. Applies to later binds
    /// and connects.
    public func setCurveServer(secretKey: CurveKey) throws {
        try setIntegerOption(ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER")
        try setBytesOption(ZMQ_CURVE_SECRETKEY, secretKey.bytes, "ZMQ_CURVE_SECRETKEY")
    }

    /// Makes this socket a CURVE client of the server with public key `serverKey`, authenticating with
    /// `keyPair`. Applies to later binds and connects.
    public func setCurveClient(serverKey: CurveKey, keyPair: CurveKeyPair) throws {
        guard let secret = keyPair.secretKey else {
            throw ZMQError(
                code: .invalidKey, operation: "zmq_setsockopt(ZMQ_CURVE_SECRETKEY)",
                message: "a CURVE client needs its own secret key; the certificate has only a public key")
        }
        try setBytesOption(ZMQ_CURVE_SERVERKEY, serverKey.bytes, "ZMQ_CURVE_SERVERKEY")
        try setBytesOption(ZMQ_CURVE_PUBLICKEY, keyPair.publicKey.bytes, "ZMQ_CURVE_PUBLICKEY")
        try setBytesOption(ZMQ_CURVE_SECRETKEY, secret.bytes, "ZMQ_CURVE_SECRETKEY")
    }

    /// The ZAP domain; a non-empty domain makes libzmq ask the ZAP handler to authenticate each peer.
    public func setZAPDomain(_ domain: String) throws {
        try setBytesOption(ZMQ_ZAP_DOMAIN, Data(domain.utf8), "ZMQ_ZAP_DOMAIN")
    }

    /// `ZMQ_ZAP_ENFORCE_DOMAIN` (libzmq draft API): strict ZAP domain handling.
    /// - Throws: ``ZMQError`` where the library was built without the draft options.
    public func setZAPEnforceDomain(_ enabled: Bool) throws {
        try setIntegerOption(93 /* ZMQ_ZAP_ENFORCE_DOMAIN */, enabled ? 1 : 0, "ZMQ_ZAP_ENFORCE_DOMAIN")
    }

    /// The endpoint last bound or connected, with a wildcard port resolved (`tcp://127.0.0.1:41234`).
    public func lastEndpoint() throws -> String {
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        try zmqCall("zmq_getsockopt(ZMQ_LAST_ENDPOINT)") {
            zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size)
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
