/// Unaligned little- and big-endian integer loads from raw bytes.
///
/// Callers check bounds once per header or per run of events; these helpers only assert.
extension UnsafeRawBufferPointer {
    @inline(__always)
    func le16(_ offset: Int) -> UInt16 {
        assert(offset >= 0 && offset + 2 <= count)
        return UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always)
    func le32(_ offset: Int) -> UInt32 {
        assert(offset >= 0 && offset + 4 <= count)
        return UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always)
    func le64(_ offset: Int) -> UInt64 {
        assert(offset >= 0 && offset + 8 <= count)
        return UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always)
    func be32(_ offset: Int) -> UInt32 {
        assert(offset >= 0 && offset + 4 <= count)
        return UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// Whether the bytes at `offset` equal `prefix`.
    func hasBytes(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
        guard offset >= 0, offset + prefix.count <= count else { return false }
        for (i, byte) in prefix.enumerated() where self[offset + i] != byte { return false }
        return true
    }

    /// The position just past the next `\n` at or after `offset`, or nil if there is none.
    func endOfLine(from offset: Int) -> Int? {
        var i = offset
        while i < count {
            if self[i] == 0x0A { return i + 1 }
            i += 1
        }
        return nil
    }

    /// The text of the line `start..<end` without its `\r\n` or `\n`.
    func lineText(_ start: Int, _ end: Int) -> String {
        var stop = end
        while stop > start, self[stop - 1] == 0x0A || self[stop - 1] == 0x0D { stop -= 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: self[start..<stop]), as: UTF8.self)
    }
}

/// Arrays filled in place without zero-initialisation (readers know the exact count up front or an
/// upper bound).
extension Array {
    @inline(__always)
    static func uninitialized(
        capacity: Int, _ fill: (UnsafeMutableBufferPointer<Element>) throws -> Int
    ) rethrows -> [Element] {
        try [Element](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            initialized = try fill(buffer)
        }
    }
}
