import CZeroMQ

/// Waits on several sockets and file descriptors at once (`zmq_poll`).
///
/// - Important: Like ``ZMQSocket``, a poller belongs to the thread that owns its sockets.
public final class ZMQPoller {
    private var items: [zmq_pollitem_t] = []
    private var sockets: [ZMQSocket?] = []

    public init() {}

    /// The number of registered sockets and descriptors.
    public var count: Int { items.count }

    /// Registers a socket for input; returns its index for ``isReadable(_:)``.
    @discardableResult
    public func add(_ socket: ZMQSocket) -> Int {
        items.append(zmq_pollitem_t(socket: socket.handle, fd: -1, events: Int16(ZMQ_POLLIN), revents: 0))
        sockets.append(socket)
        return items.count - 1
    }

    /// Registers a plain file descriptor (a pipe, an eventfd) for input; returns its index.
    @discardableResult
    public func add(fileDescriptor: Int32) -> Int {
        items.append(zmq_pollitem_t(socket: nil, fd: fileDescriptor, events: Int16(ZMQ_POLLIN), revents: 0))
        sockets.append(nil)
        return items.count - 1
    }

    /// Removes every registration.
    public func removeAll() {
        items.removeAll(keepingCapacity: true)
        sockets.removeAll(keepingCapacity: true)
    }

    /// Waits until at least one registered item is readable or `timeout` passes.
    ///
    /// A signal interrupting the wait returns 0 rather than retrying, so callers re-check their clocks.
    /// - Returns: The number of readable items.
    public func poll(timeout: Duration) throws -> Int {
        let ms = Int(ZMQSocket.milliseconds(max(timeout, .zero)))
        for index in items.indices { items[index].revents = 0 }
        let result = items.withUnsafeMutableBufferPointer { buffer in
            zmq_poll(buffer.baseAddress, CInt(buffer.count), ms)
        }
        if result == -1 {
            if zmq_errno() == EINTR { return 0 }
            throw ZMQError.last("zmq_poll")
        }
        return Int(result)
    }

    /// Whether item `index` was readable after the last ``poll(timeout:)``.
    public func isReadable(_ index: Int) -> Bool {
        items[index].revents & Int16(ZMQ_POLLIN) != 0
    }
}
