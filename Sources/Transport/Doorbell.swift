import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Wakes a thread that is waiting in ``ZMQPoller/poll(timeout:)``: any thread rings, the owner polls
/// ``fileDescriptor`` and drains.
///
/// A non-blocking pipe: ringing never blocks (a full pipe already means "wake up"), and commands
/// themselves travel in a ``Locked`` queue beside it, so no socket is shared between threads.
public final class Doorbell: Sendable {
    private let readEnd: Int32
    private let writeEnd: Int32

    public init() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            throw ZMQError(code: .other, errno: errno, operation: "pipe", message: String(cString: strerror(errno)))
        }
        for fd in fds {
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readEnd = fds[0]
        writeEnd = fds[1]
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    /// The descriptor to register with ``ZMQPoller/add(fileDescriptor:)``.
    public var fileDescriptor: Int32 { readEnd }

    /// Wakes the owner. Safe from any thread; never blocks.
    public func ring() {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// Empties the pipe; call after the poll reported it readable.
    public func drain() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(readEnd, &buffer, buffer.count) > 0 {}
    }
}
