/// A problem with an event file or a dataset's files: names the file and, where it applies, the byte
/// offset (or the line) and the packet.
///
/// Callers match on ``code``: `catch let error as EventDataError where error.code == .truncated`.
public struct EventDataError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String, Hashable, Sendable {
            case unreadable, truncated, badMagic, unsupportedVersion, malformed, coordinateOutOfRange
            case timestampOutOfRange, limitExceeded
            case badLabels, missingFile, unsupportedCompression, emptyDataset, badCache
        }
        private let wrapped: Wrapped

        /// The file or directory cannot be opened or read.
        public static let unreadable = Code(wrapped: .unreadable)
        /// The file ends inside a header, packet or event.
        public static let truncated = Code(wrapped: .truncated)
        /// The file does not start with the expected magic line.
        public static let badMagic = Code(wrapped: .badMagic)
        /// The file is a version of the format this reader does not decode.
        public static let unsupportedVersion = Code(wrapped: .unsupportedVersion)
        /// A header or packet field has an impossible value.
        public static let malformed = Code(wrapped: .malformed)
        /// An event lies outside the sensor (or beyond ``ReaderLimits/maxSensorSide`` when the sensor is inferred).
        public static let coordinateOutOfRange = Code(wrapped: .coordinateOutOfRange)
        /// An event's timestamp lies outside ``EventStream/timestampRange`` (±2⁶² µs), so differences
        /// of timestamps could not be computed.
        public static let timestampOutOfRange = Code(wrapped: .timestampOutOfRange)
        /// The file needs more than a ``ReaderLimits`` cap allows (decompressed bytes per packet or per
        /// file, header size, XML depth): a decompression bomb, or a real recording larger than the caps,
        /// which the caller may raise.
        public static let limitExceeded = Code(wrapped: .limitExceeded)
        /// A labels CSV or trials list does not parse.
        public static let badLabels = Code(wrapped: .badLabels)
        /// A file or directory the dataset needs is missing (the root, a labels CSV, a trials list).
        public static let missingFile = Code(wrapped: .missingFile)
        /// AEDAT 4 compressed with zstd, which this build cannot decode.
        public static let unsupportedCompression = Code(wrapped: .unsupportedCompression)
        /// A dataset (or one of its splits) has no usable samples.
        public static let emptyDataset = Code(wrapped: .emptyDataset)
        /// A frame cache file is damaged or was written by another version.
        public static let badCache = Code(wrapped: .badCache)

        public var description: String { wrapped.rawValue }
    }

    public var code: Code
    /// The file (or directory) the problem is in.
    public var file: String
    /// Byte offset of the problem inside `file`, where it applies (for a problem inside a packet: the
    /// packet's offset).
    public var byteOffset: Int?
    /// 1-based line number inside `file`, for text files.
    public var line: Int?
    /// 0-based index of the packet the problem is in (AEDAT 3.1 and 4.0), counting every packet of
    /// the file in file order.
    public var packet: Int?
    public var message: String

    public init(
        _ code: Code, file: String, byteOffset: Int? = nil, line: Int? = nil, packet: Int? = nil, message: String
    ) {
        self.code = code
        self.file = file
        self.byteOffset = byteOffset
        self.line = line
        self.packet = packet
        self.message = message
    }

    public var description: String {
        var location = file
        if let line { location += ":\(line)" }
        if let byteOffset { location += " at byte \(byteOffset)" }
        if let packet { location += " (packet \(packet))" }
        return "\(location): \(message)"
    }
}
