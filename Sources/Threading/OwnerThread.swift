import Foundation

/// A dedicated OS thread that runs one loop to completion, typically the only owner of some sockets.
///
/// Socket loops and long evaluations run here rather than on Swift's cooperative pool, which must
/// never be blocked.
public final class OwnerThread: Sendable {
    /// Signalled once when the body returns; every joiner takes the token and puts it back.
    private let finished = DispatchSemaphore(value: 0)

    /// Starts `body` on a new thread.
    ///
    /// - Parameters:
    ///   - name: The thread's name, shown by debuggers and `top -H`.
    ///   - stackSize: Bytes of stack.
    public init(name: String, stackSize: Int = 8 << 20, body: @escaping @Sendable () -> Void) {
        let finished = self.finished
        let threadName = name
        let thread = Thread {
            Self.nameCurrentThread(threadName)
            body()
            finished.signal()
        }
        thread.name = name
        thread.stackSize = stackSize
        thread.start()
    }

    /// Names the OS thread from inside it (Foundation then sets the kernel's name, of which Linux keeps
    /// 15 bytes), so `top -H` and profilers show it.
    private static func nameCurrentThread(_ name: String) {
        Thread.current.name = name
    }

    /// Waits until the thread's body has returned. Any number of callers may join.
    public func join() {
        finished.wait()
        finished.signal()
    }

    /// Waits up to `timeout` for the body to return; returns whether it did.
    public func join(timeout: Duration) -> Bool {
        let (seconds, attoseconds) = timeout.components
        let nanos = Double(seconds) * 1e9 + Double(attoseconds) / 1e9
        guard finished.wait(timeout: .now() + .nanoseconds(Int(nanos))) == .success else { return false }
        finished.signal()
        return true
    }
}
