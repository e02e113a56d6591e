import ArgumentParser
import Events
import Foundation
import Logging

/// `spikeq dataset …`: look at event files, write the synthetic set, build frame caches.
struct DatasetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Inspect event files, write the synthetic gesture set, and prepare frame caches.",
        subcommands: [Inspect.self, Synth.self, Prepare.self])
}

extension DatasetCommand {
    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Summarise an event file (AEDAT 2.0 / 3.1 / 4.0 or ATIS .bin).",
            discussion: "Prints the format, sensor size, event count, duration, polarity balance and the first events.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The event file.") var file: String
        @Option(help: "AEDAT 2.0 address mapping.") var orientation: OrientationArgument = .spikingjelly
        @Option(help: "How many leading events to print.") var first: Int = 10
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            global.bootstrapLogging()
            let summary = try EventFileSummary.inspect(path: file, orientation: orientation.value, firstCount: first)
            if json {
                print(try jsonText(summary))
                return
            }
            print("file        \(summary.path)")
            print("format      \(summary.format) (\(summary.bytes) bytes)")
            print("sensor      \(summary.sensorWidth)×\(summary.sensorHeight)")
            print("events      \(summary.events)")
            if let first = summary.firstTimestamp, let last = summary.lastTimestamp {
                print("time        \(first) … \(last) µs (\(String(format: "%.3f", Double(summary.durationMicroseconds) / 1e6)) s)\(summary.timeSorted ? "" : ", not sorted")")
            }
            print("polarity    ON \(summary.onEvents), OFF \(summary.offEvents) (ON fraction \(String(format: "%.3f", summary.onFraction)))")
            if let segments = summary.labelledSegments { print("labels      \(segments) segments in the labels CSV") }
            for line in summary.header { print("header      \(line)") }
            if !summary.firstEvents.isEmpty {
                print("first events (x, y, t, p):")
                for e in summary.firstEvents { print("  \(e[0])\t\(e[1])\t\(e[2])\t\(e[3])") }
            }
        }
    }

    struct Synth: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the synthetic gesture set as DVS128 Gesture-style AEDAT 3.1 recordings.",
            discussion: """
                Writes userNNNN_synthetic.aedat + _labels.csv (one sample of each class per recording), \
                trials_to_train.txt (train and validation samples) and trials_to_test.txt, readable with \
                `kind: dvs128-gesture`. Generator settings come from --data (a synthetic-gestures config) or the defaults.
                """)

        @OptionGroup var global: GlobalOptions
        @Option(help: "Output directory.") var out: String
        @Option(help: "Samples per class in total; split train / validation / test in the config's proportions.")
        var perClass: Int?
        @Option(help: "Generator seed (overrides the config's).") var seed: UInt64?
        @Option(help: "A synthetic-gestures dataset config whose `synthetic` settings to use.") var data: String?
        @Option(help: "Worker threads (0 = all cores).") var threads: Int = 0

        func validate() throws {
            if let perClass, perClass < 2 { throw ValidationError("--per-class must be at least 2 (one train and one test sample).") }
        }

        func run() async throws {
            global.bootstrapLogging()
            var settings = SyntheticGestureSettings()
            if let data {
                let config = try DatasetConfig.load(path: data)
                guard config.kind == .syntheticGestures else {
                    throw CommandFailure("\(data) is a \(config.kind.rawValue) config, not synthetic-gestures.")
                }
                settings = config.synthetic
            }
            if let seed { settings.seed = seed }
            if let perClass { settings = settings.resized(perClass: perClass) }
            let bar = ProgressBar(label: "synth")
            let clock = ContinuousClock()
            let start = clock.now
            let summary = try SyntheticGestureExport.write(settings: settings, to: out, threads: threads) { done, total in
                bar.update(done, total)
            }
            bar.finish()
            let seconds = (clock.now - start).components
            print("wrote \(summary.samples) samples (\(summary.trainRecordings) train + \(summary.testRecordings) test recordings, \(summary.events) events) to \(out) in \(seconds.seconds).\(String(format: "%02d", seconds.attoseconds / 10_000_000_000_000_000)) s")
        }
    }

    struct Prepare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build (or validate) the frame cache of a dataset config and print its splits.")

        @OptionGroup var global: GlobalOptions
        @Option(help: "Dataset config (configs/datasets/*.yaml).") var data: String
        @Option(help: "Worker threads (0 = all cores).") var threads: Int = 0
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            global.bootstrapLogging()
            let logger = Logger(label: "spikeq.dataset")
            let config = try DatasetConfig.load(path: data)
            let bar = ProgressBar(label: config.name)
            let prepared = try FrameCache.prepare(config, threads: threads) { progress in
                bar.update(progress.completed, progress.total, stage: progress.stage.rawValue)
            }
            bar.finish()
            for skip in prepared.skipped {
                logger.warning("Skipped a bad input", metadata: ["input.name": "\(skip.name)", "input.reason": "\(skip.reason)"])
            }
            let splits = DatasetSplit.allCases.map { prepared.split($0) }
            if json {
                struct Output: Encodable {
                    var name: String
                    var fingerprint: String
                    var cache: String
                    var built: Bool
                    var shape: [Int]
                    var classes: [String]
                    var counts: [String: [Int]]
                    var skipped: [SkippedSource]
                }
                let output = Output(
                    name: config.name, fingerprint: prepared.fingerprint, cache: prepared.cachePath, built: prepared.built,
                    shape: [prepared.train.timeSteps, prepared.train.channels, prepared.train.height, prepared.train.width],
                    classes: prepared.classNames,
                    counts: Dictionary(uniqueKeysWithValues: splits.map { ($0.split.rawValue, $0.classCounts) }),
                    skipped: prepared.skipped)
                print(try jsonText(output))
                return
            }
            print("dataset      \(config.name) (\(config.kind.rawValue))")
            print("fingerprint  \(prepared.fingerprint)")
            print("cache        \(prepared.cachePath) (\(prepared.built ? "built now" : "reused"))")
            print("sample       [\(prepared.train.timeSteps), \(prepared.train.channels), \(prepared.train.height), \(prepared.train.width)]")
            if !prepared.skipped.isEmpty { print("skipped      \(prepared.skipped.count) bad input(s); see the log") }
            let nameWidth = max(5, prepared.classNames.map(\.count).max() ?? 0)
            print("class".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + splits.map { $0.split.rawValue.leftPadded(11) }.joined())
            let counts = splits.map(\.classCounts)
            for (c, name) in prepared.classNames.enumerated() {
                print(name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + counts.map { String($0[c]).leftPadded(11) }.joined())
            }
            print("total".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + splits.map { String($0.count).leftPadded(11) }.joined())
        }
    }
}

enum OrientationArgument: String, CaseIterable, ExpressibleByArgument {
    case spikingjelly, jaer, raw

    var value: DVS128Orientation { DVS128Orientation(rawValue: rawValue)! }
}
