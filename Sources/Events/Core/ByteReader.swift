/// Bounds-checked loads from an event file's bytes, or from one decompressed packet of it.
///
/// Every load checks its whole range, in release builds too, and throws a named ``EventDataError``
/// instead of reading past the end: the file's contents decide every offset, so a check that compiles
/// away (`assert`) or traps (`precondition`) would let a crafted file read foreign memory or end the
/// process. Readers still check each header or run of events up front so their errors say what was
/// cut short; these checks are the floor under those.
struct ByteReader {
    /// Where the bytes are, for error messages: the file itself (offsets are file offsets) or a region
    /// decoded from it (a decompressed packet, the IO header), reported at the region's file offset.
    struct Region {
        var fileOffset: Int
        var packet: Int?
        var what: String
    }

    let bytes: UnsafeRawBufferPointer
    let file: String
    let region: Region?

    init(_ bytes: UnsafeRawBufferPointer, file: String, region: Region? = nil) {
        self.bytes = bytes
        self.file = file
        self.region = region
    }

    var count: Int { bytes.count }

    /// Whether `width` bytes at `offset` lie inside (never overflows: `count − width` is checked first).
    @inline(__always)
    func contains(_ offset: Int, _ width: Int) -> Bool {
        offset >= 0 && width >= 0 && width <= bytes.count && offset <= bytes.count - width
    }

    @inline(__always)
    func check(_ offset: Int, _ width: Int) throws {
        guard contains(offset, width) else { throw outOfRange(offset, width) }
    }

    @inline(never)
    func outOfRange(_ offset: Int, _ width: Int) -> EventDataError {
        if region == nil {
            return error(
                .truncated, at: max(0, min(offset, bytes.count)),
                "file ends inside a \(width)-byte field at byte \(offset) (the file has \(bytes.count) bytes)")
        }
        return error(.malformed, at: offset, "a \(width)-byte field runs past the end (\(bytes.count) bytes)")
    }

    /// An error at `offset` (a file offset, or an offset inside the region).
    func error(_ code: EventDataError.Code, at offset: Int?, packet: Int? = nil, _ message: String) -> EventDataError {
        guard let region else { return EventDataError(code, file: file, byteOffset: offset, packet: packet, message: message) }
        let inside = offset.map { " (at \($0) inside)" } ?? ""
        return EventDataError(
            code, file: file, byteOffset: region.fileOffset, packet: packet ?? region.packet,
            message: "\(region.what): \(message)\(inside)")
    }

    @inline(__always)
    func u8(_ offset: Int) throws -> UInt8 {
        try check(offset, 1)
        return bytes.load(fromByteOffset: offset, as: UInt8.self)
    }

    @inline(__always)
    func le16(_ offset: Int) throws -> UInt16 {
        try check(offset, 2)
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always)
    func le32(_ offset: Int) throws -> UInt32 {
        try check(offset, 4)
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always)
    func le64(_ offset: Int) throws -> UInt64 {
        try check(offset, 8)
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always)
    func be32(_ offset: Int) throws -> UInt32 {
        try check(offset, 4)
        return UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always)
    func be64(_ offset: Int) throws -> UInt64 {
        try check(offset, 8)
        return UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// The `count` bytes at `offset`.
    func slice(_ offset: Int, count: Int) throws -> UnsafeRawBufferPointer {
        try check(offset, count)
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    /// `count` records of `stride` bytes from `offset`, each readable over `window` bytes (default:
    /// its own `stride`; ATIS reads 8 bytes of 5-byte records), after one overflow-safe check that the
    /// whole run lies inside.
    ///
    /// Hot loops read runs: one throwing check per packet instead of one per load.
    func records(at offset: Int, count: Int, stride: Int, window: Int? = nil) throws -> Records {
        let window = window ?? stride
        precondition(stride > 0 && window > 0, "record shape")
        guard count >= 0 else { throw error(.malformed, at: offset, "negative record count \(count)") }
        guard count > 0 else { return Records(base: nil, count: 0, stride: stride, window: window) }
        guard let span = ByteReader.product(count - 1, stride).flatMap({ $0 <= Int.max - window ? $0 + window : nil }) else {
            throw outOfRange(offset, Int.max)
        }
        try check(offset, span)
        return Records(base: bytes.baseAddress! + offset, count: count, stride: stride, window: window)
    }

    /// `a × b`, or nil when the product does not fit in an `Int` (sizes computed from file fields).
    static func product(_ a: Int, _ b: Int) -> Int? {
        let (value, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : value
    }
}

/// A run of fixed-size records whose extent ``ByteReader/records(at:count:stride:window:)`` checked.
///
/// Every load still checks that its record index is in the run and its field inside the record's
/// window, in release builds too, but neither depends on the file: the index runs over `0..<count`
/// and the fields are constants of the format, so the compiler drops or hoists the checks in loops
/// and a failing one is a bug in the reader, not a bad file (hence `precondition`, not `throw`).
struct Records {
    private let base: UnsafeRawPointer?
    let count: Int
    let stride: Int
    let window: Int

    fileprivate init(base: UnsafeRawPointer?, count: Int, stride: Int, window: Int) {
        self.base = base
        self.count = count
        self.stride = stride
        self.window = window
    }

    @inline(__always)
    private func address(_ index: Int, _ field: Int, _ width: Int) -> UnsafeRawPointer {
        precondition(UInt(bitPattern: index) < UInt(bitPattern: count), "record index outside the checked run")
        precondition(field >= 0 && field <= window - width, "field outside the record")
        return base.unsafelyUnwrapped + (index &* stride &+ field)
    }

    @inline(__always)
    func u8(_ index: Int, at field: Int) -> UInt8 { address(index, field, 1).load(as: UInt8.self) }

    @inline(__always)
    func le16(_ index: Int, at field: Int) -> UInt16 {
        UInt16(littleEndian: address(index, field, 2).loadUnaligned(as: UInt16.self))
    }

    @inline(__always)
    func le32(_ index: Int, at field: Int) -> UInt32 {
        UInt32(littleEndian: address(index, field, 4).loadUnaligned(as: UInt32.self))
    }

    @inline(__always)
    func le64(_ index: Int, at field: Int) -> UInt64 {
        UInt64(littleEndian: address(index, field, 8).loadUnaligned(as: UInt64.self))
    }

    @inline(__always)
    func be32(_ index: Int, at field: Int) -> UInt32 {
        UInt32(bigEndian: address(index, field, 4).loadUnaligned(as: UInt32.self))
    }

    @inline(__always)
    func be64(_ index: Int, at field: Int) -> UInt64 {
        UInt64(bigEndian: address(index, field, 8).loadUnaligned(as: UInt64.self))
    }
}

/// Text-header scanning. Each helper stays inside `0..<count` by construction (loop bounds and
/// clamping), whatever offsets it is given.
extension UnsafeRawBufferPointer {
    /// Whether the bytes at `offset` equal `prefix`.
    func hasBytes(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
        guard offset >= 0, prefix.count <= count, offset <= count - prefix.count else { return false }
        for (i, byte) in prefix.enumerated() where self[offset + i] != byte { return false }
        return true
    }

    /// The position just past the next `\n` at or after `offset`, or nil if there is none before
    /// `limit` (default: the end).
    func endOfLine(from offset: Int, limit: Int? = nil) -> Int? {
        var i = Swift.max(0, offset)
        let end = Swift.min(count, limit ?? count)
        while i < end {
            if self[i] == 0x0A { return i + 1 }
            i += 1
        }
        return nil
    }

    /// The text of the line `start..<end` without its `\r\n` or `\n`.
    func lineText(_ start: Int, _ end: Int) -> String {
        let first = Swift.min(Swift.max(0, start), count)
        var stop = Swift.min(Swift.max(first, end), count)
        while stop > first, self[stop - 1] == 0x0A || self[stop - 1] == 0x0D { stop -= 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: self[first..<stop]), as: UTF8.self)
    }
}
