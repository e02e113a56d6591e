/// How DVS128 address bits map to image coordinates and polarity (AEDAT 1.0/2.0).
///
/// The raw fields are `rawX = (addr >> 1) & 0x7F`, `rawY = (addr >> 8) & 0x7F`, `rawPol = addr & 1`.
/// Tools disagree on what they mean; see `docs/events.md`.
public enum DVS128Orientation: String, CaseIterable, Hashable, Sendable, Codable {
    /// SpikingJelly's CIFAR10-DVS decoder (the basis of the Spikformer numbers):
    /// `x = 127 − rawY`, `y = 127 − rawX`, `p = 1 − rawPol`.
    case spikingjelly
    /// jAER's `DVS128.Extractor`: `x = 127 − rawX`, `y = rawY` (origin bottom-left), `p = 1 − rawPol`
    /// ("the ON events have raw polarity 0").
    case jaer
    /// The bit fields as stored: `x = rawX`, `y = rawY`, `p = rawPol`.
    case raw
}

/// Reads AEDAT 2.0 files written by jAER for the DVS128 (CIFAR10-DVS).
///
/// Layout: `#!AER-DAT2.0\r\n`, optional `#` comment lines (there is no end marker: the header ends at
/// the first line that does not start with `#`), then 8-byte records of big-endian `u32 address` and
/// `u32 timestamp` (µs). Timestamps are used as stored (no wrap handling), as SpikingJelly does.
public enum AEDAT2Reader {
    public struct Options: Hashable, Sendable {
        public var orientation: DVS128Orientation
        /// Drop jAER special events (bit 31) and external sync events (bit 15). Default false: SpikingJelly
        /// keeps every record.
        public var dropSpecialEvents: Bool
        public var limits: ReaderLimits

        public init(
            orientation: DVS128Orientation = .spikingjelly, dropSpecialEvents: Bool = false, limits: ReaderLimits = .default
        ) {
            self.orientation = orientation
            self.dropSpecialEvents = dropSpecialEvents
            self.limits = limits
        }
    }

    /// Reads and decodes the file at `path`.
    public static func read(path: String, options: Options = Options()) throws -> EventStream {
        let file = try MappedFile(path: path)
        return try file.withBytes { try decode($0, file: path, options: options) }
    }

    /// Byte offset of the first record: the first line that does not start with `#` (the header is at
    /// most ``ReaderLimits/maxHeaderBytes``).
    public static func dataOffset(_ bytes: UnsafeRawBufferPointer, file: String, limits: ReaderLimits = .default) throws
        -> Int
    {
        try AEDAT31Reader.checkVersion(bytes, file: file, expected: "2.0")
        var position = 0
        var line = 0
        let headerEnd = min(bytes.count, limits.maxHeaderBytes)
        while position < bytes.count, bytes[position] == UInt8(ascii: "#") {
            line += 1
            guard let end = bytes.endOfLine(from: position, limit: headerEnd) else {
                if headerEnd < bytes.count {
                    throw EventDataError(
                        .limitExceeded, file: file, byteOffset: position, line: line,
                        message: "`#` header lines run past \(limits.maxHeaderBytes) bytes")
                }
                throw EventDataError(
                    .truncated, file: file, byteOffset: position, line: line,
                    message: "header line has no end (file truncated inside the header)")
            }
            position = end
        }
        return position
    }

    /// Decodes a whole file already in memory.
    public static func decode(_ bytes: UnsafeRawBufferPointer, file: String, options: Options = Options()) throws
        -> EventStream
    {
        let start = try dataOffset(bytes, file: file, limits: options.limits)
        let body = bytes.count - start
        guard body % 8 == 0 else {
            throw EventDataError(
                .truncated, file: file, byteOffset: bytes.count - body % 8,
                message: "\(body) bytes of events is not a whole number of 8-byte records (\(body % 8) bytes left over)")
        }
        let count = body / 8
        let drop = options.dropSpecialEvents
        let orientation = options.orientation
        let records = try ByteReader(bytes, file: file).records(at: start, count: count, stride: 8)
        return EventStream.build(capacity: count, sensor: .dvs128) { sink in
            var k = 0
            for i in 0..<records.count {
                let address = records.be32(i, at: 0)
                let rawX = UInt16(truncatingIfNeeded: (address >> 1) & 0x7F)
                let rawY = UInt16(truncatingIfNeeded: (address >> 8) & 0x7F)
                let rawP = UInt8(truncatingIfNeeded: address & 1)
                switch orientation {
                case .spikingjelly:
                    sink.x[k] = 127 - rawY
                    sink.y[k] = 127 - rawX
                    sink.p[k] = 1 - rawP
                case .jaer:
                    sink.x[k] = 127 - rawX
                    sink.y[k] = rawY
                    sink.p[k] = 1 - rawP
                case .raw:
                    sink.x[k] = rawX
                    sink.y[k] = rawY
                    sink.p[k] = rawP
                }
                // A u32 of µs: always inside EventStream.timestampRange.
                sink.t[k] = Int64(records.be32(i, at: 4))
                k &+= drop && (address & 0x8000_8000) != 0 ? 0 : 1
            }
            return k
        }
    }
}
