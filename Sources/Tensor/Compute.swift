import COpenBLAS
import Foundation

/// The process-wide compute configuration: one thread pool and OpenBLAS's thread count.
///
/// Workers that share a machine each call ``setThreadCount(_:)`` once at start-up so that the
/// sum of their threads matches the cores, instead of every process using all of them.
public enum Compute {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var currentPool: ThreadPool?

    /// Sets the number of threads used by kernels and GEMMs in this process.
    ///
    /// GEMMs are split over the same pool (OpenBLAS is set to one thread per call, see ``BLAS``).
    ///
    /// The default is the number of active processors. Changing the count replaces the pool;
    /// call it before starting work, not while kernels run.
    public static func setThreadCount(_ count: Int) {
        precondition(count >= 1, "thread count must be at least 1")
        lock.lock()
        let old = currentPool
        currentPool = ThreadPool(threadCount: count)
        lock.unlock()
        old?.shutdown()
        openblas_set_num_threads(1)
    }

    /// The number of threads kernels use.
    public static var threadCount: Int { pool.threadCount }

    /// The shared pool (created on first use with one thread per active processor).
    public static var pool: ThreadPool {
        lock.lock()
        defer { lock.unlock() }
        if let currentPool { return currentPool }
        let count = ProcessInfo.processInfo.activeProcessorCount
        let pool = ThreadPool(threadCount: max(1, count))
        currentPool = pool
        openblas_set_num_threads(1)
        return pool
    }

    /// Runs `body` over `threadCount` fixed ranges of `0..<count` in parallel.
    ///
    /// Work below `grain` elements per part runs with fewer parts (down to one, on the calling
    /// thread), since waking threads costs microseconds. The split depends only on `count`,
    /// `grain` and the thread count, so reductions over the parts are deterministic.
    @inlinable
    public static func parallelFor(_ count: Int, grain: Int = 4096, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let pool = self.pool
        let parts = min(pool.threadCount, max(1, count / max(grain, 1)))
        if parts == 1 {
            body(0..<count)
            return
        }
        pool.run { part in
            guard part < parts else { return }
            body(ThreadPool.partition(count, part: part, parts: parts))
        }
    }

    /// The number of parts ``parallelParts(_:grain:_:)`` uses for `count` items.
    public static func partCount(_ count: Int, grain: Int) -> Int {
        min(threadCount, max(1, count / max(grain, 1)))
    }

    /// Like ``parallelFor(_:grain:_:)`` but also passes the part index, so that each part can
    /// write its own partial result (`0..<partCount(count, grain: grain)`).
    public static func parallelParts(_ count: Int, grain: Int = 4096, _ body: (_ part: Int, _ range: Range<Int>) -> Void) {
        guard count > 0 else { return }
        let pool = self.pool
        let parts = min(pool.threadCount, max(1, count / max(grain, 1)))
        if parts == 1 {
            body(0, 0..<count)
            return
        }
        pool.run { part in
            guard part < parts else { return }
            body(part, ThreadPool.partition(count, part: part, parts: parts))
        }
    }

    /// Frees idle recycled tensor buffers.
    public static func releaseIdleMemory() { BufferPool.shared.drain() }
}
