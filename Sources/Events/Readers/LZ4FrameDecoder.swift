import CLZ4

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decompresses LZ4 frames (the `lz4frame.h` format DV uses for AEDAT 4 packets) with liblz4, never
/// producing more than a caller's limit.
///
/// A frame's size is not known from its compressed size (one byte can stand for 255), so the cap is
/// enforced twice: a frame whose header declares a larger content size is refused before anything is
/// allocated, and the output buffer never grows past `limit + 1` bytes, so a frame that does not
/// declare its size is refused as soon as it produces one byte too many.
///
/// - Important: Not thread-safe; use one decoder per reading thread.
package final class LZ4FrameDecoder {
    private var context: OpaquePointer?
    /// Reused output storage, from `malloc`: `realloc` grows a large buffer by remapping its pages
    /// (glibc's `mremap`) instead of copying into a second one, so the peak is the cap, not twice it.
    private var output: UnsafeMutableRawPointer
    /// Bytes allocated for output (at most the largest `limit + 1` seen; tests read it).
    package private(set) var outputCapacity: Int

    package init(initialCapacity: Int = 1 << 20) throws {
        var created: OpaquePointer?
        let status = LZ4F_createDecompressionContext(&created, UInt32(LZ4F_VERSION))
        guard LZ4F_isError(status) == 0, let created else {
            throw LZ4Error(.corrupt, "cannot create a decompression context: \(Self.name(status))")
        }
        context = created
        outputCapacity = max(initialCapacity, 16)
        guard let buffer = malloc(outputCapacity) else { throw LZ4Error(.outOfMemory, "cannot allocate \(outputCapacity) bytes") }
        output = buffer
    }

    deinit {
        if let context { LZ4F_freeDecompressionContext(context) }
        free(output)
    }

    /// Decompresses one complete frame of at most `limit` bytes; calls `body` with the decompressed
    /// bytes, which stay valid only during the call.
    ///
    /// - Throws: ``LZ4Error`` `.tooLarge` (declared or produced size over `limit`), `.corrupt`, or
    ///   `.truncated` (the frame ends early).
    package func decompressFrame<R>(
        _ source: UnsafeRawBufferPointer, limit: Int, _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R {
        guard let base = source.baseAddress, !source.isEmpty else { throw LZ4Error(.truncated, "empty LZ4 frame") }
        let limit = max(0, limit)
        defer { LZ4F_resetDecompressionContext(context) }
        var info = LZ4F_frameInfo_t()
        var consumed = source.count
        let status = LZ4F_getFrameInfo(context, &info, base, &consumed)
        if LZ4F_isError(status) != 0 {
            throw LZ4Error(.corrupt, "bad LZ4 frame header (\(source.count) bytes): \(Self.name(status))")
        }
        if info.contentSize > UInt64(limit) {
            throw LZ4Error(.tooLarge(bytes: info.contentSize, declared: true), "the frame declares \(info.contentSize) bytes")
        }
        // One byte over the limit is room enough to notice that the frame exceeds it.
        let ceiling = limit == Int.max ? limit : limit + 1
        var produced = 0
        while true {
            if outputCapacity - produced < 1 << 16, outputCapacity < ceiling {
                try grow(to: min(max(outputCapacity * 2, produced + 1 << 16), ceiling))
            }
            var sourceSize = source.count - consumed
            var destinationSize = outputCapacity - produced
            let hint = LZ4F_decompress(context, output + produced, &destinationSize, base + consumed, &sourceSize, nil)
            if LZ4F_isError(hint) != 0 {
                throw LZ4Error(.corrupt, "corrupt LZ4 frame at byte \(consumed) of \(source.count): \(Self.name(hint))")
            }
            consumed += sourceSize
            produced += destinationSize
            if produced > limit {
                throw LZ4Error(.tooLarge(bytes: UInt64(produced), declared: false), "the frame decompresses to more than \(limit) bytes")
            }
            if hint == 0 { break }
            // There is always room for output here (`produced <= limit < ceiling`), so a call that
            // produces nothing has run out of input, or (with input left) cannot make progress.
            if consumed >= source.count && destinationSize == 0 {
                throw LZ4Error(.truncated, "LZ4 frame ends early (\(source.count) bytes, \(hint) more expected)")
            }
            if sourceSize == 0 && destinationSize == 0 {
                throw LZ4Error(.corrupt, "LZ4 frame makes no progress at byte \(consumed) of \(source.count)")
            }
        }
        return try body(UnsafeRawBufferPointer(start: output, count: produced))
    }

    private func grow(to capacity: Int) throws {
        guard let bigger = realloc(output, capacity) else { throw LZ4Error(.outOfMemory, "cannot allocate \(capacity) bytes") }
        output = bigger
        outputCapacity = capacity
    }

    static func name(_ code: Int) -> String { String(cString: LZ4F_getErrorName(code)) }
}

/// Compresses whole buffers into LZ4 frames (AEDAT 4 writer).
enum LZ4FrameEncoder {
    static func compress(_ source: UnsafeRawBufferPointer) throws -> [UInt8] {
        let bound = LZ4F_compressFrameBound(source.count, nil)
        return try [UInt8](unsafeUninitializedCapacity: bound) { buffer, initialized in
            let written = LZ4F_compressFrame(buffer.baseAddress, bound, source.baseAddress, source.count, nil)
            guard LZ4F_isError(written) == 0 else {
                throw LZ4Error(.corrupt, "compression failed: \(LZ4FrameDecoder.name(written))")
            }
            initialized = written
        }
    }
}

/// Why an LZ4 frame could not be decoded; the AEDAT 4 reader turns it into an ``EventDataError``.
package struct LZ4Error: Error, CustomStringConvertible {
    package enum Kind: Equatable {
        case corrupt
        case truncated
        /// `malloc`/`realloc` failed (within the caller's limit).
        case outOfMemory
        /// More output than the limit: `bytes` is the declared content size, or what was produced when it was refused.
        case tooLarge(bytes: UInt64, declared: Bool)
    }

    package var kind: Kind
    package var message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    package var description: String { message }
}
