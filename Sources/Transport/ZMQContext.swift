import CZeroMQ

/// A libzmq context: the I/O threads and the in-process (`inproc://`) namespace shared by its sockets.
///
/// Every ``ZMQSocket`` keeps its context alive, so `zmq_ctx_term` runs only after the last socket is
/// closed and never blocks on a live socket. Sockets are created with linger 0, so terminating never
/// waits for unsent messages either.
// @unchecked: libzmq documents contexts as thread-safe, and `handle` is immutable.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    /// Creates a context.
    ///
    /// - Parameters:
    ///   - ioThreads: libzmq background I/O threads; 1 handles well over 10k messages per second.
    ///   - maxSockets: The most sockets the context may hold open at once (libzmq's default is 1023).
    public init(ioThreads: Int = 1, maxSockets: Int = 1023) throws {
        guard let handle = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        self.handle = handle
        try zmqCall("zmq_ctx_set(ZMQ_IO_THREADS)") { zmq_ctx_set(handle, ZMQ_IO_THREADS, CInt(ioThreads)) }
        try zmqCall("zmq_ctx_set(ZMQ_MAX_SOCKETS)") { zmq_ctx_set(handle, ZMQ_MAX_SOCKETS, CInt(maxSockets)) }
    }

    /// Makes every blocking or future call on this context's sockets fail with ``ZMQError/Code/terminated``,
    /// so threads that own sockets notice and close them. Safe to call from any thread, more than once.
    public func shutdown() {
        _ = zmq_ctx_shutdown(handle)
    }

    deinit {
        while zmq_ctx_term(handle) == -1 && zmq_errno() == EINTR {}
    }
}

/// Facts about the linked libzmq.
public enum ZMQLibrary {
    /// The libzmq version, e.g. `4.3.4`.
    public static var version: String {
        var major: CInt = 0
        var minor: CInt = 0
        var patch: CInt = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }

    /// Whether libzmq was built with CURVE security (libsodium or tweetnacl): `zmq_has("curve")`.
    public static var hasCurve: Bool { zmq_has("curve") == 1 }

    /// Whether libzmq supports a capability (`ipc`, `pgm`, `tipc`, `norm`, `curve`, `gssapi`, `draft`).
    public static func has(_ capability: String) -> Bool { zmq_has(capability) == 1 }
}
