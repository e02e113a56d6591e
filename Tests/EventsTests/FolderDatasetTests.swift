import Events
import Foundation
import Testing

struct SplitRuleTests {
    static let cifarNames = (0..<1000).map { "cifar10_cat_\($0).aedat" }.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }

    @Test func firstFractionFollowsLexicographicOrder() throws {
        let splits = try DatasetPlan.assignSplits(Self.cifarNames, label: "cat", folder: "/x", split: SplitSettings(mode: .firstFraction))
        let test = Set(zip(Self.cifarNames, splits).filter { $0.1 == .test }.map { Int($0.0.dropFirst(12).dropLast(6))! })
        #expect(test == Set(91...99).union(909...999))
        #expect(splits.filter { $0 == .train }.count == 900)
    }

    @Test func firstFractionRoundsUpLikeSpikingJelly() throws {
        let splits = try DatasetPlan.assignSplits(["a", "b", "c"], label: "x", folder: "/x", split: SplitSettings(mode: .firstFraction, trainFraction: 0.5))
        #expect(splits == [.train, .train, .test])
    }

    @Test func tebnTestsFilesBelow100() throws {
        let splits = try DatasetPlan.assignSplits(Self.cifarNames, label: "cat", folder: "/x", split: SplitSettings(mode: .tebn))
        let test = Set(zip(Self.cifarNames, splits).filter { $0.1 == .test }.map { Int($0.0.dropFirst(12).dropLast(6))! })
        #expect(test == Set(0..<100))
        let error = try #require(throws: EventDataError.self) {
            try DatasetPlan.assignSplits(["noNumber.aedat"], label: "cat", folder: "/x", split: SplitSettings(mode: .tebn))
        }
        #expect(error.file == "/x/noNumber.aedat")
    }

    @Test func randomSplitIsSeededAndStratified() throws {
        let names = (0..<50).map { "f\($0).bin" }
        let a = try DatasetPlan.assignSplits(names, label: "c", folder: "/x", split: SplitSettings(mode: .random, trainFraction: 0.8, seed: 4))
        let b = try DatasetPlan.assignSplits(names, label: "c", folder: "/x", split: SplitSettings(mode: .random, trainFraction: 0.8, seed: 4))
        let c = try DatasetPlan.assignSplits(names, label: "c", folder: "/x", split: SplitSettings(mode: .random, trainFraction: 0.8, seed: 5))
        #expect(a == b)
        #expect(a != c)
        #expect(a.filter { $0 == .train }.count == 40)
    }
}

struct CIFAR10DVSDatasetTests {
    /// Each class folder gets three files; file k of class c holds one event at raw (x = c, y = k + 1), raw polarity 1.
    static func fixture(_ dir: TemporaryDirectory) {
        for (c, name) in ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"].enumerated() {
            for k in 0..<3 {
                dir.write("\(name)/cifar10_\(name)_\(k).aedat", TestAEDAT2.file(records: [(c, k + 1, 1, UInt32(10 + k))]))
            }
        }
    }

    static func config(_ dir: TemporaryDirectory, orientation: String) throws -> DatasetConfig {
        try DatasetConfig.parse(
            """
            kind: cifar10-dvs
            root: \(dir.path)
            frames: {steps: 1, size: 128}
            orientation: \(orientation)
            split: {mode: first-fraction, train_fraction: 0.5, validation_fraction: 0}
            cache_dir: \(dir.path)/cache
            augmentation: {hflip: true, translate: 3}
            """)
    }

    @Test func orientationDecidesWhereEventsLand() throws {
        let dir = TemporaryDirectory("cifar")
        Self.fixture(dir)
        let sj = try FrameCache.prepare(try Self.config(dir, orientation: "spikingjelly"))
        #expect(sj.train.count == 20)
        #expect(sj.test.count == 10)
        #expect(sj.classNames.first == "airplane")
        // Test sample of class 3 (cat) is file 2: raw (3, 3), raw polarity 1.
        let catTest = try #require((0..<sj.test.count).first { sj.test.label(at: $0) == 3 })
        #expect(sj.test.origin(at: catTest) == "cat/cifar10_cat_2.aedat")
        var frame = sj.test.sample(catTest)
        // SpikingJelly: x = 127 − rawY = 124, y = 127 − rawX = 124, p = 1 − 1 = 0 → channel 0.
        #expect(frame[124 * 128 + 124] == 1)
        #expect(frame.reduce(0, +) == 1)

        let jaer = try FrameCache.prepare(try Self.config(dir, orientation: "jaer"))
        #expect(jaer.fingerprint != sj.fingerprint)
        frame = jaer.test.sample(catTest)
        // jAER: x = 127 − rawX = 124, y = rawY = 3.
        #expect(frame[3 * 128 + 124] == 1)
        #expect(frame.reduce(0, +) == 1)
    }

    @Test func missingClassFolderIsAnError() throws {
        let dir = TemporaryDirectory("cifar")
        Self.fixture(dir)
        try FileManager.default.removeItem(atPath: dir.file("truck"))
        let error = try #require(throws: EventDataError.self) { try FrameCache.prepare(try Self.config(dir, orientation: "jaer")) }
        #expect(error.code == .missingFile)
        #expect(error.file.hasSuffix("truck"))
    }
}

struct BinDatasetTests {
    @Test func nCaltechFoldersWithOutOfRangeFileSkipped() throws {
        let dir = TemporaryDirectory("caltech")
        for (c, name) in ["Faces_easy", "accordion", "BACKGROUND_Google"].enumerated() {
            for k in 0..<4 {
                dir.write("\(name)/image_000\(k).bin", TestATIS.file([.event(x: 10 * c + k, y: 5, p: 1, ts: 100), .overflow, .event(x: 1, y: 2, p: 0, ts: 5)]))
            }
        }
        // x = 250 is outside SpikingJelly's 240×180 frame.
        dir.write("accordion/image_0009.bin", TestATIS.file([.event(x: 250, y: 5, p: 1, ts: 1)]))
        let config = try DatasetConfig.parse(
            """
            kind: n-caltech101
            root: \(dir.path)
            frames: {steps: 2, size: [90, 120]}
            split: {mode: first-fraction, train_fraction: 0.75, validation_fraction: 0}
            exclude_classes: [BACKGROUND_Google]
            cache_dir: \(dir.path)/cache
            """)
        let prepared = try FrameCache.prepare(config)
        #expect(prepared.classNames == ["Faces_easy", "accordion"])
        #expect(prepared.skipped.map(\.name) == ["accordion/image_0009.bin"])
        #expect(prepared.skipped[0].reason.contains("outside"))
        #expect(prepared.train.count + prepared.test.count == 8)
        #expect(prepared.train.valuesPerSample == 2 * 2 * 90 * 120)
        let frame = prepared.train.sample(0)
        // Faces_easy image_0000: (0, 5) ON in frame 0, (1, 2) OFF in frame 1; 2× sum pooling → (0, 2) and (0, 1).
        #expect(frame[(0 * 2 + 1) * 90 * 120 + 2 * 120 + 0] == 1)
        #expect(frame[(1 * 2 + 0) * 90 * 120 + 1 * 120 + 0] == 1)
        #expect(frame.reduce(0, +) == 2)
    }

    @Test func nMNISTUsesTrainAndTestFolders() throws {
        let dir = TemporaryDirectory("nmnist")
        for folder in ["Train", "Test"] {
            for digit in 0..<3 {
                for k in 0..<(folder == "Train" ? 4 : 2) {
                    dir.write("\(folder)/\(digit)/\(k).bin", TestATIS.file([.event(x: digit, y: k, p: 1, ts: k)]))
                }
            }
        }
        let config = try DatasetConfig.parse(
            "kind: n-mnist\nroot: \(dir.path)\nsplit: {validation_fraction: 0.25}\ncache_dir: \(dir.path)/cache\n")
        let prepared = try FrameCache.prepare(config)
        #expect(prepared.classNames == ["0", "1", "2"])
        #expect(prepared.train.classCounts == [3, 3, 3])
        #expect(prepared.validation.classCounts == [1, 1, 1])
        #expect(prepared.test.classCounts == [2, 2, 2])
        #expect(prepared.train.height == 34)
    }

    @Test func eventFoldersReadMixedFormats() throws {
        let dir = TemporaryDirectory("folders")
        let packet = TestAEDAT4.eventPacket([(t: 5, x: 3, y: 4, on: true)])
        let streams = [TestAEDAT4.Stream(id: 0, type: "EVTS", width: 64, height: 48)]
        for k in 0..<2 {
            dir.write("wave/r\(k).aedat4", TestAEDAT4.file(streams: streams, compression: 1, packets: [(0, TestLZ4.frame(packet))]))
            dir.write("clap/r\(k).bin", TestATIS.file([.event(x: 7, y: 8, p: 0, ts: 1)]))
        }
        let config = try DatasetConfig.parse(
            """
            kind: event-folders
            root: \(dir.path)
            sensor: [64, 48]
            frames: {steps: 1, size: [48, 64]}
            split: {mode: first-fraction, train_fraction: 0.5, validation_fraction: 0}
            cache_dir: \(dir.path)/cache
            """)
        let prepared = try FrameCache.prepare(config)
        #expect(prepared.classNames == ["clap", "wave"])
        let wave = try #require((0..<prepared.train.count).first { prepared.train.label(at: $0) == 1 })
        let frame = prepared.train.sample(wave)
        #expect(frame[48 * 64 + 4 * 64 + 3] == 1)
    }

    /// A recording over `reader_limits.max_file_mib` is skipped with the cap named; the caps are part
    /// of the cache key only when they are not the defaults.
    @Test func readerLimitsSkipLongRecordingsAndEnterTheKey() throws {
        let dir = TemporaryDirectory("limits")
        let streams = [TestAEDAT4.Stream(id: 0, type: "EVTS", width: 64, height: 48)]
        // 70,000 events decode to 1.12 MB of event packet: over a 1 MiB cap.
        let long = (0..<70_000).map { (i: Int) -> (t: Int64, x: Int, y: Int, on: Bool) in (t: Int64(i), x: i % 64, y: i % 48, on: i % 2 == 0) }
        let short = [(t: Int64(5), x: 3, y: 4, on: true)]
        for k in 0..<2 {
            dir.write("wave/r\(k).aedat4", TestAEDAT4.file(streams: streams, compression: 1, packets: [(0, TestLZ4.frame(TestAEDAT4.eventPacket(short)))]))
            dir.write("clap/r\(k).aedat4", TestAEDAT4.file(streams: streams, compression: 1, packets: [(0, TestLZ4.frame(TestAEDAT4.eventPacket(short)))]))
        }
        dir.write("wave/long.aedat4", TestAEDAT4.file(streams: streams, compression: 1, packets: [(0, TestLZ4.frame(TestAEDAT4.eventPacket(long)))]))
        func config(_ limits: String) throws -> DatasetConfig {
            try DatasetConfig.parse(
                """
                kind: event-folders
                root: \(dir.path)
                sensor: [64, 48]
                frames: {steps: 1, size: [48, 64]}
                split: {mode: first-fraction, train_fraction: 0.5, validation_fraction: 0}
                cache_dir: \(dir.path)/cache
                \(limits)
                """)
        }
        let capped = try config("reader_limits: {max_file_mib: 1}")
        #expect(capped.readerLimits.maxFileBytes == 1 << 20 && capped.readerLimits.maxPacketBytes == 64 << 20)
        let prepared = try FrameCache.prepare(capped)
        #expect(prepared.skipped.map(\.name) == ["wave/long.aedat4"])
        #expect(prepared.skipped[0].reason.contains("would pass the 1048576-byte limit per file"))
        let defaults = try config("")
        let explicitDefaults = try config("reader_limits: {max_packet_mib: 64, max_file_mib: 1024}")
        #expect(try FrameCache.fingerprint(of: defaults) == FrameCache.fingerprint(of: explicitDefaults))
        #expect(try FrameCache.fingerprint(of: defaults) != prepared.fingerprint)
        #expect(try FrameCache.prepare(defaults).skipped.isEmpty)
    }
}
