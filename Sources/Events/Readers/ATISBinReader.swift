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
        var maxX: UInt16 = 0
        var maxY: UInt16 = 0
        var stream = EventStream.build(capacity: records, sensor: options.sensor ?? SensorSize(width: 0, height: 0)) {
            sink in
            var k = 0
            var base: Int64 = 0
            for i in 0..<records {
                let offset = i &* 5
                let y = bytes[offset + 1]
                if y == overflowMarker {
                    base += increment
                    continue
                }
                let x = UInt16(bytes[offset])
                let b2 = bytes[offset + 2]
                let stamp = (Int64(b2 & 0x7F) << 16) | (Int64(bytes[offset + 3]) << 8) | Int64(bytes[offset + 4])
                sink.x[k] = x
                sink.y[k] = UInt16(y)
                sink.p[k] = b2 >> 7
                sink.t[k] = base + stamp
                maxX = max(maxX, x)
                maxY = max(maxY, UInt16(y))
                k &+= 1
            }
            return k
        }
        if let sensor = options.sensor {
            if Int(maxX) >= sensor.width || Int(maxY) >= sensor.height {
                for i in 0..<records {
                    let x = Int(bytes[i * 5])
                    let y = Int(bytes[i * 5 + 1])
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
