import Foundation

/// Recycles large, 64-byte aligned Float buffers by exact size.
///
/// A training step allocates the same activation shapes every step. Large `malloc` blocks are
/// `mmap`ed and returned to the kernel on `free`, so without recycling every step would page-fault
/// and zero gigabytes of fresh memory. Buffers below ``minimumPooledCount`` go straight to the
/// allocator; the pool holds at most ``capacityBytes`` of idle memory and drops the excess.
final class BufferPool: @unchecked Sendable {
    // @unchecked: all mutable state is guarded by `lock`.
    static let shared = BufferPool()

    /// Buffers smaller than this (in elements) are not pooled: malloc handles them well.
    let minimumPooledCount = 16_384
    /// Upper bound on idle pooled memory.
    let capacityBytes = 4 << 30

    private let lock = NSLock()
    private var idle: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var idleBytes = 0

    func take(count: Int) -> UnsafeMutablePointer<Float> {
        if count >= minimumPooledCount {
            lock.lock()
            if let pointer = idle[count]?.popLast() {
                idleBytes -= count * MemoryLayout<Float>.stride
                lock.unlock()
                return pointer
            }
            lock.unlock()
        }
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        return raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    func give(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        if count >= minimumPooledCount {
            let bytes = count * MemoryLayout<Float>.stride
            lock.lock()
            if idleBytes + bytes <= capacityBytes {
                idle[count, default: []].append(pointer)
                idleBytes += bytes
                lock.unlock()
                return
            }
            lock.unlock()
        }
        UnsafeMutableRawPointer(pointer).deallocate()
    }

    /// Frees every idle buffer (for example after a large evaluation, before a long idle period).
    func drain() {
        lock.lock()
        let all = idle.values.flatMap { $0 }
        idle = [:]
        idleBytes = 0
        lock.unlock()
        for pointer in all { UnsafeMutableRawPointer(pointer).deallocate() }
    }
}
