/// Reads the ATIS `.bin` files of N-MNIST and N-Caltech101 (Orchard et al. 2015).
///
/// Each event is 5 bytes: x (byte 0), y (byte 1), polarity (bit 7 of byte 2) and a 23-bit big-endian
/// timestamp in µs (bits 6–0 of byte 2, bytes 3 and 4). There is no header. A record with `y == 240`
/// is a timestamp-overflow marker: it is dropped and every later timestamp gains
/// ``Options/overflowIncrement`` (2²³ µs by default, the true wrap of a 23-bit counter; the reference
/// MATLAB/Python code adds 2¹³, which never matters because recordings last about 0.3 s).
public enum ATISBinReader {
    public struct Options: Hashable, Sendable {
        /// Microseconds added to later events per overflow record.
        public var overflowIncrement: Int64
        /// The sensor; events outside it are an error. Nil infers it from the largest coordinates.
        public var sensor: SensorSize?

        public init(overflowIncrement: Int64 = 1 << 23, sensor: SensorSize? = nil) {
            self.overflowIncrement = overflowIncrement
            self.sensor = sensor
        }
    }

    /// The y value that marks an overflow record.
    static let overflowMarker: UInt8 = 240

    /// Reads and decodes the file at `path`.
    public static func read(path: String, options: Options = Options()) throws -> EventStream {
        let file = try MappedFile(path: path)
        return try file.withBytes { try decode($0, file: path, options: options) }
    }

    /// Decodes a whole file already in memory.
    public static func decode(_ bytes: UnsafeRawBufferPointer, file: String, options: Options = Options()) throws
        -> EventStream
    {
        guard bytes.count % 5 == 0 else {
            throw EventDataError(
                .truncated, file: file, byteOffset: bytes.count - bytes.count % 5,
                message: "\(bytes.count) bytes is not a whole number of 5-byte events (\(bytes.count % 5) left over)")
        }
        let records = bytes.count / 5
        let increment = options.overflowIncrement
        let reader = ByteReader(bytes, file: file)
        // Every overflow record moves later times by `increment`; the base must stay inside
        // EventStream.timestampRange, with room for the 23-bit timestamp added to it.
        let range = EventStream.timestampRange
        let baseRange = range.lowerBound...(range.upperBound - 0x7F_FFFF)
        var maxX: UInt16 = 0
        var maxY: UInt16 = 0
        var stream = try EventStream.build(capacity: records, sensor: options.sensor ?? SensorSize(width: 0, height: 0)) {
            sink in
            var k = 0
            var base: Int64 = 0
            var highX: UInt64 = 0
            var highY: UInt64 = 0
            // One big-endian 8-byte load per record (bytes 0–4 are the event); the last record, whose
            // 8 bytes would run past the end, goes through the same code on a padded copy.
            @inline(__always) func record(_ v: UInt64, at index: Int) throws {
                let y = (v >> 48) & 0xFF
                if y == UInt64(overflowMarker) {
                    let (next, overflow) = base.addingReportingOverflow(increment)
                    guard !overflow, baseRange.contains(next) else {
                        throw EventDataError(
                            .timestampOutOfRange, file: file, byteOffset: index * 5,
                            message: "overflow record \(index) moves timestamps past ±2^62 µs (increment \(increment) µs)")
                    }
                    base = next
                    return
                }
                let x = v >> 56
                sink.x[k] = UInt16(truncatingIfNeeded: x)
                sink.y[k] = UInt16(truncatingIfNeeded: y)
                sink.p[k] = UInt8(truncatingIfNeeded: (v >> 47) & 1)
                sink.t[k] = base + Int64((v >> 24) & 0x7F_FFFF)
                highX = max(highX, x)
                highY = max(highY, y)
                k &+= 1
            }
            let direct = try reader.records(at: 0, count: max(0, records - 1), stride: 5, window: 8)
            for i in 0..<direct.count {
                try record(direct.be64(i, at: 0), at: i)
            }
            if records > 0 {
                var tail: UInt64 = 0
                for j in 0..<5 { tail |= UInt64(try reader.u8((records - 1) * 5 + j)) << (56 - 8 * UInt64(j)) }
                try record(tail, at: records - 1)
            }
            maxX = UInt16(highX)
            maxY = UInt16(highY)
            return k
        }
        if let sensor = options.sensor {
            if Int(maxX) >= sensor.width || Int(maxY) >= sensor.height {
                for i in 0..<records {
                    let x = Int(try reader.u8(i * 5))
                    let y = Int(try reader.u8(i * 5 + 1))
                    if y != Int(overflowMarker), x >= sensor.width || y >= sensor.height {
                        throw EventDataError(
                            .coordinateOutOfRange, file: file, byteOffset: i * 5,
                            message: "event at (\(x), \(y)) is outside the \(sensor) sensor")
                    }
                }
            }
        } else {
            stream.sensor = stream.isEmpty ? SensorSize(width: 0, height: 0) : SensorSize(width: Int(maxX) + 1, height: Int(maxY) + 1)
        }
        return stream
    }
}
