/// Reads AEDAT 4.0 files (iniVation DV) so users can bring their own recordings.
///
/// Layout (little-endian): the magic `#!AER-DAT4.0\r\n`; `u32 n` and an n-byte FlatBuffer `IOHeader`
/// (field 0 `compression`: 0 none, 1 LZ4, 2 LZ4 high, 3 zstd, 4 zstd high; field 1
/// `file_data_position`, −1 when absent; field 2 `description`, XML listing the streams); then packets of
/// `u32 streamId`, `u32 size` and `size` bytes, up to the end of the file or `file_data_position`. A
/// packet's bytes, once decompressed, are a size-prefixed FlatBuffer; for event streams (`EVTS`) its
/// root table's field 0 is a vector of 16-byte `Event` structs (`i64 t`, `i16 x`, `i16 y`, `bool on`,
/// 3 bytes padding). Timestamps are absolute microseconds.
///
/// zstd-compressed files are reported as `.unsupportedCompression` (liblz4 only in this build).
public enum AEDAT4Reader {
    public struct Options: Hashable, Sendable {
        /// The event stream to read; nil takes the first `EVTS` stream.
        public var streamID: UInt32?
        /// Overrides the sensor size from the header (events outside it are an error).
        public var sensor: SensorSize?

        public init(streamID: UInt32? = nil, sensor: SensorSize? = nil) {
            self.streamID = streamID
            self.sensor = sensor
        }
    }

    /// The parsed IO header.
    public struct Header: Hashable, Sendable {
        public var compression: Int32
        public var fileDataPosition: Int64
        public var streams: [AEDAT4Stream]
        /// Byte offset of the first packet.
        public var dataOffset: Int
    }

    static let magic = Array("#!AER-DAT4.0\r\n".utf8)
    static let eventSize = 16

    /// Reads and decodes the file at `path`.
    public static func read(path: String, options: Options = Options()) throws -> EventStream {
        let file = try MappedFile(path: path)
        return try file.withBytes { try decode($0, file: path, options: options) }
    }

    /// Parses the magic and the IO header.
    public static func header(_ bytes: UnsafeRawBufferPointer, file: String) throws -> Header {
        try AEDAT31Reader.checkVersion(bytes, file: file, expected: "4.0")
        guard bytes.hasBytes(magic) else {
            throw EventDataError(.badMagic, file: file, byteOffset: 12, message: "magic line is not terminated by \\r\\n")
        }
        guard bytes.count >= magic.count + 4 else {
            throw EventDataError(.truncated, file: file, byteOffset: magic.count, message: "file ends before the IO header size")
        }
        let size = Int(bytes.le32(magic.count))
        let start = magic.count + 4
        guard start + size <= bytes.count else {
            throw EventDataError(
                .truncated, file: file, byteOffset: magic.count,
                message: "IO header of \(size) bytes runs past the end of the file (\(bytes.count) bytes)")
        }
        let view = FlatBufferView(
            bytes: UnsafeRawBufferPointer(rebasing: bytes[start..<(start + size)]), file: file, fileOffset: start,
            what: "IO header")
        let root = try view.root()
        let compression = try view.field(0, of: root).map { Int32(bitPattern: try view.u32($0)) } ?? 0
        let dataPosition = try view.field(1, of: root).map { try view.i64($0) } ?? -1
        guard let descriptionField = try view.field(2, of: root) else {
            throw EventDataError(.malformed, file: file, byteOffset: start, message: "IO header has no description")
        }
        let description = try view.string(at: descriptionField)
        let streams = try AEDAT4Description.streams(in: description, file: file, fileOffset: start)
        return Header(compression: compression, fileDataPosition: dataPosition, streams: streams, dataOffset: start + size)
    }

    /// Decodes a whole file already in memory.
    public static func decode(_ bytes: UnsafeRawBufferPointer, file: String, options: Options = Options()) throws
        -> EventStream
    {
        let header = try header(bytes, file: file)
        switch header.compression {
        case 0, 1, 2: break
        case 3, 4:
            throw EventDataError(
                .unsupportedCompression, file: file, byteOffset: AEDAT4Reader.magic.count + 4,
                message: "zstd-compressed AEDAT 4 is not supported; re-export the recording with LZ4 or no compression")
        default:
            throw EventDataError(
                .malformed, file: file, byteOffset: AEDAT4Reader.magic.count + 4,
                message: "unknown compression \(header.compression)")
        }
        let stream: AEDAT4Stream
        if let id = options.streamID {
            guard let chosen = header.streams.first(where: { $0.id == id && $0.typeIdentifier == "EVTS" }) else {
                throw EventDataError(.malformed, file: file, message: "no EVTS stream with id \(id)")
            }
            stream = chosen
        } else {
            guard let first = header.streams.first(where: { $0.typeIdentifier == "EVTS" }) else {
                throw EventDataError(
                    .malformed, file: file, message: "the IO header lists no event (EVTS) stream")
            }
            stream = first
        }
        let sensor = options.sensor ?? stream.sensor
        let decoder = header.compression == 0 ? nil : try LZ4FrameDecoder()
        // LZ4 packs events about 2×; reserving for that avoids regrowing (untouched capacity costs nothing).
        var columns = EventColumns(capacity: bytes.count / 8 + 1024)
        var position = header.dataOffset
        let end = header.fileDataPosition >= 0 ? min(Int(header.fileDataPosition), bytes.count) : bytes.count
        while position < end {
            guard position + 8 <= bytes.count else {
                throw EventDataError(.truncated, file: file, byteOffset: position, message: "file ends inside a packet header")
            }
            let id = bytes.le32(position)
            let size = Int(bytes.le32(position + 4))
            let payload = position + 8
            guard payload + size <= bytes.count else {
                throw EventDataError(
                    .truncated, file: file, byteOffset: position,
                    message: "packet of \(size) bytes runs past the end of the file (\(bytes.count) bytes)")
            }
            defer { position = payload + size }
            guard id == stream.id else { continue }
            let raw = UnsafeRawBufferPointer(rebasing: bytes[payload..<(payload + size)])
            if let decoder {
                do {
                    try decoder.decompressFrame(raw) {
                        try appendEvents(packet: $0, to: &columns, sensor: sensor, file: file, fileOffset: position)
                    }
                } catch let error as LZ4Error {
                    throw EventDataError(.malformed, file: file, byteOffset: position, message: "packet: \(error.message)")
                }
            } else {
                try appendEvents(packet: raw, to: &columns, sensor: sensor, file: file, fileOffset: position)
            }
        }
        var result = columns.stream(sensor: sensor ?? SensorSize(width: 0, height: 0))
        if sensor == nil, let maxima = result.maxCoordinates {
            result.sensor = SensorSize(width: maxima.x + 1, height: maxima.y + 1)
        }
        return result
    }

    /// Appends the events of one decompressed `EVTS` packet (a size-prefixed FlatBuffer).
    static func appendEvents(
        packet: UnsafeRawBufferPointer, to columns: inout EventColumns, sensor: SensorSize?, file: String, fileOffset: Int
    ) throws {
        guard packet.count >= 4 else {
            throw EventDataError(.truncated, file: file, byteOffset: fileOffset, message: "event packet shorter than its size prefix")
        }
        let length = Int(packet.le32(0))
        guard 4 + length <= packet.count else {
            throw EventDataError(
                .truncated, file: file, byteOffset: fileOffset,
                message: "event packet says \(length) bytes but holds \(packet.count - 4)")
        }
        let view = FlatBufferView(
            bytes: UnsafeRawBufferPointer(rebasing: packet[4..<(4 + length)]), file: file, fileOffset: fileOffset,
            what: "event packet")
        guard view.identifier() == "EVTS" else {
            throw EventDataError(
                .malformed, file: file, byteOffset: fileOffset,
                message: "packet of the event stream has identifier `\(view.identifier() ?? "")`, not EVTS")
        }
        guard let field = try view.field(0, of: try view.root()) else { return }
        let vector = try view.indirect(field)
        let count = Int(try view.u32(vector))
        let first = vector + 4
        guard count <= (view.bytes.count - first) / eventSize else {
            throw EventDataError(
                .truncated, file: file, byteOffset: fileOffset,
                message: "event packet says \(count) events but holds room for \((view.bytes.count - first) / eventSize)")
        }
        let limitX = sensor?.width ?? Int(Int16.max) + 1
        let limitY = sensor?.height ?? Int(Int16.max) + 1
        let bytes = view.bytes
        try columns.append(upTo: count) { sink in
            for i in 0..<count {
                let e = first &+ i &* eventSize
                let x = Int(Int16(bitPattern: bytes.le16(e + 8)))
                let y = Int(Int16(bitPattern: bytes.le16(e + 10)))
                if x < 0 || y < 0 || x >= limitX || y >= limitY {
                    throw EventDataError(
                        .coordinateOutOfRange, file: file, byteOffset: fileOffset,
                        message: "event \(i) of the packet at (\(x), \(y)) is outside the \(sensor?.description ?? "") sensor")
                }
                sink.t[i] = Int64(bitPattern: bytes.le64(e))
                sink.x[i] = UInt16(truncatingIfNeeded: x)
                sink.y[i] = UInt16(truncatingIfNeeded: y)
                sink.p[i] = bytes[e + 12] != 0 ? 1 : 0
            }
            return count
        }
    }
}
