import Foundation

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
    // @unchecked: `task`, `generation`, `pending` and `stopping` are only touched with `condition`
    // locked; `busy` is a try-lock that admits one loop at a time. `task` points to a closure that
    // lives on the stack of `run`, which does not return before every part has finished with it.

    /// Number of parts (threads including the caller).
    public let threadCount: Int

    private let condition = NSCondition()
    private let busy = NSLock()
    private var task: ((Int) -> Void)?
    private var generation = 0
    private var pending = 0
    private var stopping = false
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

    deinit {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    /// Stops the pool's threads; the pool then runs everything on the calling thread.
    public func shutdown() {
        condition.lock()
        stopping = true
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
        withoutActuallyEscaping(body) { body in
            condition.lock()
            if stopping {
                condition.unlock()
                for part in 0..<threadCount { body(part) }
                return
            }
            task = body
            pending = threadCount - 1
            generation &+= 1
            condition.broadcast()
            condition.unlock()

            body(0)

            condition.lock()
            while pending > 0 { condition.wait() }
            task = nil
            condition.unlock()
        }
    }

    private func workerLoop(index: Int) {
        // Generations start at 0 and `run` cannot start a second one before this thread has
        // finished the first, so starting from 0 never misses a loop.
        var seen = 0
        condition.lock()
        while true {
            while generation == seen && !stopping { condition.wait() }
            if stopping {
                condition.unlock()
                return
            }
            seen = generation
            let body = task!
            condition.unlock()
            body(index)
            condition.lock()
            pending -= 1
            if pending == 0 { condition.broadcast() }
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
