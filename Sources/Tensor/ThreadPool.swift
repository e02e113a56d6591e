import Foundation
import Synchronization

/// A fixed-size pool of threads that runs data-parallel loops.
///
/// ``run(_:)`` calls its body once for each part index `0..<threadCount`, part 0 on the calling
/// thread and the others on the pool's threads, and returns when all parts are done. Kernels split
/// their work into ``threadCount`` fixed ranges (``partition(_:parts:)``), so a reduction adds its
/// partial results in the same order on every run: results are deterministic for a given thread
/// count.
///
/// - Important: The pool runs one loop at a time. A call made while a loop is running (from a pool
///   thread, or from another thread) runs all its parts serially on the calling thread instead of
///   waiting, so nesting cannot deadlock and the result is unchanged.
public final class ThreadPool: @unchecked Sendable {
    // @unchecked: `task` is written only by the thread that holds `busy`, before it publishes a new
    // `generation` (a sequentially consistent store the workers acquire), and read by workers only
    // after they have seen that generation and before they decrement `pending`; `run` does not
    // return (or touch `task` again) before `pending` is 0. `stopping`, `workersAsleep` and
    // `callerAsleep` are atomics; the condition only serves to park threads. `task` points to a
    // closure that lives on the stack of `run`.

    /// Number of parts (threads including the caller).
    public let threadCount: Int

    /// How long a thread polls for the next loop (workers) or for the last part to finish (the
    /// caller) before it parks on the condition. Kernels of the tiny model follow each other
    /// within microseconds, and parking and waking a thread costs 5–20 µs each.
    private static let spinDuration: Duration = .microseconds(50)

    private let condition = NSCondition()
    private let busy = NSLock()
    private var task: ((Int) -> Void)?
    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let workersAsleep = Atomic<Int>(0)
    private let callerAsleep = Atomic<Bool>(false)
    private var threads: [Thread] = []

    /// Starts `threadCount - 1` threads.
    public init(threadCount: Int) {
        precondition(threadCount >= 1, "a thread pool needs at least one thread")
        self.threadCount = threadCount
        for index in 1..<max(threadCount, 1) {
            // Strong capture: a pool replaced by `Compute.setThreadCount` must outlive its threads,
            // which leave `workerLoop` only after `shutdown()`; then the pool is freed.
            let thread = Thread { [self] in self.workerLoop(index: index) }
            thread.name = "spikeq.compute.\(index)"
            thread.stackSize = 1 << 20
            threads.append(thread)
            thread.start()
        }
    }

    deinit { shutdown() }

    /// Stops the pool's threads; the pool then runs everything on the calling thread.
    public func shutdown() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        condition.lock()
        condition.broadcast()
        condition.unlock()
    }

    /// Calls `body(part)` for every `part` in `0..<threadCount`, in parallel, and waits for all.
    public func run(_ body: (Int) -> Void) {
        if threadCount == 1 || !busy.try() {
            for part in 0..<threadCount { body(part) }
            return
        }
        defer { busy.unlock() }
        if stopping.load(ordering: .sequentiallyConsistent) {
            for part in 0..<threadCount { body(part) }
            return
        }
        withoutActuallyEscaping(body) { body in
            task = body
            pending.store(threadCount - 1, ordering: .sequentiallyConsistent)
            generation.add(1, ordering: .sequentiallyConsistent)
            // A worker that found no new generation before parking has counted itself asleep
            // first (Dekker-style with the store above), so either it sees the new generation or
            // we see it asleep and wake it.
            if workersAsleep.load(ordering: .sequentiallyConsistent) > 0 {
                condition.lock()
                condition.broadcast()
                condition.unlock()
            }

            body(0)

            if !Self.poll({ self.pending.load(ordering: .acquiring) == 0 }) {
                condition.lock()
                callerAsleep.store(true, ordering: .sequentiallyConsistent)
                while pending.load(ordering: .sequentiallyConsistent) > 0 { condition.wait() }
                callerAsleep.store(false, ordering: .sequentiallyConsistent)
                condition.unlock()
            }
            task = nil
        }
    }

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            let isNew = { self.generation.load(ordering: .acquiring) != seen || self.stopping.load(ordering: .relaxed) }
            if !Self.poll(isNew) {
                condition.lock()
                workersAsleep.add(1, ordering: .sequentiallyConsistent)
                while generation.load(ordering: .sequentiallyConsistent) == seen && !stopping.load(ordering: .sequentiallyConsistent) {
                    condition.wait()
                }
                workersAsleep.subtract(1, ordering: .sequentiallyConsistent)
                condition.unlock()
            }
            if stopping.load(ordering: .sequentiallyConsistent) { return }
            seen = generation.load(ordering: .acquiring)
            task!(index)
            if pending.subtract(1, ordering: .sequentiallyConsistent).newValue == 0
                && callerAsleep.load(ordering: .sequentiallyConsistent) {
                condition.lock()
                condition.broadcast()
                condition.unlock()
            }
        }
    }

    /// Polls `done` for up to ``spinDuration``; whether it became true.
    @inline(__always)
    private static func poll(_ done: () -> Bool) -> Bool {
        if done() { return true }
        let clock = ContinuousClock()
        let deadline = clock.now + spinDuration
        while true {
            for _ in 0..<64 where done() { return true }
            if clock.now >= deadline { return done() }
        }
    }

    /// The `part`-th of `parts` contiguous, nearly equal ranges of `0..<count`.
    @inlinable
    public static func partition(_ count: Int, part: Int, parts: Int) -> Range<Int> {
        let base = count / parts
        let extra = count % parts
        let start = part * base + min(part, extra)
        return start..<(start + base + (part < extra ? 1 : 0))
    }
}
