/// Caps that keep a crafted or corrupt event file from exhausting memory: each reader checks them
/// before it allocates, and a file that needs more fails with `.limitExceeded` (or, for a sensor,
/// `.malformed` / `.coordinateOutOfRange`) naming the cap.
///
/// The uncompressed formats need no byte caps: their events are bounded by the file's size (a
/// decoded event takes 13 bytes, an AEDAT 3.1 one 8 on disk, an ATIS one 5). AEDAT 4's LZ4 packets are
/// not: one LZ4 byte can stand for 255 output bytes, so a 4 MB file may decompress to a gigabyte.
///
/// The defaults sit far above anything a real sensor writes:
/// - sensor side 4096: the largest event sensors are 1280 pixels wide (Sony/Prophesee IMX636
///   1280×720, Samsung DVS Gen4 1280×960); a 4096×4096 sensor's integration lookup table is 64 MiB.
/// - 64 MiB per AEDAT 4 packet (4 Mi events): DV writes a packet per few milliseconds; even a
///   DVXplorer at its 165 M events/s saturation fills only 25 ms into one packet this size.
/// - 1 GiB of event packets per AEDAT 4 file (64 Mi events, about 0.9 GB decoded): a minute of a busy
///   scene at 1 M events/s; raise it (`reader_limits.max_file_mib` in a dataset config) for longer
///   recordings, which every worker must then hold in memory while it cuts them.
/// - 1 MiB of text header or XML description, nesting 32 deep: DV's description is a few KB, 5 deep;
///   jAER and libcaer headers are a few hundred bytes.
public struct ReaderLimits: Hashable, Sendable, Codable {
    /// Largest sensor width or height, declared by a header or inferred from coordinates.
    public var maxSensorSide: Int
    /// Most bytes one AEDAT 4 event packet may decompress to.
    public var maxPacketBytes: Int
    /// Most bytes all AEDAT 4 event packets of one file may decompress to together.
    public var maxFileBytes: Int
    /// Longest text header (AEDAT 2.0 / 3.1 `#` lines) or AEDAT 4 XML description.
    public var maxHeaderBytes: Int
    /// Deepest element nesting in an AEDAT 4 XML description.
    public var maxXMLDepth: Int

    public init(
        maxSensorSide: Int = 4096, maxPacketBytes: Int = 64 << 20, maxFileBytes: Int = 1 << 30,
        maxHeaderBytes: Int = 1 << 20, maxXMLDepth: Int = 32
    ) {
        self.maxSensorSide = maxSensorSide
        self.maxPacketBytes = maxPacketBytes
        self.maxFileBytes = maxFileBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxXMLDepth = maxXMLDepth
    }

    public static let `default` = ReaderLimits()

    /// Whether `sensor` is a size a reader may report: both sides in `1…maxSensorSide`.
    public func accepts(_ sensor: SensorSize) -> Bool {
        accepts(side: sensor.width) && accepts(side: sensor.height)
    }

    /// Whether one sensor side is in `1…maxSensorSide`.
    public func accepts(side: Int) -> Bool {
        side >= 1 && side <= maxSensorSide
    }
}

extension EventStream {
    /// Timestamps (µs) every reader accepts: |t| < 2⁶² µs, about 146,000 years either side of the
    /// epoch, so the difference of any two accepted timestamps fits in an `Int64` (durations, frame
    /// windows). Real files use Unix-epoch µs (AEDAT 4, about 2⁵⁰ today) or µs since the recording
    /// started (the others); an event outside is `.timestampOutOfRange`.
    public static let timestampRange: ClosedRange<Int64> = -(1 << 62)...((1 << 62) - 1)
}
