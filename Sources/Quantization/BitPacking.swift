/// Packs fixed-width codes into bytes and back.
///
/// Code `i` occupies bits `i·b … i·b + b - 1` of the stream, least significant bit first, and the
/// stream fills bytes from bit 0 upwards (little-endian bit order, as in most bit-packed formats,
/// e.g. Parquet's bit-packing). The last byte is zero-padded. `ceil(n·b / 8)` bytes in total.
public enum BitPacking {
    public static func byteCount(codes: Int, bits: Int) -> Int { (codes * bits + 7) / 8 }

    public static func pack(_ codes: [UInt32], bits: Int) -> [UInt8] {
        precondition((1...16).contains(bits), "bit width \(bits) out of range")
        var bytes = [UInt8](repeating: 0, count: byteCount(codes: codes.count, bits: bits))
        let mask = UInt32((1 << bits) - 1)
        var bitPosition = 0
        for code in codes {
            precondition(code <= mask, "code \(code) does not fit in \(bits) bits")
            var value = code
            var remaining = bits
            var position = bitPosition
            while remaining > 0 {
                let byte = position >> 3
                let offset = position & 7
                let take = min(8 - offset, remaining)
                bytes[byte] |= UInt8(truncatingIfNeeded: (value & UInt32((1 << take) - 1)) << UInt32(offset))
                value >>= UInt32(take)
                remaining -= take
                position += take
            }
            bitPosition += bits
        }
        return bytes
    }

    /// Unpacks `count` codes of `bits` bits; throws if `bytes` is too short.
    public static func unpack(_ bytes: [UInt8], count: Int, bits: Int) throws(BitPackingError) -> [UInt32] {
        precondition((1...16).contains(bits), "bit width \(bits) out of range")
        let needed = byteCount(codes: count, bits: bits)
        guard bytes.count >= needed else { throw BitPackingError(expectedBytes: needed, actualBytes: bytes.count) }
        var codes = [UInt32](repeating: 0, count: count)
        var bitPosition = 0
        for i in 0..<count {
            var value: UInt32 = 0
            var filled = 0
            var position = bitPosition
            while filled < bits {
                let byte = position >> 3
                let offset = position & 7
                let take = min(8 - offset, bits - filled)
                let chunk = (UInt32(bytes[byte]) >> UInt32(offset)) & UInt32((1 << take) - 1)
                value |= chunk << UInt32(filled)
                filled += take
                position += take
            }
            codes[i] = value
            bitPosition += bits
        }
        return codes
    }
}

public struct BitPackingError: Error, Hashable, Sendable, CustomStringConvertible {
    public var expectedBytes: Int
    public var actualBytes: Int
    public var description: String { "packed tensor has \(actualBytes) bytes, expected \(expectedBytes)" }
}
