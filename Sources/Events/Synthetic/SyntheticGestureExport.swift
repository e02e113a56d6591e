import Foundation
import Seeding

/// Writes the synthetic gesture set in DVS128 Gesture's own layout, so the real reader path
/// (AEDAT 3.1 + labels CSV + trials lists) can be exercised end to end:
///
///     DIR/user0001_synthetic.aedat          one "recording" = one sample of each class, shuffled, 200 ms apart
///     DIR/user0001_synthetic_labels.csv     class,startTime_usec,endTime_usec (class 1…11)
///     DIR/trials_to_train.txt               train + validation recordings
///     DIR/trials_to_test.txt                test recordings
///     DIR/gesture_mapping.csv               action,label
///
/// Each sample is exactly the one ``SyntheticGestureGenerator`` produces for the same settings, split
/// and index, shifted in time, so cutting a recording by its CSV gives back the generated samples.
public enum SyntheticGestureExport {
    public struct Summary: Sendable, Codable {
        public var trainRecordings: Int
        public var testRecordings: Int
        public var samples: Int
        public var events: Int
    }

    /// Gap between gestures inside a recording.
    static let gapMicroseconds: Int64 = 200_000
    static let firstStart: Int64 = 1_000_000

    /// Writes the set described by `settings` into `directory` (created if needed).
    public static func write(
        settings: SyntheticGestureSettings, to directory: String, threads: Int = 0,
        progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws -> Summary {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw EventDataError(.unreadable, file: directory, message: "cannot create: \(error.localizedDescription)")
        }
        let classes = SyntheticGestureClass.allCases.count
        // (split, recording number within split) for every recording; train then validation then test.
        var recordings: [(split: DatasetSplit, index: Int)] = []
        for split in DatasetSplit.allCases {
            for r in 0..<settings.count(of: split) { recordings.append((split, r)) }
        }
        let generator = SyntheticGestureGenerator(settings: settings)
        let step = Int64(settings.timeStepMicroseconds)
        let clip = (Int64(settings.durationMilliseconds) * 1000 + step - 1) / step * step + 1
        let counter = ProgressCounter(total: recordings.count, report: progress)
        let names = recordings.enumerated().map { String(format: "user%04d_synthetic", $0.offset + 1) }
        let plan = recordings
        let results: [Result<Int, EventDataError>] = Parallel.map(recordings.count, threads: threads) { k in
            defer { counter.advance() }
            let (split, r) = plan[k]
            var order = Array(0..<classes)
            var rng = SeededGenerator(seed: settings.seed, stream: "synthetic-gestures/export/\(split.rawValue)/\(r)")
            order.shuffle(using: &rng)
            var columns = EventColumns(capacity: 1 << 18)
            var csv = "class,startTime_usec,endTime_usec\n"
            var start = firstStart
            for gesture in order {
                let sample = generator.sample(split: split, index: r * classes + gesture, gesture: SyntheticGestureClass(rawValue: gesture)!)
                let events = sample.events
                columns.reserve(events.count)
                for i in 0..<events.count {
                    columns.appendReserved(x: events.x[i], y: events.y[i], t: events.t[i] + start, p: events.p[i])
                }
                csv += "\(sample.label + 1),\(start),\(start + clip)\n"
                start += clip + gapMicroseconds
            }
            do {
                let stream = columns.stream(sensor: .dvs128)
                try EventFileWriter.write(stream, to: "\(directory)/\(names[k]).aedat", as: .aedat31)
                try AtomicFile.write(Array(csv.utf8), to: "\(directory)/\(names[k])_labels.csv")
                return .success(stream.count)
            } catch let error as EventDataError {
                return .failure(error)
            } catch {
                return .failure(EventDataError(.unreadable, file: directory, message: "\(error)"))
            }
        }
        var events = 0
        for result in results { events += try result.get() }
        let train = recordings.indices.filter { recordings[$0].split != .test }.map { names[$0] + ".aedat" }
        let test = recordings.indices.filter { recordings[$0].split == .test }.map { names[$0] + ".aedat" }
        try AtomicFile.write(Array((train.joined(separator: "\n") + "\n").utf8), to: "\(directory)/trials_to_train.txt")
        try AtomicFile.write(Array((test.joined(separator: "\n") + "\n").utf8), to: "\(directory)/trials_to_test.txt")
        let mapping = "action,label\n" + GestureLabels.classNames.enumerated().map { "\($0.element),\($0.offset + 1)" }.joined(separator: "\n") + "\n"
        try AtomicFile.write(Array(mapping.utf8), to: "\(directory)/gesture_mapping.csv")
        return Summary(trainRecordings: train.count, testRecordings: test.count, samples: recordings.count * classes, events: events)
    }
}
