import Events
import Foundation
import Seeding
import Testing

/// Small, short synthetic settings so generation stays fast in tests.
func smallSynthetic(seed: UInt64 = 3, perClass: (Int, Int, Int) = (2, 1, 1)) -> SyntheticGestureSettings {
    var s = SyntheticGestureSettings()
    s.seed = seed
    s.trainPerClass = perClass.0
    s.validationPerClass = perClass.1
    s.testPerClass = perClass.2
    s.durationMilliseconds = 400
    return s
}

func syntheticConfig(_ cache: String, settings: SyntheticGestureSettings = smallSynthetic(), steps: Int = 4, translate: Int = 0) -> DatasetConfig {
    DatasetConfig(
        kind: .syntheticGestures, frames: FrameSettings(timeSteps: steps, height: 32, width: 32),
        augmentation: AugmentationSettings(translate: translate), cacheDirectory: cache, synthetic: settings)
}

struct SyntheticGeneratorTests {
    /// `spikeq dataset synth --per-class N`: the splits keep the config's proportions and add up to N,
    /// with at least one train and one test sample.
    @Test func resizingKeepsTheSplitProportions() {
        let defaults = SyntheticGestureSettings()  // 200 / 40 / 60
        let thirty = defaults.resized(perClass: 30)
        #expect(thirty.trainPerClass == 20 && thirty.validationPerClass == 4 && thirty.testPerClass == 6)
        let two = defaults.resized(perClass: 2)
        #expect(two.trainPerClass == 1 && two.validationPerClass == 0 && two.testPerClass == 1)
        for n in 2...400 {
            let r = defaults.resized(perClass: n)
            #expect(r.trainPerClass + r.validationPerClass + r.testPerClass == n && r.trainPerClass >= 1 && r.testPerClass >= 1, "\(n)")
        }
    }

    @Test func samplesAreDeterministicAndDistinct() {
        let generator = SyntheticGestureGenerator(settings: smallSynthetic())
        let a = generator.sample(split: .train, index: 4, gesture: .armRoll)
        let b = generator.sample(split: .train, index: 4, gesture: .armRoll)
        let c = generator.sample(split: .train, index: 5, gesture: .armRoll)
        let d = generator.sample(split: .test, index: 4, gesture: .armRoll)
        #expect(a.events == b.events)
        #expect(a.events != c.events)
        #expect(a.events != d.events)
        #expect(a.label == GestureLabels.classNames.firstIndex(of: "arm_roll"))
    }

    @Test(arguments: SyntheticGestureClass.allCases)
    func eventsAreSortedOnTheSensorAndPlentiful(gesture: SyntheticGestureClass) {
        let sample = SyntheticGestureGenerator(settings: smallSynthetic()).sample(split: .train, index: 0, gesture: gesture)
        let events = sample.events
        #expect(events.sensor == .dvs128)
        #expect(events.isSorted)
        #expect(events.count > 2000, "only \(events.count) events")
        #expect(events.x.allSatisfy { $0 < 128 } && events.y.allSatisfy { $0 < 128 })
        #expect(events.t.last! <= 400_000)
        let on = Double(events.onCount) / Double(events.count)
        #expect(on > 0.2 && on < 0.8)
    }

    @Test func sideAndDirectionAreWhatDistinguishPairs() {
        var settings = smallSynthetic()
        settings.noiseRateHz = 0
        settings.hotPixels = 0
        settings.mimicProbability = 0
        settings.idleMotion = 0
        settings.sway = 0
        settings.occlusion = 0
        settings.positionJitter = 0
        let generator = SyntheticGestureGenerator(settings: settings)
        func meanX(_ gesture: SyntheticGestureClass) -> Double {
            var total = 0.0
            var count = 0
            for i in 0..<3 {
                let e = generator.sample(split: .train, index: i, gesture: gesture).events
                total += e.x.reduce(0.0) { $0 + Double($1) }
                count += e.count
            }
            return total / Double(count)
        }
        // The person's right hand is on the image's left.
        #expect(meanX(.rightHandWave) < 60)
        #expect(meanX(.leftHandWave) > 68)
        #expect(meanX(.rightArmClockwise) < meanX(.leftArmClockwise))
    }

    @Test func labelNoiseRelabelsSomeSamples() {
        var settings = smallSynthetic()
        settings.labelNoise = 0.5
        let generator = SyntheticGestureGenerator(settings: settings)
        let labels = (0..<40).map { generator.sample(split: .train, index: $0, gesture: .clap).label }
        #expect(labels.contains(0))
        #expect(labels.contains { $0 != 0 })
    }

    @Test func exportedRecordingsCutBackIntoTheGeneratedSamples() throws {
        let dir = TemporaryDirectory("export")
        let settings = smallSynthetic(perClass: (1, 1, 1))
        let summary = try SyntheticGestureExport.write(settings: settings, to: dir.path, threads: 2)
        #expect(summary.trainRecordings == 2)
        #expect(summary.testRecordings == 1)
        #expect(summary.samples == 33)
        #expect(try GestureLabels.trials(path: dir.file("trials_to_test.txt")) == ["user0003_synthetic.aedat"])
        // Recording 2 is validation sample 0 of each class.
        let stream = try AEDAT31Reader.read(path: dir.file("user0002_synthetic.aedat"), options: .init(sensor: .dvs128))
        let rows = try GestureLabels.read(path: dir.file("user0002_synthetic_labels.csv"))
        #expect(Set(rows.map(\.label)) == Set(0..<11))
        let generator = SyntheticGestureGenerator(settings: settings)
        for (row, cut) in zip(rows, GestureLabels.cut(stream, by: rows)) {
            let expected = generator.sample(split: .validation, index: row.label, gesture: SyntheticGestureClass(rawValue: row.label)!).events
            #expect(cut.t.map { $0 - row.start } == expected.t)
            #expect(cut.x == expected.x && cut.y == expected.y && cut.p == expected.p)
        }
    }
}

struct FrameCacheTests {
    @Test func roundTripsGeneratedFramesAndBalancesClasses() throws {
        let dir = TemporaryDirectory("cache")
        let config = syntheticConfig(dir.path)
        let prepared = try FrameCache.prepare(config, threads: 2)
        #expect(prepared.built)
        #expect(prepared.train.classCounts == [Int](repeating: 2, count: 11))
        #expect(prepared.validation.classCounts == [Int](repeating: 1, count: 11))
        #expect(prepared.test.classCounts == [Int](repeating: 1, count: 11))
        #expect(prepared.fingerprint.count == 64 && prepared.fingerprint.allSatisfy(\.isHexDigit))
        #expect(prepared.cachePath == "\(dir.path)/\(prepared.fingerprint).frames")
        let train = prepared.train
        #expect(train.timeSteps == 4 && train.channels == 2 && train.height == 32 && train.width == 32)
        // Sample 13 of train is index 13 = class 2, round 1 (interleaved classes).
        let generator = SyntheticGestureGenerator(settings: config.synthetic)
        let integrator = FrameIntegrator(settings: config.frames, sensor: .dvs128)
        for index in [0, 13, 21] {
            let events = generator.sample(split: .train, index: index, gesture: SyntheticGestureClass(rawValue: index % 11)!).events
            #expect(train.label(at: index) == index % 11)
            #expect(train.eventCount(at: index) == events.count)
            #expect(train.sample(index) == integrator.integrate(events).map { Float(Int($0)) })
        }
    }

    @Test func reusesTheCacheAndRebuildsWhenSettingsChange() throws {
        let dir = TemporaryDirectory("cache")
        let first = try FrameCache.prepare(syntheticConfig(dir.path))
        let again = try FrameCache.prepare(syntheticConfig(dir.path))
        #expect(!again.built)
        #expect(again.fingerprint == first.fingerprint)
        #expect(try FrameCache.fingerprint(of: syntheticConfig(dir.path)) == first.fingerprint)
        // Augmentation is applied at read time and does not change the cache.
        #expect(try FrameCache.prepare(syntheticConfig(dir.path, translate: 3)).fingerprint == first.fingerprint)
        let otherT = try FrameCache.prepare(syntheticConfig(dir.path, steps: 5))
        #expect(otherT.built)
        #expect(otherT.fingerprint != first.fingerprint)
        #expect(otherT.train.timeSteps == 5)
        let otherSeed = try FrameCache.prepare(syntheticConfig(dir.path, settings: smallSynthetic(seed: 9)))
        #expect(otherSeed.fingerprint != first.fingerprint)
    }

    @Test func damagedCacheIsRebuilt() throws {
        let dir = TemporaryDirectory("cache")
        let first = try FrameCache.prepare(syntheticConfig(dir.path))
        let expected = first.test.sample(3)
        // Corrupt the header's sample count.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: first.cachePath))
        try handle.seek(toOffset: 32)
        try handle.write(contentsOf: Data([0xFF, 0xFF, 0xFF, 0x00]))
        try handle.close()
        let rebuilt = try FrameCache.prepare(syntheticConfig(dir.path))
        #expect(rebuilt.built)
        #expect(rebuilt.test.sample(3) == expected)
    }

    @Test func concurrentPreparersShareOneBuild() throws {
        let dir = TemporaryDirectory("cache")
        let config = syntheticConfig(dir.path)
        let results = NSLockedResults()
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            do {
                let prepared = try FrameCache.prepare(config, threads: 1)
                results.add(prepared.fingerprint, built: prepared.built, sample: prepared.train.sample(5))
            } catch {
                results.fail("\(error)")
            }
        }
        let (fingerprints, built, samples, failures) = results.snapshot()
        #expect(failures.isEmpty)
        #expect(Set(fingerprints).count == 1)
        #expect(built.filter { $0 }.count == 1)
        #expect(samples.count == 2 && samples[0] == samples[1])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp.") }
        #expect(leftovers.isEmpty)
    }

    @Test func framesDoNotDependOnThreadCount() throws {
        let a = TemporaryDirectory("cache")
        let b = TemporaryDirectory("cache")
        let one = try FrameCache.prepare(syntheticConfig(a.path), threads: 1)
        let two = try FrameCache.prepare(syntheticConfig(b.path), threads: 2)
        #expect(one.fingerprint == two.fingerprint)
        let bytesOne = try Data(contentsOf: URL(fileURLWithPath: one.cachePath))
        let bytesTwo = try Data(contentsOf: URL(fileURLWithPath: two.cachePath))
        #expect(bytesOne == bytesTwo)
    }

    @Test func augmentationIsSeededAndOnlyShifts() throws {
        let dir = TemporaryDirectory("cache")
        let prepared = try FrameCache.prepare(syntheticConfig(dir.path, translate: 2))
        let train = prepared.train
        let plain = train.sample(7)
        var outputs: [[Float]] = []
        for seed: UInt64 in [1, 1, 2] {
            var rng = SeededGenerator(seed: seed)
            var buffer = [Float](repeating: -1, count: train.valuesPerSample)
            buffer.withUnsafeMutableBufferPointer { train.writeSample(7, into: $0, augment: true, using: &rng) }
            outputs.append(buffer)
        }
        #expect(outputs[0] == outputs[1])
        #expect(outputs.allSatisfy { $0.reduce(0, +) <= plain.reduce(0, +) })
        // Some shift in −2…2 of the plain frames reproduces the augmented one.
        func shifted(_ dx: Int, _ dy: Int) -> [Float] {
            var out = [Float](repeating: 0, count: plain.count)
            for plane in 0..<(plain.count / 1024) {
                for y in 0..<32 where (0..<32).contains(y - dy) {
                    for x in 0..<32 where (0..<32).contains(x - dx) { out[plane * 1024 + y * 32 + x] = plain[plane * 1024 + (y - dy) * 32 + x - dx] }
                }
            }
            return out
        }
        for output in outputs {
            #expect((-2...2).contains { dx in (-2...2).contains { dy in shifted(dx, dy) == output } })
        }
        var rng = SeededGenerator(seed: 1)
        var buffer = [Float](repeating: -1, count: train.valuesPerSample)
        buffer.withUnsafeMutableBufferPointer { train.writeSample(7, into: $0, augment: false, using: &rng) }
        #expect(buffer == plain)
        #expect(rng == SeededGenerator(seed: 1))
    }

    @Test func strictRefusesACacheBuiltWithSkips() throws {
        let fixture = GestureFixture()
        fixture.recording("user01_lab", classes: [0, 1])
        fixture.recording("user24_lab", classes: [5])
        fixture.trials(train: ["user01_lab", "user02_missing"], test: ["user24_lab"])
        let lenient = try FrameCache.prepare(try fixture.config())
        #expect(lenient.skipped.count == 1)
        let error = try #require(throws: EventDataError.self) { try FrameCache.prepare(try fixture.config(strict: true)) }
        #expect(error.file == "user02_missing.aedat")
    }

    @Test func changedInputFileChangesTheFingerprint() throws {
        let fixture = GestureFixture()
        fixture.recording("user01_lab", classes: [0, 1])
        fixture.recording("user24_lab", classes: [5])
        fixture.trials(train: ["user01_lab"], test: ["user24_lab"])
        let first = try FrameCache.prepare(try fixture.config())
        fixture.recording("user01_lab", classes: [0, 1, 2])
        let second = try FrameCache.prepare(try fixture.config())
        #expect(second.fingerprint != first.fingerprint)
        #expect(second.built)
        #expect(second.train.count == 3)
    }
}

/// Collects results from concurrent preparers.
final class NSLockedResults: @unchecked Sendable {
    // @unchecked: every field is only touched under `lock`.
    private let lock = NSLock()
    private var fingerprints: [String] = []
    private var built: [Bool] = []
    private var samples: [[Float]] = []
    private var failures: [String] = []

    func add(_ fingerprint: String, built flag: Bool, sample: [Float]) {
        lock.lock()
        defer { lock.unlock() }
        fingerprints.append(fingerprint)
        built.append(flag)
        samples.append(sample)
    }

    func fail(_ message: String) {
        lock.lock()
        defer { lock.unlock() }
        failures.append(message)
    }

    func snapshot() -> ([String], [Bool], [[Float]], [String]) {
        lock.lock()
        defer { lock.unlock() }
        return (fingerprints, built, samples, failures)
    }
}
