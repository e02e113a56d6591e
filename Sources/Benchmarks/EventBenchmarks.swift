import Events
import Foundation
import Seeding

#if canImport(Glibc)
import Glibc
import Threading
#endif

/// Throughput measurements behind `spikeq bench data`.
///
/// Single-thread rates use the thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so they measure the code
/// and not how busy a shared machine is; the all-threads generation rate uses wall-clock time.
public enum EventBenchmarks {
    public struct Decode: Codable, Sendable {
        public var format: String
        public var events: Int
        public var bytes: Int
        /// Best of the repeats, single thread, from memory-mapped file bytes.
        public var eventsPerSecond: Double
    }

    public struct Report: Codable, Sendable {
        public var decode: [Decode]
        /// Frame integration (events → T×2×H×W counts, 128×128 → 32×32, T = 8), single thread.
        public var integrationEventsPerSecond: Double
        /// Synthetic gesture samples generated per second on one thread and on all threads.
        public var generationSamplesPerSecond: Double
        public var generationSamplesPerSecondAllThreads: Double
        public var threads: Int
        /// Cache reads (`writeSample`) per second on one thread, without and with augmentation.
        public var cacheFramesPerSecond: Double
        public var cacheFramesPerSecondAugmented: Double
        public var cacheBytesPerSample: Double
    }

    /// Runs every measurement; writes temporary files under `directory` and removes them.
    public static func run(events: Int = 4_000_000, repeats: Int = 3, directory: String, threads: Int = 0) throws -> Report {
        let workers = threads > 0 ? threads : ProcessInfo.processInfo.activeProcessorCount
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var results: [Decode] = []
        for format in [EventFileFormat.aedat31, .aedat2, .atisBin, .aedat4] {
            let sensor =
                switch format {
                case .atisBin: SensorSize(width: 240, height: 180)
                case .aedat4: SensorSize(width: 346, height: 260)
                default: SensorSize.dvs128
                }
            let stream = randomStream(count: events, sensor: sensor, seed: 5)
            let path = "\(directory)/bench.\(format.rawValue)"
            try EventFileWriter.write(stream, to: path, as: format)
            let file = try MappedFile(path: path)
            var best = Double.infinity
            for _ in 0..<repeats {
                let start = threadCPUSeconds()
                let decoded = try EventFile.read(path: path, format: format, options: .init(sensor: sensor))
                let elapsed = threadCPUSeconds() - start
                precondition(decoded.count == stream.count, "benchmark decode lost events")
                best = min(best, elapsed)
            }
            results.append(Decode(format: format.description, events: events, bytes: file.count, eventsPerSecond: Double(events) / best))
        }

        let sample = randomStream(count: events, sensor: .dvs128, seed: 9)
        let integrator = FrameIntegrator(settings: FrameSettings(timeSteps: 8, height: 32, width: 32), sensor: .dvs128)
        var integration = Double.infinity
        for _ in 0..<repeats {
            let start = threadCPUSeconds()
            let counts = integrator.integrate(sample)
            integration = min(integration, threadCPUSeconds() - start)
            precondition(counts.reduce(0, +) == UInt32(sample.count))
        }

        var settings = SyntheticGestureSettings()
        settings.trainPerClass = 6
        settings.validationPerClass = 1
        settings.testPerClass = 3
        let generator = SyntheticGestureGenerator(settings: settings)
        let singleCount = 22
        let cpuStart = threadCPUSeconds()
        for i in 0..<singleCount { _ = generator.sample(split: .train, index: i, gesture: SyntheticGestureClass(rawValue: i % 11)!) }
        let single = Double(singleCount) / (threadCPUSeconds() - cpuStart)
        let clock = ContinuousClock()
        var start = clock.now

        let config = DatasetConfig(
            kind: .syntheticGestures, frames: FrameSettings(timeSteps: 8, height: 32, width: 32),
            augmentation: AugmentationSettings(translate: 2), cacheDirectory: "\(directory)/cache", synthetic: settings)
        start = clock.now
        let prepared = try FrameCache.prepare(config, threads: workers)
        let parallel = Double(110) / (clock.now - start).seconds
        let attrs = try FileManager.default.attributesOfItem(atPath: prepared.cachePath)
        let cacheBytes = (attrs[.size] as? NSNumber)?.doubleValue ?? 0

        let train = prepared.train
        var buffer = [Float](repeating: 0, count: train.valuesPerSample)
        var rng = SeededGenerator(seed: 3)
        let reads = 20_000
        var plain = 0.0
        var augmented = 0.0
        for augment in [false, true] {
            let readStart = threadCPUSeconds()
            buffer.withUnsafeMutableBufferPointer { out in
                for i in 0..<reads { train.writeSample(i % train.count, into: out, augment: augment, using: &rng) }
            }
            let rate = Double(reads) / (threadCPUSeconds() - readStart)
            if augment { augmented = rate } else { plain = rate }
        }
        return Report(
            decode: results, integrationEventsPerSecond: Double(events) / integration, generationSamplesPerSecond: single,
            generationSamplesPerSecondAllThreads: parallel, threads: workers, cacheFramesPerSecond: plain,
            cacheFramesPerSecondAugmented: augmented, cacheBytesPerSample: cacheBytes / 110)
    }

    /// Random events with increasing timestamps.
    static func randomStream(count: Int, sensor: SensorSize, seed: UInt64) -> EventStream {
        var rng = SeededGenerator(seed: seed)
        var t: Int64 = 0
        var x = [UInt16](repeating: 0, count: count), y = x, p = [UInt8](repeating: 0, count: count)
        var times = [Int64](repeating: 0, count: count)
        for i in 0..<count {
            let r = rng.next()
            t += Int64(r >> 60)
            x[i] = UInt16((r & 0xFFFF) % UInt64(sensor.width))
            y[i] = UInt16(((r >> 16) & 0xFFFF) % UInt64(sensor.height))
            p[i] = UInt8((r >> 32) & 1)
            times[i] = t
        }
        return EventStream(x: x, y: y, t: times, p: p, sensor: sensor)
    }
}

/// CPU time consumed by the calling thread.
func threadCPUSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
}

