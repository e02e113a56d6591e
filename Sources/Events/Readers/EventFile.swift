/// The event file formats this module reads.
public enum EventFileFormat: String, CaseIterable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// jAER AEDAT 2.0, DVS128 addresses (CIFAR10-DVS).
    case aedat2 = "aedat2"
    /// libcaer AEDAT 3.1 (DVS128 Gesture).
    case aedat31 = "aedat3.1"
    /// DV AEDAT 4.0 (own recordings).
    case aedat4 = "aedat4"
    /// ATIS 5-byte events (N-MNIST, N-Caltech101).
    case atisBin = "bin"

    public var description: String {
        switch self {
        case .aedat2: "AEDAT 2.0"
        case .aedat31: "AEDAT 3.1"
        case .aedat4: "AEDAT 4.0"
        case .atisBin: "ATIS .bin"
        }
    }

    /// Identifies a file by its first line (`#!AER-DAT<version>`), or by its `.bin` extension (the ATIS
    /// format has no header).
    ///
    /// - Throws: `.unsupportedVersion` for other AEDAT versions, `.badMagic` for anything else.
    public static func detect(_ bytes: UnsafeRawBufferPointer, path: String) throws -> EventFileFormat {
        if bytes.hasBytes(Array("#!AER-DAT".utf8)) {
            if bytes.hasBytes(Array("#!AER-DAT2.0".utf8)) { return .aedat2 }
            if bytes.hasBytes(Array("#!AER-DAT3.1".utf8)) { return .aedat31 }
            if bytes.hasBytes(Array("#!AER-DAT4.0".utf8)) { return .aedat4 }
            let end = bytes.endOfLine(from: 0, limit: 40) ?? min(bytes.count, 16)
            throw EventDataError(
                .unsupportedVersion, file: path, byteOffset: 9,
                message: "`\(bytes.lineText(0, end))`: only AEDAT 2.0, 3.1 and 4.0 are supported")
        }
        if path.lowercased().hasSuffix(".bin") { return .atisBin }
        throw EventDataError(
            .badMagic, file: path, byteOffset: 0,
            message: "not an event file: no #!AER-DAT line and not a .bin ATIS file")
    }
}

/// Reading any supported event file.
public enum EventFile {
    /// Options for every reader; each reader uses the ones that apply to it.
    public struct Options: Hashable, Sendable {
        /// The sensor; events outside it are an error. Nil infers it (from the header, or the largest
        /// coordinates).
        public var sensor: SensorSize?
        /// AEDAT 2.0 address mapping.
        public var orientation: DVS128Orientation
        /// AEDAT 3.1: drop events whose valid bit is clear.
        public var skipInvalidEvents: Bool
        /// ATIS .bin: µs added per overflow record.
        public var overflowIncrement: Int64
        /// Caps on what a file may make the reader allocate.
        public var limits: ReaderLimits

        public init(
            sensor: SensorSize? = nil, orientation: DVS128Orientation = .spikingjelly, skipInvalidEvents: Bool = false,
            overflowIncrement: Int64 = 1 << 23, limits: ReaderLimits = .default
        ) {
            self.sensor = sensor
            self.orientation = orientation
            self.skipInvalidEvents = skipInvalidEvents
            self.overflowIncrement = overflowIncrement
            self.limits = limits
        }
    }

    /// Reads the file at `path`, detecting its format unless `format` is given.
    public static func read(path: String, format: EventFileFormat? = nil, options: Options = Options()) throws -> EventStream {
        let file = try MappedFile(path: path)
        return try file.withBytes { bytes in
            try decode(bytes, path: path, format: format ?? EventFileFormat.detect(bytes, path: path), options: options)
        }
    }

    /// Decodes bytes already in memory.
    public static func decode(
        _ bytes: UnsafeRawBufferPointer, path: String, format: EventFileFormat, options: Options = Options()
    ) throws -> EventStream {
        switch format {
        case .aedat2:
            var stream = try AEDAT2Reader.decode(
                bytes, file: path, options: AEDAT2Reader.Options(orientation: options.orientation, limits: options.limits))
            if let sensor = options.sensor, sensor != .dvs128 {
                let start = try AEDAT2Reader.dataOffset(bytes, file: path, limits: options.limits)
                try checkInside(stream, sensor: sensor, path: path, offset: { start + 8 * $0 })
                stream.sensor = sensor
            }
            return stream
        case .aedat31:
            return try AEDAT31Reader.decode(
                bytes, file: path,
                options: AEDAT31Reader.Options(
                    skipInvalidEvents: options.skipInvalidEvents, sensor: options.sensor, limits: options.limits))
        case .aedat4:
            return try AEDAT4Reader.decode(
                bytes, file: path, options: AEDAT4Reader.Options(sensor: options.sensor, limits: options.limits))
        case .atisBin:
            return try ATISBinReader.decode(
                bytes, file: path,
                options: ATISBinReader.Options(overflowIncrement: options.overflowIncrement, sensor: options.sensor))
        }
    }

    /// Throws `.coordinateOutOfRange` for the first event outside `sensor` (readers whose format cannot
    /// report a byte offset per event name the event index instead).
    static func checkInside(
        _ stream: EventStream, sensor: SensorSize, path: String, offset: (Int) -> Int? = { _ in nil }
    ) throws {
        guard let maxima = stream.maxCoordinates, maxima.x >= sensor.width || maxima.y >= sensor.height else { return }
        for i in 0..<stream.count where Int(stream.x[i]) >= sensor.width || Int(stream.y[i]) >= sensor.height {
            throw EventDataError(
                .coordinateOutOfRange, file: path, byteOffset: offset(i),
                message: "event \(i) at (\(stream.x[i]), \(stream.y[i])) is outside the \(sensor) sensor")
        }
    }
}
