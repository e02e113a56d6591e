import CLZ4

/// Decompresses LZ4 frames (the `lz4frame.h` format DV uses for AEDAT 4 packets) with liblz4.
///
/// - Important: Not thread-safe; use one decoder per reading thread.
final class LZ4FrameDecoder {
    private var context: OpaquePointer?
    /// Reused output storage.
    private var output: UnsafeMutableRawPointer
    private var outputCapacity: Int

    init() throws {
        var created: OpaquePointer?
        let status = LZ4F_createDecompressionContext(&created, UInt32(LZ4F_VERSION))
        guard LZ4F_isError(status) == 0, let created else {
            throw LZ4Error(message: "cannot create a decompression context: \(Self.name(status))")
        }
        context = created
        outputCapacity = 1 << 20
        output = .allocate(byteCount: outputCapacity, alignment: 16)
    }

    deinit {
        if let context { LZ4F_freeDecompressionContext(context) }
        output.deallocate()
    }

    /// Decompresses one complete frame; calls `body` with the decompressed bytes, which stay valid
    /// only during the call.
    func decompressFrame<R>(_ source: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        var consumed = 0
        var produced = 0
        while true {
            if outputCapacity - produced < 1 << 16 { grow() }
            var sourceSize = source.count - consumed
            var destinationSize = outputCapacity - produced
            let hint = LZ4F_decompress(
                context, output + produced, &destinationSize, source.baseAddress.map { $0 + consumed }, &sourceSize, nil)
            if LZ4F_isError(hint) != 0 {
                LZ4F_resetDecompressionContext(context)
                throw LZ4Error(message: "corrupt LZ4 frame at byte \(consumed) of \(source.count): \(Self.name(hint))")
            }
            consumed += sourceSize
            produced += destinationSize
            if hint == 0 { break }
            if consumed >= source.count && destinationSize == 0 {
                LZ4F_resetDecompressionContext(context)
                throw LZ4Error(message: "LZ4 frame ends early (\(source.count) bytes, \(hint) more expected)")
            }
        }
        return try body(UnsafeRawBufferPointer(start: output, count: produced))
    }

    private func grow() {
        let bigger = UnsafeMutableRawPointer.allocate(byteCount: outputCapacity * 2, alignment: 16)
        bigger.copyMemory(from: output, byteCount: outputCapacity)
        output.deallocate()
        output = bigger
        outputCapacity *= 2
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
                throw LZ4Error(message: "compression failed: \(LZ4FrameDecoder.name(written))")
            }
            initialized = written
        }
    }
}

struct LZ4Error: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
