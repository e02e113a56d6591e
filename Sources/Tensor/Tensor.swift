// Tensor
//
// Contiguous Float32 tensors, GEMM through OpenBLAS, and multi-threaded element-wise and reduction kernels
// on a fixed-size thread pool.

/// A dense, row-major Float32 tensor with copy-on-write storage.
///
/// Storage is 64-byte aligned (one cache line, one AVX-512 vector) and recycled through
/// ``BufferPool`` so that training steps, which allocate the same shapes again and again, do not
/// page-fault fresh memory every step.
public struct Tensor: Sendable {
    /// The extent of each dimension, outermost first.
    public private(set) var shape: [Int]
    @usableFromInline var storage: TensorStorage

    /// Number of elements (the product of `shape`).
    public var count: Int { storage.count }

    /// A tensor of `shape` filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *))
        storage.pointer.update(repeating: value, count: storage.count)
    }

    /// A tensor of `shape` whose contents are undefined; for outputs that a kernel overwrites.
    public init(uninitializedShape shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *))
    }

    /// A tensor of `shape` holding `scalars` in row-major order.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.reduce(1, *) == scalars.count, "shape \(shape) does not hold \(scalars.count) scalars")
        self.init(uninitializedShape: shape)
        scalars.withUnsafeBufferPointer { source in
            storage.pointer.update(from: source.baseAddress!, count: source.count)
        }
    }

    /// The elements in row-major order.
    public var scalars: [Float] {
        Array(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// The element at a flat (row-major) index.
    public subscript(flat index: Int) -> Float {
        get {
            precondition(index >= 0 && index < count, "index \(index) out of range 0..<\(count)")
            return storage.pointer[index]
        }
        set {
            precondition(index >= 0 && index < count, "index \(index) out of range 0..<\(count)")
            ensureUnique()
            storage.pointer[index] = newValue
        }
    }

    /// The same elements viewed with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        var copy = self
        copy.shape = newShape
        return copy
    }

    /// Calls `body` with read access to the elements.
    ///
    /// - Warning: The pointer must not escape `body`.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// Calls `body` with write access to the elements, copying them first if the storage is shared.
    ///
    /// - Warning: The pointer must not escape `body`.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        ensureUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// Whether this value is the only reference to its storage (a write will not copy).
    @inlinable
    public mutating func isUniquelyReferenced() -> Bool {
        isKnownUniquelyReferenced(&storage)
    }

    /// A same-shaped result computed from these values by `body(source, destination)`, which must
    /// read each position before writing it. When `allowed` and nothing else holds the storage, the
    /// destination is this tensor's own storage (sparing a fresh buffer and the traffic of filling
    /// it) and the result shares it; otherwise the destination is a new tensor.
    public mutating func overwritingIfUnique(
        when allowed: Bool = true, _ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void
    ) -> Tensor {
        if allowed && isUniquelyReferenced() {
            withUnsafeMutableBufferPointer { p in body(UnsafePointer(p.baseAddress!), p.baseAddress!) }
            return self
        }
        var fresh = Tensor(uninitializedShape: shape)
        withUnsafeBufferPointer { ps in fresh.withUnsafeMutableBufferPointer { pf in body(ps.baseAddress!, pf.baseAddress!) } }
        return fresh
    }

    @inlinable
    @inline(__always)
    mutating func ensureUnique() {
        if isKnownUniquelyReferenced(&storage) { return }
        makeUniqueCopy()
    }

    @usableFromInline
    @inline(never)
    mutating func makeUniqueCopy() {
        let copy = TensorStorage(count: storage.count)
        copy.pointer.update(from: storage.pointer, count: storage.count)
        storage = copy
    }
}

extension Tensor {
    /// The number of elements of `shape`, or nil when a dimension is negative or the product
    /// overflows: sizes read from files must get an error, not an arithmetic trap.
    public static func elementCount(of shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            count = product
        }
        return count
    }
}

extension Tensor: Equatable {
    /// Exact equality of shape and every element (bit-identical comparison for determinism tests).
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.shape == rhs.shape else { return false }
        if lhs.storage === rhs.storage { return true }
        for i in 0..<lhs.count where lhs.storage.pointer[i] != rhs.storage.pointer[i] { return false }
        return true
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(preview)\(count > 8 ? ", …" : "")])"
    }
}

/// The buffer behind a ``Tensor``.
// @unchecked: the buffer is only written through `Tensor.withUnsafeMutableBufferPointer`, which first
// makes the storage unique (copy-on-write), so a storage shared between threads is never written.
@usableFromInline
final class TensorStorage: @unchecked Sendable {
    @usableFromInline let pointer: UnsafeMutablePointer<Float>
    @usableFromInline let count: Int

    @usableFromInline
    init(count: Int) {
        self.count = count
        pointer = BufferPool.shared.take(count: count)
    }

    deinit { BufferPool.shared.give(pointer, count: count) }
}
