import Foundation

/// What `spikeq dataset inspect` prints about an event file.
public struct EventFileSummary: Codable, Hashable, Sendable {
    public var path: String
    public var format: String
    public var bytes: Int
    public var sensorWidth: Int
    public var sensorHeight: Int
    public var events: Int
    public var firstTimestamp: Int64?
    public var lastTimestamp: Int64?
    /// `lastTimestamp − firstTimestamp` (negative when the file is not sorted).
    public var durationMicroseconds: Int64
    public var onEvents: Int
    public var offEvents: Int
    /// ON events / all events.
    public var onFraction: Double
    /// Whether timestamps never decrease.
    public var timeSorted: Bool
    /// Header facts (AEDAT 3.1 `#Source` names, AEDAT 4 streams, compression).
    public var header: [String]
    /// For a DVS128 Gesture recording with a labels CSV beside it: its rows.
    public var labelledSegments: Int?
    public var firstEvents: [[Int64]]

    /// Decodes `path` (format detected from its first line or `.bin` extension) and summarises it.
    ///
    /// - Parameter orientation: AEDAT 2.0 address mapping.
    /// - Throws: ``EventDataError`` naming the file, the offset or packet and the problem; never traps,
    ///   whatever the file holds.
    public static func inspect(
        path: String, orientation: DVS128Orientation = .spikingjelly, firstCount: Int = 10, limits: ReaderLimits = .default
    ) throws -> EventFileSummary {
        let file = try MappedFile(path: path)
        return try file.withBytes {
            try inspect(bytes: $0, path: path, orientation: orientation, firstCount: firstCount, limits: limits)
        }
    }

    /// Summarises bytes already in memory as the file `path` (whose name picks `.bin` and the labels CSV).
    public static func inspect(
        bytes: UnsafeRawBufferPointer, path: String, orientation: DVS128Orientation = .spikingjelly, firstCount: Int = 10,
        limits: ReaderLimits = .default
    ) throws -> EventFileSummary {
        let format = try EventFileFormat.detect(bytes, path: path)
        let stream = try EventFile.decode(
            bytes, path: path, format: format, options: .init(orientation: orientation, limits: limits))
        var header: [String] = []
        switch format {
        case .aedat31:
            header = try AEDAT31Reader.header(bytes, file: path, limits: limits).lines
        case .aedat4:
            let parsed = try AEDAT4Reader.header(bytes, file: path, limits: limits)
            header = ["compression=\(parsed.compression)", "file_data_position=\(parsed.fileDataPosition)"]
                + parsed.streams.map { "stream \($0.id): \($0.typeIdentifier) \($0.sensor?.description ?? "") \($0.source ?? "")" }
        case .aedat2:
            let end = try AEDAT2Reader.dataOffset(bytes, file: path, limits: limits)
            header = bytes.lineText(0, end).split(separator: "\n").map { String($0).trimmingSpaces() }
            header.append("orientation=\(orientation.rawValue)")
        case .atisBin:
            break
        }
        var segments: Int?
        if format == .aedat31, path.hasSuffix(".aedat") {
            let labels = (path as NSString).deletingLastPathComponent + "/" + GestureLabels.labelsName(for: (path as NSString).lastPathComponent)
            if FileManager.default.fileExists(atPath: labels) { segments = try GestureLabels.read(path: labels).count }
        }
        let on = stream.onCount
        let span = stream.timeSpan
        var duration: Int64 = 0
        if let span {
            // Readers keep timestamps inside ±2⁶², so this cannot overflow; checked anyway, because
            // a trap here is what a crafted file would aim for.
            let (difference, overflow) = span.last.subtractingReportingOverflow(span.first)
            guard !overflow else {
                throw EventDataError(
                    .timestampOutOfRange, file: path,
                    message: "the span from \(span.first) to \(span.last) µs does not fit in 64 bits")
            }
            duration = difference
        }
        return EventFileSummary(
            path: path, format: format.description, bytes: bytes.count, sensorWidth: stream.sensor.width,
            sensorHeight: stream.sensor.height, events: stream.count, firstTimestamp: span?.first, lastTimestamp: span?.last,
            durationMicroseconds: duration, onEvents: on, offEvents: stream.count - on,
            onFraction: stream.isEmpty ? 0 : Double(on) / Double(stream.count), timeSorted: stream.isSorted, header: header,
            labelledSegments: segments,
            firstEvents: (0..<min(max(firstCount, 0), stream.count)).map {
                [Int64(stream.x[$0]), Int64(stream.y[$0]), stream.t[$0], Int64(stream.p[$0])]
            })
    }
}
