import Foundation

/// A value guarded by a lock, for state shared between a socket-owning thread and its callers.
public final class Locked<Value> {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with exclusive access to the value.
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    /// A copy of the current value.
    public var current: Value { withLock { $0 } }
}

// @unchecked: every access to `value` goes through `lock`, and the value itself is Sendable.
extension Locked: @unchecked Sendable where Value: Sendable {}
