/// Bounds-checked reads of a FlatBuffer's tables, enough to walk the two AEDAT 4 schemas
/// (`IOHeader` and `EventPacket`) without a FlatBuffers dependency.
///
/// A table starts with an `i32` offset back to its vtable (`vtable = table − i32(table)`); the vtable
/// holds `u16 vtableSize`, `u16 tableSize`, then one `u16` offset per field (0 = absent, use the default).
/// Offsets to vectors and strings are `u32`, relative to where they are stored.
struct FlatBufferView {
    let bytes: UnsafeRawBufferPointer
    /// File name and the file offset of `bytes` (or of the packet), for error messages.
    let file: String
    let fileOffset: Int
    let what: String

    func fail(_ offset: Int, _ message: String) -> EventDataError {
        EventDataError(.malformed, file: file, byteOffset: fileOffset, message: "\(what): \(message) (at \(offset) inside)")
    }

    func u16(_ offset: Int) throws -> UInt16 {
        guard offset >= 0, offset + 2 <= bytes.count else { throw fail(offset, "reference past the end") }
        return bytes.le16(offset)
    }

    func u32(_ offset: Int) throws -> UInt32 {
        guard offset >= 0, offset + 4 <= bytes.count else { throw fail(offset, "reference past the end") }
        return bytes.le32(offset)
    }

    func i64(_ offset: Int) throws -> Int64 {
        guard offset >= 0, offset + 8 <= bytes.count else { throw fail(offset, "reference past the end") }
        return Int64(bitPattern: bytes.le64(offset))
    }

    /// Offset of the root table.
    func root() throws -> Int { Int(try u32(0)) }

    /// The 4-byte file identifier after the root offset.
    func identifier() -> String? {
        guard bytes.count >= 8 else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[4..<8]), as: UTF8.self)
    }

    /// Absolute offset of field `index` of the table at `table`, or nil when the field is absent.
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
    func string(at position: Int) throws -> String {
        let start = try indirect(position)
        let length = Int(try u32(start))
        guard start + 4 + length <= bytes.count else { throw fail(start, "string of \(length) bytes runs past the end") }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(start + 4)..<(start + 4 + length)]), as: UTF8.self)
    }
}
