import Foundation

/// One long-lived OS thread that runs submitted closures in order, for blocking work (evaluations)
/// that must stay off both the socket threads and Swift's cooperative pool.
public final class SerialThread: Sendable {
    private let queue = Locked<(work: [@Sendable () -> Void], finishing: Bool)>(([], false))
    private let available = DispatchSemaphore(value: 0)
    private let thread: OwnerThread

    public init(name: String) {
        let (queue, available) = (self.queue, self.available)
        thread = OwnerThread(name: name) {
            while true {
                available.wait()
                let next = queue.withLock { state -> (@Sendable () -> Void)? in
                    state.work.isEmpty ? nil : state.work.removeFirst()
                }
                guard let next else { return }  // woken with nothing queued: finish() was called
                next()
            }
        }
    }

    /// Queues `work`; it runs after everything submitted before it. Ignored after ``finish()``.
    public func submit(_ work: @escaping @Sendable () -> Void) {
        let accepted = queue.withLock { state -> Bool in
            guard !state.finishing else { return false }
            state.work.append(work)
            return true
        }
        if accepted { available.signal() }
    }

    /// Lets the thread exit once the work already queued has run. Does not wait for it.
    public func finish() {
        let first = queue.withLock { state -> Bool in
            defer { state.finishing = true }
            return !state.finishing
        }
        if first { available.signal() }
    }

    /// Waits until the thread has exited (after ``finish()``).
    public func join() {
        thread.join()
    }
}
