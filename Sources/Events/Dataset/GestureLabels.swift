/// One row of a DVS128 Gesture `*_labels.csv`: a labelled time window of a recording.
public struct GestureSegment: Hashable, Sendable {
    /// 0-based class (the CSV's `class` minus 1).
    public var label: Int
    /// Window `start <= t < end` in µs, as SpikingJelly cuts it.
    public var start: Int64
    public var end: Int64
    /// 1-based line in the CSV.
    public var line: Int

    public init(label: Int, start: Int64, end: Int64, line: Int) {
        self.label = label
        self.start = start
        self.end = end
        self.line = line
    }
}

/// DVS128 Gesture's labels CSVs and trials lists.
public enum GestureLabels {
    /// The 11 classes in CSV order (class 1 … 11), as Tonic names them.
    public static let classNames = [
        "hand_clapping", "right_hand_wave", "left_hand_wave", "right_arm_clockwise", "right_arm_counter_clockwise",
        "left_arm_clockwise", "left_arm_counter_clockwise", "arm_roll", "air_drums", "air_guitar", "other_gestures",
    ]

    /// Parses `class,startTime_usec,endTime_usec` rows.
    ///
    /// The first line is a header when it is not numeric (SpikingJelly always skips one row; the real
    /// files all have the header). Blank lines are ignored; fields may be padded with spaces. Rows may
    /// overlap and a class may repeat: each row is cut independently.
    ///
    /// - Throws: `.badLabels` naming the line for a row that is not three non-negative integers, a
    ///   class outside 1…`classCount`, or `end <= start`.
    public static func parse(_ text: String, file: String, classCount: Int = 11) throws -> [GestureSegment] {
        var segments: [GestureSegment] = []
        for (offset, rawLine) in lines(text).enumerated() {
            let line = offset + 1
            let content = String(rawLine).trimmingSpaces()
            if content.isEmpty { continue }
            let fields = content.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingSpaces() }
            let numbers = fields.map { Int64($0) }
            if line == 1, numbers.contains(where: { $0 == nil }) { continue }
            guard fields.count == 3, let label = numbers[0], let start = numbers[1], let end = numbers[2] else {
                throw EventDataError(
                    .badLabels, file: file, line: line,
                    message: "expected `class,startTime_usec,endTime_usec` integers, found `\(content)`")
            }
            guard label >= 1, label <= Int64(classCount) else {
                throw EventDataError(.badLabels, file: file, line: line, message: "class \(label) is not in 1…\(classCount)")
            }
            guard start >= 0, end > start else {
                throw EventDataError(.badLabels, file: file, line: line, message: "window \(start)…\(end) is empty or negative")
            }
            segments.append(GestureSegment(label: Int(label) - 1, start: start, end: end, line: line))
        }
        return segments
    }

    /// Reads and parses a labels CSV.
    public static func read(path: String, classCount: Int = 11) throws -> [GestureSegment] {
        try parse(readText(path), file: path, classCount: classCount)
    }

    /// The recordings listed in `trials_to_train.txt` / `trials_to_test.txt` (one file name per line;
    /// blank lines ignored).
    ///
    /// - Throws: `.missingFile` if the list is absent; `.badLabels` naming the line for a name that is
    ///   not an `.aedat` file or contains a path separator.
    public static func trials(path: String) throws -> [String] {
        var names: [String] = []
        for (offset, rawLine) in lines(try readText(path)).enumerated() {
            let name = String(rawLine).trimmingSpaces()
            if name.isEmpty { continue }
            guard name.hasSuffix(".aedat"), !name.contains("/"), !name.contains("\\") else {
                throw EventDataError(.badLabels, file: path, line: offset + 1, message: "`\(name)` is not an .aedat file name")
            }
            names.append(name)
        }
        return names
    }

    /// The labels CSV that belongs to a recording: `user01_fluorescent.aedat` → `user01_fluorescent_labels.csv`.
    public static func labelsName(for recording: String) -> String {
        String(recording.dropLast(".aedat".count)) + "_labels.csv"
    }

    /// Cuts one sample per segment, in segment order.
    public static func cut(_ stream: EventStream, by segments: [GestureSegment]) -> [EventStream] {
        segments.map { stream.window(from: $0.start, to: $0.end) }
    }

    /// Lines of `text`; `\r\n` is one Character in Swift, so both endings are separators here.
    static func lines(_ text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
    }

    static func readText(_ path: String) throws -> String {
        let file = try MappedFile(path: path)
        return file.withBytes { String(decoding: $0, as: UTF8.self) }
    }
}
