/// Bounds-checked reads of a FlatBuffer's tables, enough to walk the two AEDAT 4 schemas
/// (`IOHeader` and `EventPacket`) without a FlatBuffers dependency.
///
/// A table starts with an `i32` offset back to its vtable (`vtable = table − i32(table)`); the vtable
/// holds `u16 vtableSize`, `u16 tableSize`, then one `u16` offset per field (0 = absent, use the default).
/// Offsets to vectors and strings are `u32`, relative to where they are stored. Every offset comes from
/// the file, so every read goes through ``ByteReader`` and a bad one is `.malformed`, never a trap.
struct FlatBufferView {
    let reader: ByteReader

    /// A view of `bytes`, which sit at `fileOffset` in `file` (or make up packet `packet` decoded from there).
    init(bytes: UnsafeRawBufferPointer, file: String, fileOffset: Int, packet: Int? = nil, what: String) {
        reader = ByteReader(bytes, file: file, region: .init(fileOffset: fileOffset, packet: packet, what: what))
    }

    var bytes: UnsafeRawBufferPointer { reader.bytes }

    func fail(_ offset: Int, _ message: String) -> EventDataError { reader.error(.malformed, at: offset, message) }

    func u16(_ offset: Int) throws -> UInt16 { try reader.le16(offset) }

    func u32(_ offset: Int) throws -> UInt32 { try reader.le32(offset) }

    func i64(_ offset: Int) throws -> Int64 { Int64(bitPattern: try reader.le64(offset)) }

    /// Offset of the root table.
    func root() throws -> Int { Int(try u32(0)) }

    /// The 4-byte file identifier after the root offset.
    func identifier() -> String? {
        guard bytes.count >= 8 else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[4..<8]), as: UTF8.self)
    }

    /// Absolute offset of field `index` of the table at `table`, or nil when the field is absent.
    ///
    /// Offsets are at most 2³² here and the buffer far smaller than `Int.max`, so the sums cannot
    /// overflow; every result is checked by the read that uses it.
    func field(_ index: Int, of table: Int) throws -> Int? {
        let vtable = table - Int(Int32(bitPattern: try u32(table)))
        let vtableSize = Int(try u16(vtable))
        let slot = 4 + 2 * index
        guard slot + 2 <= vtableSize else { return nil }
        let offset = Int(try u16(vtable + slot))
        return offset == 0 ? nil : table + offset
    }

    /// Follows the `u32` offset stored at `position` (to a vector or a string).
    func indirect(_ position: Int) throws -> Int { position + Int(try u32(position)) }

    /// The bytes of the string whose offset is stored at `position`.
    func stringBytes(at position: Int) throws -> UnsafeRawBufferPointer {
        let start = try indirect(position)
        let length = Int(try u32(start))
        guard reader.contains(start + 4, length) else { throw fail(start, "string of \(length) bytes runs past the end") }
        return try reader.slice(start + 4, count: length)
    }

    /// The string whose offset is stored at `position`.
    func string(at position: Int) throws -> String { String(decoding: try stringBytes(at: position), as: UTF8.self) }
}
