import CZeroMQ
import Foundation

/// The ZeroMQ socket types SpikeQuant uses.
public enum ZMQSocketType: Sendable, CustomStringConvertible {
    case router, dealer, req, rep, pair, push, pull

    var raw: CInt {
        switch self {
        case .router: ZMQ_ROUTER
        case .dealer: ZMQ_DEALER
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        case .pair: ZMQ_PAIR
        case .push: ZMQ_PUSH
        case .pull: ZMQ_PULL
        }
    }

    public var description: String {
        switch self {
        case .router: "ROUTER"
        case .dealer: "DEALER"
        case .req: "REQ"
        case .rep: "REP"
        case .pair: "PAIR"
        case .push: "PUSH"
        case .pull: "PULL"
        }
    }
}

/// A ZeroMQ socket.
///
/// - Important: Not thread-safe. A socket belongs to the one thread (or actor) that created it; the
///   type is deliberately not `Sendable`, so the compiler refuses to hand it to another thread.
///   Create it on the thread that uses it.
///
/// The socket is closed when the last reference goes away. Linger is 0 from creation, so closing
/// discards unsent messages instead of blocking, and the owning ``ZMQContext`` stays alive until then.
public final class ZMQSocket {
    let handle: UnsafeMutableRawPointer
    /// Kept so the context is not terminated while this socket is open.
    public let context: ZMQContext
    public let type: ZMQSocketType
    /// Received multipart messages with more frames than this are discarded whole (see ``receive(dontWait:)``).
    public var maximumFrames: Int = 64
    /// Received multipart messages larger than this in all are discarded whole; frames past the
    /// limit are released without being copied, so one message never costs more than this here
    /// (`ZMQ_MAXMSGSIZE` bounds a frame, not a message).
    public var maximumMessageBytes: Int = .max
    /// The ZAP `User-Id` of the last message received (the authorized key's name under CURVE), or nil.
    public private(set) var lastUserID: String?

    /// Creates a socket with linger 0.
    public init(context: ZMQContext, type: ZMQSocketType) throws {
        guard let handle = zmq_socket(context.handle, type.raw) else {
            throw ZMQError.last("zmq_socket(\(type))")
        }
        self.handle = handle
        self.context = context
        self.type = type
        var zero: CInt = 0
        _ = zmq_setsockopt(handle, ZMQ_LINGER, &zero, MemoryLayout<CInt>.size)
    }

    deinit {
        zmq_close(handle)
    }

    // MARK: Endpoints

    /// Binds to an endpoint (`tcp://127.0.0.1:*` picks a free port; read it back with ``lastEndpoint()``).
    public func bind(_ endpoint: String) throws {
        try zmqCall("zmq_bind(\(endpoint))") { zmq_bind(handle, endpoint) }
    }

    /// Connects to an endpoint. libzmq connects in the background and reconnects by itself.
    public func connect(_ endpoint: String) throws {
        try zmqCall("zmq_connect(\(endpoint))") { zmq_connect(handle, endpoint) }
    }

    public func unbind(_ endpoint: String) throws {
        try zmqCall("zmq_unbind(\(endpoint))") { zmq_unbind(handle, endpoint) }
    }

    public func disconnect(_ endpoint: String) throws {
        try zmqCall("zmq_disconnect(\(endpoint))") { zmq_disconnect(handle, endpoint) }
    }

    // MARK: Sending

    /// Sends a multipart message. ZeroMQ delivers all frames or none.
    ///
    /// - Parameters:
    ///   - frames: At least one frame.
    ///   - dontWait: If true, fails with ``ZMQError/Code/wouldBlock`` instead of waiting when the
    ///     high-water mark is reached. ROUTER sockets never block; with `ROUTER_MANDATORY` they fail
    ///     with ``ZMQError/Code/hostUnreachable`` for an unknown peer.
    public func send(_ frames: [Data], dontWait: Bool = false) throws {
        precondition(!frames.isEmpty, "a ZeroMQ message has at least one frame")
        let base = dontWait ? ZMQ_DONTWAIT : 0
        for (index, frame) in frames.enumerated() {
            let flags = index == frames.count - 1 ? base : base | ZMQ_SNDMORE
            try zmqCall("zmq_send(frame \(index))") {
                frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
            }
        }
    }

    /// Sends without waiting; returns false instead of throwing when the message would block.
    @discardableResult
    public func trySend(_ frames: [Data]) throws -> Bool {
        do {
            try send(frames, dontWait: true)
            return true
        } catch let error as ZMQError where error.code == .wouldBlock {
            return false
        }
    }

    // MARK: Receiving

    /// Receives one multipart message.
    ///
    /// - Parameter dontWait: If true, returns nil at once when no message is waiting. If false the
    ///   call blocks; use it only after a poll said the socket is readable.
    /// - Returns: The frames, or nil if `dontWait` and nothing was waiting.
    /// - Throws: ``ZMQError`` with ``ZMQError/Code/tooManyFrames`` when the message had more than
    ///   ``maximumFrames`` frames (the whole message is consumed and discarded), or libzmq's error.
    public func receive(dontWait: Bool = true) throws -> [Data]? {
        lastUserID = nil
        var frames: [Data] = []
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        defer { zmq_msg_close(&message) }
        var more = true
        var dropped = 0
        var bytes = 0
        var oversized = false
        while more {
            // Later frames of a multipart message are already queued; only the first may block.
            let flags = frames.isEmpty && dropped == 0 && dontWait ? ZMQ_DONTWAIT : 0
            let received = zmq_msg_recv(&message, handle, flags)
            if received == -1 {
                let code = zmq_errno()
                if code == EINTR { continue }
                if code == EAGAIN && frames.isEmpty && dropped == 0 { return nil }
                throw ZMQError.last("zmq_msg_recv")
            }
            more = zmq_msg_more(&message) == 1
            // A ROUTER's routing-id frame carries no metadata; the frames from the wire do.
            if lastUserID == nil, let userID = zmq_msg_gets(&message, "User-Id") {
                lastUserID = String(cString: userID)
            }
            let size = zmq_msg_size(&message)
            bytes += size
            if bytes > maximumMessageBytes { oversized = true }
            if frames.count < maximumFrames && !oversized {
                frames.append(size == 0 ? Data() : Data(bytes: zmq_msg_data(&message), count: size))
            } else {
                dropped += 1
            }
        }
        if oversized {
            throw ZMQError(
                code: .tooLarge, operation: "zmq_msg_recv",
                message: "message of \(bytes) bytes in \(frames.count + dropped) frames, more than the \(maximumMessageBytes) allowed")
        }
        if dropped > 0 {
            throw ZMQError(
                code: .tooManyFrames, operation: "zmq_msg_recv",
                message: "message had \(frames.count + dropped) frames, more than the \(maximumFrames) allowed")
        }
        return frames
    }

    /// Waits up to `timeout` for a message.
    ///
    /// - Returns: The frames, or nil if none arrived in time.
    public func receive(timeout: Duration) throws -> [Data]? {
        if let frames = try receive(dontWait: true) { return frames }
        let poller = ZMQPoller()
        poller.add(self)
        guard try poller.poll(timeout: timeout) > 0 else { return nil }
        return try receive(dontWait: true)
    }

    /// Whether a message can be received now without blocking (`ZMQ_EVENTS` has `ZMQ_POLLIN`).
    public var hasPendingInput: Bool {
        (try? integerOption(ZMQ_EVENTS)).map { $0 & CInt(ZMQ_POLLIN) != 0 } ?? false
    }
}
