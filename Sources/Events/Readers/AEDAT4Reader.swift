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
/// Everything the file declares is checked before it is used: decompressed sizes against
/// ``ReaderLimits`` (per packet and per file), event counts against the packet's bytes, sensor sizes
/// against ``ReaderLimits/maxSensorSide``, timestamps against ``EventStream/timestampRange``.
/// zstd-compressed files are reported as `.unsupportedCompression` (liblz4 only in this build).
public enum AEDAT4Reader {
    public struct Options: Hashable, Sendable {
        /// The event stream to read; nil takes the first `EVTS` stream.
        public var streamID: UInt32?
        /// Overrides the sensor size from the header (events outside it are an error).
        public var sensor: SensorSize?
        public var limits: ReaderLimits

        public init(streamID: UInt32? = nil, sensor: SensorSize? = nil, limits: ReaderLimits = .default) {
            self.streamID = streamID
            self.sensor = sensor
            self.limits = limits
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
    public static func header(_ bytes: UnsafeRawBufferPointer, file: String, limits: ReaderLimits = .default) throws
        -> Header
    {
        try AEDAT31Reader.checkVersion(bytes, file: file, expected: "4.0")
        guard bytes.hasBytes(magic) else {
            throw EventDataError(.badMagic, file: file, byteOffset: 12, message: "magic line is not terminated by \\r\\n")
        }
        let reader = ByteReader(bytes, file: file)
        guard reader.contains(magic.count, 4) else {
            throw EventDataError(.truncated, file: file, byteOffset: magic.count, message: "file ends before the IO header size")
        }
        let size = Int(try reader.le32(magic.count))
        let start = magic.count + 4
        guard reader.contains(start, size) else {
            throw EventDataError(
                .truncated, file: file, byteOffset: magic.count,
                message: "IO header of \(size) bytes runs past the end of the file (\(bytes.count) bytes)")
        }
        let view = FlatBufferView(bytes: try reader.slice(start, count: size), file: file, fileOffset: start, what: "IO header")
        let root = try view.root()
        let compression = try view.field(0, of: root).map { Int32(bitPattern: try view.u32($0)) } ?? 0
        let dataPosition = try view.field(1, of: root).map { try view.i64($0) } ?? -1
        guard let descriptionField = try view.field(2, of: root) else {
            throw EventDataError(.malformed, file: file, byteOffset: start, message: "IO header has no description")
        }
        let description = try view.stringBytes(at: descriptionField)
        guard description.count <= limits.maxHeaderBytes else {
            throw EventDataError(
                .limitExceeded, file: file, byteOffset: start,
                message: "IO header description of \(description.count) bytes is over the \(limits.maxHeaderBytes)-byte limit")
        }
        let streams = try AEDAT4Description.streams(
            in: String(decoding: description, as: UTF8.self), file: file, fileOffset: start, limits: limits)
        let dataOffset = start + size
        if dataPosition >= 0 {
            guard dataPosition >= Int64(dataOffset) else {
                throw EventDataError(
                    .malformed, file: file, byteOffset: start,
                    message: "file_data_position \(dataPosition) points into the header (packets start at \(dataOffset))")
            }
            guard dataPosition <= Int64(bytes.count) else {
                throw EventDataError(
                    .truncated, file: file, byteOffset: start,
                    message: "file_data_position \(dataPosition) is past the end of the file (\(bytes.count) bytes)")
            }
        }
        return Header(compression: compression, fileDataPosition: dataPosition, streams: streams, dataOffset: dataOffset)
    }

    /// Decodes a whole file already in memory.
    public static func decode(_ bytes: UnsafeRawBufferPointer, file: String, options: Options = Options()) throws
        -> EventStream
    {
        let limits = options.limits
        let header = try header(bytes, file: file, limits: limits)
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
        let bounds = EventBounds(sensor: sensor, limits: limits)
        let decoder = header.compression == 0 ? nil : try LZ4FrameDecoder()
        // Uncompressed, the file bounds the events; LZ4 packs them about 2×, so reserving for that
        // avoids regrowing (untouched capacity costs nothing), never past what the per-file cap allows.
        let expected = header.compression == 0 ? bytes.count / eventSize : min(bytes.count / 8, limits.maxFileBytes / eventSize)
        var columns = EventColumns(capacity: max(0, expected) + 1024)
        let reader = ByteReader(bytes, file: file)
        let end = header.fileDataPosition >= 0 ? Int(header.fileDataPosition) : bytes.count
        var position = header.dataOffset
        var packet = 0
        var decompressed = 0
        while position < end {
            guard reader.contains(position, 8) else {
                throw EventDataError(
                    .truncated, file: file, byteOffset: position, packet: packet,
                    message: "file ends inside a packet header (\(bytes.count - position) of 8 bytes)")
            }
            guard position + 8 <= end else {
                throw EventDataError(
                    .malformed, file: file, byteOffset: position, packet: packet,
                    message: "packet header runs past file_data_position \(end)")
            }
            let id = try reader.le32(position)
            let size = Int(try reader.le32(position + 4))
            let payload = position + 8
            guard reader.contains(payload, size) else {
                throw EventDataError(
                    .truncated, file: file, byteOffset: position, packet: packet,
                    message: "packet of \(size) bytes runs past the end of the file (\(bytes.count) bytes)")
            }
            guard payload + size <= end else {
                throw EventDataError(
                    .malformed, file: file, byteOffset: position, packet: packet,
                    message: "packet of \(size) bytes runs past file_data_position \(end)")
            }
            defer {
                position = payload + size
                packet += 1
            }
            guard id == stream.id else { continue }
            let raw = try reader.slice(payload, count: size)
            guard let decoder else {
                try appendEvents(packet: raw, to: &columns, bounds: bounds, file: file, fileOffset: position, index: packet)
                continue
            }
            let budget = min(limits.maxPacketBytes, limits.maxFileBytes - decompressed)
            do {
                try decoder.decompressFrame(raw, limit: budget) { bytes in
                    decompressed += bytes.count
                    try appendEvents(packet: bytes, to: &columns, bounds: bounds, file: file, fileOffset: position, index: packet)
                }
            } catch let error as LZ4Error {
                throw packetError(error, budget: budget, limits: limits, file: file, fileOffset: position, packet: packet)
            }
        }
        var result = columns.stream(sensor: sensor ?? SensorSize(width: 0, height: 0))
        if sensor == nil, let maxima = result.maxCoordinates {
            result.sensor = SensorSize(width: maxima.x + 1, height: maxima.y + 1)
        }
        return result
    }

    /// The ``EventDataError`` for an LZ4 packet that failed, naming the cap it hit.
    static func packetError(
        _ error: LZ4Error, budget: Int, limits: ReaderLimits, file: String, fileOffset: Int, packet: Int
    ) -> EventDataError {
        switch error.kind {
        case .tooLarge(let bytes, let declared):
            let size = declared ? "declares \(bytes) decompressed bytes" : "decompresses to more than \(budget) bytes"
            let cap =
                budget < limits.maxPacketBytes
                ? "the file's event packets would pass the \(limits.maxFileBytes)-byte limit per file"
                : "over the \(limits.maxPacketBytes)-byte limit per packet"
            return EventDataError(
                .limitExceeded, file: file, byteOffset: fileOffset, packet: packet, message: "LZ4 packet \(size): \(cap)")
        case .outOfMemory:
            return EventDataError(.unreadable, file: file, byteOffset: fileOffset, packet: packet, message: "packet: \(error.message)")
        case .truncated, .corrupt:
            return EventDataError(.malformed, file: file, byteOffset: fileOffset, packet: packet, message: "packet: \(error.message)")
        }
    }

    /// Where an event may lie, and what to say when it does not.
    package struct EventBounds {
        var width: Int
        var height: Int
        var sensor: SensorSize?
        var limits: ReaderLimits

        package init(sensor: SensorSize?, limits: ReaderLimits) {
            self.sensor = sensor
            self.limits = limits
            width = sensor?.width ?? limits.maxSensorSide
            height = sensor?.height ?? limits.maxSensorSide
        }

        var name: String { sensor.map { "the \($0) sensor" } ?? "the largest supported sensor (\(limits.maxSensorSide) per side)" }
    }

    /// Appends the events of one decompressed `EVTS` packet (a size-prefixed FlatBuffer).
    ///
    /// The vector's declared count is checked against the packet's bytes before anything is reserved.
    package static func appendEvents(
        packet: UnsafeRawBufferPointer, to columns: inout EventColumns, bounds: EventBounds, file: String, fileOffset: Int,
        index: Int
    ) throws {
        guard packet.count >= 4 else {
            throw EventDataError(
                .truncated, file: file, byteOffset: fileOffset, packet: index, message: "event packet shorter than its size prefix")
        }
        let outer = ByteReader(packet, file: file)
        let length = Int(try outer.le32(0))
        guard length <= packet.count - 4 else {
            throw EventDataError(
                .truncated, file: file, byteOffset: fileOffset, packet: index,
                message: "event packet says \(length) bytes but holds \(packet.count - 4)")
        }
        let view = FlatBufferView(
            bytes: try outer.slice(4, count: length), file: file, fileOffset: fileOffset, packet: index, what: "event packet")
        guard view.identifier() == "EVTS" else {
            throw EventDataError(
                .malformed, file: file, byteOffset: fileOffset, packet: index,
                message: "packet of the event stream has identifier `\(view.identifier() ?? "")`, not EVTS")
        }
        guard let field = try view.field(0, of: try view.root()) else { return }
        let vector = try view.indirect(field)
        let count = Int(try view.u32(vector))
        let first = vector + 4
        let room = (view.bytes.count - first) / eventSize
        guard count <= room else {
            throw EventDataError(
                .truncated, file: file, byteOffset: fileOffset, packet: index,
                message: "event packet says \(count) events but holds room for \(room)")
        }
        let events = try view.reader.records(at: first, count: count, stride: eventSize)
        let range = EventStream.timestampRange
        try columns.append(upTo: count) { sink in
            for i in 0..<events.count {
                let t = Int64(bitPattern: events.le64(i, at: 0))
                let x = Int(Int16(bitPattern: events.le16(i, at: 8)))
                let y = Int(Int16(bitPattern: events.le16(i, at: 10)))
                if x < 0 || y < 0 || x >= bounds.width || y >= bounds.height {
                    throw EventDataError(
                        .coordinateOutOfRange, file: file, byteOffset: fileOffset, packet: index,
                        message: "event \(i) of the packet at (\(x), \(y)) is outside \(bounds.name)")
                }
                if !range.contains(t) {
                    throw EventDataError(
                        .timestampOutOfRange, file: file, byteOffset: fileOffset, packet: index,
                        message: "event \(i) of the packet has timestamp \(t) µs, outside ±2^62 µs")
                }
                sink.t[i] = t
                sink.x[i] = UInt16(truncatingIfNeeded: x)
                sink.y[i] = UInt16(truncatingIfNeeded: y)
                sink.p[i] = events.u8(i, at: 12) != 0 ? 1 : 0
            }
            return events.count
        }
    }
}
