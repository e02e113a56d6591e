/// Reads AEDAT 3.1 files (iniVation/libcaer; DVS128 Gesture).
///
/// Layout: a text header whose lines start with `#` (first `#!AER-DAT3.1`, last `#!END-HEADER`), then
/// packets. Each packet is a 28-byte little-endian header (`eventType` i16, `eventSource` i16,
/// `eventSize` i32, `eventTSOffset` i32, `eventTSOverflow` i32, `eventCapacity` i32, `eventNumber` i32,
/// `eventValid` i32) followed by `eventCapacity × eventSize` bytes. Polarity packets (type 1) hold
/// 8-byte events: `u32 data` (x = bits 31–17, y = bits 16–2, polarity = bit 1, valid = bit 0) and an
/// `i32` timestamp; the full time is `ts | eventTSOverflow << 31`. Other packet types are skipped.
///
/// Like SpikingJelly's `load_aedat_v3`, coordinates are used as stored (no flip) and invalid events are
/// kept unless ``Options/skipInvalidEvents`` is set. Unlike it, only the `eventNumber` occupied slots
/// are decoded (SpikingJelly decodes all `eventCapacity` slots; DVS Gesture packets are full, so the
/// two agree there).
public enum AEDAT31Reader {
    public struct Options: Hashable, Sendable {
        /// Drop events whose valid mark (bit 0) is clear; libcaer's semantics. Default false (SpikingJelly).
        public var skipInvalidEvents: Bool
        /// The sensor; events outside it are an error. Nil infers it from the `#Source` line, or
        /// failing that from the largest coordinates (at most ``ReaderLimits/maxSensorSide``).
        public var sensor: SensorSize?
        public var limits: ReaderLimits

        public init(skipInvalidEvents: Bool = false, sensor: SensorSize? = nil, limits: ReaderLimits = .default) {
            self.skipInvalidEvents = skipInvalidEvents
            self.sensor = sensor
            self.limits = limits
        }
    }

    static let magic = Array("#!AER-DAT3.1".utf8)
    static let packetHeaderSize = 28
    static let polarityType: Int16 = 1

    /// Reads and decodes the file at `path`.
    public static func read(path: String, options: Options = Options()) throws -> EventStream {
        let file = try MappedFile(path: path)
        return try file.withBytes { try decode($0, file: path, options: options) }
    }

    /// What the text header says.
    public struct Header: Hashable, Sendable {
        /// Byte offset of the first packet.
        public var dataOffset: Int
        /// The `#Source <id>: <name>` names, e.g. `DVS128`.
        public var sources: [String]
        public var lines: [String]
    }

    /// Parses the text header (at most ``ReaderLimits/maxHeaderBytes``).
    public static func header(_ bytes: UnsafeRawBufferPointer, file: String, limits: ReaderLimits = .default) throws
        -> Header
    {
        try checkVersion(bytes, file: file, expected: "3.1")
        var position = 0
        var lines: [String] = []
        var sources: [String] = []
        var lineNumber = 0
        let headerEnd = min(bytes.count, limits.maxHeaderBytes)
        while true {
            lineNumber += 1
            guard position < bytes.count, bytes[position] == UInt8(ascii: "#") else {
                throw EventDataError(
                    .truncated, file: file, byteOffset: position, line: lineNumber,
                    message: "header ends without #!END-HEADER")
            }
            guard let end = bytes.endOfLine(from: position, limit: headerEnd) else {
                if headerEnd < bytes.count {
                    throw EventDataError(
                        .limitExceeded, file: file, byteOffset: position, line: lineNumber,
                        message: "text header runs past \(limits.maxHeaderBytes) bytes without #!END-HEADER")
                }
                throw EventDataError(
                    .truncated, file: file, byteOffset: position, line: lineNumber,
                    message: "header line has no end (file truncated inside the header)")
            }
            let text = bytes.lineText(position, end)
            lines.append(text)
            position = end
            if text == "#!END-HEADER" { break }
            if text.hasPrefix("#Source ") || text.hasPrefix("#-Source ") {
                if let colon = text.firstIndex(of: ":") {
                    sources.append(String(text[text.index(after: colon)...]).trimmingSpaces())
                }
            }
        }
        return Header(dataOffset: position, sources: sources, lines: lines)
    }

    /// Decodes a whole file already in memory.
    public static func decode(_ bytes: UnsafeRawBufferPointer, file: String, options: Options = Options()) throws
        -> EventStream
    {
        let header = try header(bytes, file: file, limits: options.limits)
        let sensor = options.sensor ?? header.sources.lazy.compactMap(SensorSize.init(sourceName:)).first
        let packets = try polarityPackets(bytes, from: header.dataOffset, file: file)
        let total = packets.reduce(0) { $0 + $1.number }
        let skipInvalid = options.skipInvalidEvents
        let limitX = UInt32(clamping: sensor?.width ?? options.limits.maxSensorSide)
        let limitY = UInt32(clamping: sensor?.height ?? options.limits.maxSensorSide)
        let reader = ByteReader(bytes, file: file)
        var maxX = 0
        var maxY = 0
        var stream = try EventStream.build(capacity: total, sensor: sensor ?? SensorSize(width: 0, height: 0)) { sink in
            var written = 0
            for packet in packets {
                let high = packet.overflow << 31
                var packetMaxX: UInt32 = 0
                var packetMaxY: UInt32 = 0
                var k = written
                let events = try reader.records(at: packet.payload, count: packet.number, stride: 8)
                for i in 0..<events.count {
                    let data = events.le32(i, at: 0)
                    let stamp = events.le32(i, at: 4)
                    let x = (data >> 17) & 0x7FFF
                    let y = (data >> 2) & 0x7FFF
                    sink.x[k] = UInt16(truncatingIfNeeded: x)
                    sink.y[k] = UInt16(truncatingIfNeeded: y)
                    sink.p[k] = UInt8(truncatingIfNeeded: (data >> 1) & 1)
                    // overflow < 2³¹ and stamp < 2³², so t < 2⁶²: inside EventStream.timestampRange.
                    sink.t[k] = Int64(stamp) | high
                    packetMaxX = max(packetMaxX, x)
                    packetMaxY = max(packetMaxY, y)
                    k &+= skipInvalid ? Int(data & 1) : 1
                }
                if packetMaxX >= limitX || packetMaxY >= limitY {
                    for i in 0..<events.count {
                        let data = events.le32(i, at: 0)
                        let x = (data >> 17) & 0x7FFF
                        let y = (data >> 2) & 0x7FFF
                        if x >= limitX || y >= limitY {
                            let outside = sensor.map { "the \($0) sensor" } ?? "the largest supported sensor (\(options.limits.maxSensorSide) per side)"
                            throw EventDataError(
                                .coordinateOutOfRange, file: file, byteOffset: packet.payload + i * 8, packet: packet.index,
                                message: "event at (\(x), \(y)) is outside \(outside)")
                        }
                    }
                }
                maxX = max(maxX, Int(packetMaxX))
                maxY = max(maxY, Int(packetMaxY))
                written = k
            }
            return written
        }
        if sensor == nil {
            stream.sensor = stream.isEmpty ? SensorSize(width: 0, height: 0) : SensorSize(width: maxX + 1, height: maxY + 1)
        }
        return stream
    }

    /// A validated polarity packet: where its events start, how many there are, its overflow counter.
    struct PolarityPacket {
        var index: Int
        var payload: Int
        var number: Int
        var overflow: Int64
    }

    /// Validates every packet header and returns the polarity packets that hold events.
    ///
    /// Every size comes from the file, so each is checked before it is used: counts non-negative,
    /// `eventNumber ≤ eventCapacity`, `eventCapacity × eventSize` computed without overflow and inside
    /// the file, a non-negative overflow counter. The events found are therefore at most a file's
    /// size / 8, which bounds what the caller allocates.
    static func polarityPackets(_ bytes: UnsafeRawBufferPointer, from start: Int, file: String) throws -> [PolarityPacket] {
        let reader = ByteReader(bytes, file: file)
        var position = start
        var packets: [PolarityPacket] = []
        var index = 0
        while position < bytes.count {
            guard reader.contains(position, packetHeaderSize) else {
                throw EventDataError(
                    .truncated, file: file, byteOffset: position, packet: index,
                    message: "file ends inside a packet header (\(bytes.count - position) of 28 bytes)")
            }
            let type = Int16(bitPattern: try reader.le16(position))
            let size = Int(Int32(bitPattern: try reader.le32(position + 4)))
            let tsOffset = Int(Int32(bitPattern: try reader.le32(position + 8)))
            let overflow = Int64(Int32(bitPattern: try reader.le32(position + 12)))
            let capacity = Int(Int32(bitPattern: try reader.le32(position + 16)))
            let number = Int(Int32(bitPattern: try reader.le32(position + 20)))
            guard size >= 0, capacity >= 0, number >= 0, number <= capacity else {
                throw EventDataError(
                    .malformed, file: file, byteOffset: position, packet: index,
                    message: "packet header has eventSize \(size), eventCapacity \(capacity), eventNumber \(number)")
            }
            let payload = position + packetHeaderSize
            guard let length = ByteReader.product(capacity, size), reader.contains(payload, length) else {
                throw EventDataError(
                    .truncated, file: file, byteOffset: position, packet: index,
                    message: "packet of \(capacity) × \(size) bytes runs past the end of the file (\(bytes.count) bytes)")
            }
            if type == polarityType {
                guard size == 8, tsOffset == 4 else {
                    throw EventDataError(
                        .malformed, file: file, byteOffset: position, packet: index,
                        message: "polarity packet with eventSize \(size) and eventTSOffset \(tsOffset) (expected 8 and 4)")
                }
                guard overflow >= 0 else {
                    throw EventDataError(
                        .malformed, file: file, byteOffset: position, packet: index,
                        message: "polarity packet with a negative eventTSOverflow \(overflow)")
                }
                if number > 0 { packets.append(PolarityPacket(index: index, payload: payload, number: number, overflow: overflow)) }
            }
            position = payload + length
            index += 1
        }
        return packets
    }

    /// Throws `.badMagic` or `.unsupportedVersion` unless the file starts with `#!AER-DAT<expected>`.
    static func checkVersion(_ bytes: UnsafeRawBufferPointer, file: String, expected: String) throws {
        let family = Array("#!AER-DAT".utf8)
        guard bytes.hasBytes(family) else {
            throw EventDataError(.badMagic, file: file, byteOffset: 0, message: "not an AEDAT file (no #!AER-DAT line)")
        }
        guard bytes.hasBytes(family + Array(expected.utf8)) else {
            let end = bytes.endOfLine(from: 0, limit: 40) ?? min(bytes.count, 20)
            let found = bytes.lineText(0, min(end, 40))
            throw EventDataError(
                .unsupportedVersion, file: file, byteOffset: family.count,
                message: "`\(found)` is not AEDAT \(expected)")
        }
    }
}

extension SensorSize {
    /// The sensor of a known libcaer / DV source name (`DVS128`, `DAVIS240C`, `DAVIS346`, `DVXplorer`).
    init?(sourceName: String) {
        let name = sourceName.uppercased()
        if name.hasPrefix("DVS128") {
            self = .dvs128
        } else if name.hasPrefix("DAVIS240") || name.hasPrefix("DAVIS 240") {
            self.init(width: 240, height: 180)
        } else if name.hasPrefix("DAVIS346") || name.hasPrefix("DAVIS 346") {
            self.init(width: 346, height: 260)
        } else if name.hasPrefix("DVXPLORER") {
            self.init(width: 640, height: 480)
        } else {
            return nil
        }
    }
}

extension String {
    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" || last == "\r" { scalars.removeLast() }
        return String(scalars)
    }
}
