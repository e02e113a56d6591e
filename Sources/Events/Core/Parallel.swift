import Threading
import Foundation

/// Data-parallel loops over indices with results in index order, so the outcome never depends on the
/// number of threads or on scheduling.
enum Parallel {
    /// Calls `body(i)` for every `i` in `0..<count` on up to `threads` threads (0 = all cores) and
    /// returns the results in index order.
    static func map<T: Sendable>(_ count: Int, threads: Int, _ body: @Sendable (Int) -> T) -> [T] {
        guard count > 0 else { return [] }
        let workers = min(count, threads > 0 ? threads : ProcessInfo.processInfo.activeProcessorCount)
        if workers <= 1 { return (0..<count).map(body) }
        let slots = ResultSlots<T>(count: count)
        let next = ProgressCounter(total: count, report: { _, _ in })
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let i = next.claim()
                guard i < count else { return }
                slots.store(body(i), at: i)
            }
        }
        return slots.take()
    }
}

/// Write-once result storage shared by the workers of ``Parallel/map(_:threads:_:)``.
// @unchecked Sendable: every index is written by exactly one worker (indices come from a locked
// counter) and read only after `concurrentPerform` has returned, which orders all the writes before.
final class ResultSlots<T>: @unchecked Sendable {
    private var values: [T?]

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func store(_ value: T, at index: Int) {
        values.withUnsafeMutableBufferPointer { $0[index] = value }
    }

    func take() -> [T] { values.map { $0! } }
}

/// A locked counter: hands out work indices and reports progress.
final class ProgressCounter: Sendable {
    private let state = Locked((claimed: 0, done: 0))
    private let total: Int
    private let report: @Sendable (Int, Int) -> Void

    init(total: Int, report: @escaping @Sendable (Int, Int) -> Void) {
        self.total = total
        self.report = report
    }

    /// The next unclaimed index.
    func claim() -> Int {
        state.withLock { value in
            defer { value.claimed += 1 }
            return value.claimed
        }
    }

    /// Marks one unit done and reports `(done, total)` (serialised, so reports arrive in order).
    func advance() {
        state.withLock { value in
            value.done += 1
            report(value.done, total)
        }
    }
}
