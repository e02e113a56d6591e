import Seeding

/// One split of a prepared dataset, read from the memory-mapped frame cache.
///
/// Reading a sample decodes its compact counts into the caller's buffer (no allocation), so it is
/// cheap enough for a prefetch thread, and every method is safe to call from any number of threads at
/// once: the object is immutable and the mapping is read-only.
public final class FrameDataset: Sendable {
    let cache: FrameCacheFile
    /// Cache positions of this split's samples, in cache order.
    let members: [Int]
    public let split: DatasetSplit
    /// Applied by ``writeSample(_:into:augment:using:)`` when `augment` is true.
    public let augmentation: AugmentationSettings

    init(cache: FrameCacheFile, split: DatasetSplit, augmentation: AugmentationSettings) {
        self.cache = cache
        self.split = split
        self.augmentation = augmentation
        members = cache.entries.indices.filter { cache.entries[$0].split == split }
    }

    /// Number of samples.
    public var count: Int { members.count }
    /// T, frames per sample.
    public var timeSteps: Int { cache.frames.timeSteps }
    /// Polarity channels (2: OFF, ON).
    public var channels: Int { FrameSettings.channels }
    public var height: Int { cache.frames.height }
    public var width: Int { cache.frames.width }
    /// Floats one sample occupies: `timeSteps × channels × height × width`.
    public var valuesPerSample: Int { cache.frames.valuesPerSample }
    public var classNames: [String] { cache.metadata.classNames }
    /// The dataset fingerprint (hex SHA-256 of the input files and frame settings).
    public var fingerprint: String { cache.metadata.fingerprint }
    public var frameSettings: FrameSettings { cache.frames }

    /// The label (0-based class) of sample `index`.
    public func label(at index: Int) -> Int { cache.entries[members[index]].label }

    /// All labels, in sample order.
    public var labels: [Int] { members.map { cache.entries[$0].label } }

    /// Samples per class.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classNames.count)
        for member in members { counts[cache.entries[member].label] += 1 }
        return counts
    }

    /// Where sample `index` came from, e.g. `user02_led.aedat#5` or `cat/cifar10_cat_12.aedat`.
    public func origin(at index: Int) -> String { cache.metadata.origins[members[index]] }

    /// Events in sample `index` before integration.
    public func eventCount(at index: Int) -> Int { cache.metadata.eventCounts[members[index]] }

    /// Writes sample `index` as `[T, 2, H, W]` Float32 event counts into `buffer`.
    ///
    /// With `augment`, draws a random shift in `−translate…translate` for x and y and, if the dataset
    /// allows it, a horizontal flip with probability ½, from `generator` (three draws per call when
    /// augmentation is on, none when off), and applies them with zero fill.
    ///
    /// - Precondition: `buffer.count == valuesPerSample` and `0 <= index < count`.
    public func writeSample(
        _ index: Int, into buffer: UnsafeMutableBufferPointer<Float>, augment: Bool, using generator: inout SeededGenerator
    ) {
        precondition(index >= 0 && index < members.count, "sample \(index) out of range 0..<\(members.count)")
        precondition(buffer.count == valuesPerSample, "buffer holds \(buffer.count) floats, a sample needs \(valuesPerSample)")
        var transform = FrameTransform.identity
        if augment, augmentation.translate > 0 || augmentation.horizontalFlip {
            let range = 2 * augmentation.translate + 1
            transform.dx = Int(generator.next() % UInt64(range)) - augmentation.translate
            transform.dy = Int(generator.next() % UInt64(range)) - augmentation.translate
            transform.flip = augmentation.horizontalFlip && generator.next() & 1 == 1
        }
        cache.decode(members[index], transform: transform, into: buffer)
    }

    /// Sample `index` as a new array (tests, tools; the trainer uses the buffer form).
    public func sample(_ index: Int) -> [Float] {
        var generator = SeededGenerator(seed: 0)
        return [Float](unsafeUninitializedCapacity: valuesPerSample) { buffer, initialized in
            writeSample(index, into: buffer, augment: false, using: &generator)
            initialized = valuesPerSample
        }
    }
}

/// A dataset whose frame cache is built and open: its three splits and its fingerprint.
public final class PreparedDataset: Sendable {
    public let config: DatasetConfig
    /// Hex SHA-256 of the input files' contents and the frame settings; equal on every machine with
    /// the same data and settings. The coordinator compares it across workers.
    public let fingerprint: String
    /// The cache file the splits read.
    public let cachePath: String
    public let train: FrameDataset
    public let validation: FrameDataset
    public let test: FrameDataset
    /// Inputs skipped as unreadable when the cache was built (empty in strict mode).
    public let skipped: [SkippedSource]
    /// Whether this call built the cache (false when an existing one was reused).
    public let built: Bool

    init(config: DatasetConfig, cachePath: String, cache: FrameCacheFile, built: Bool) {
        self.config = config
        self.cachePath = cachePath
        fingerprint = cache.metadata.fingerprint
        train = FrameDataset(cache: cache, split: .train, augmentation: config.augmentation)
        validation = FrameDataset(cache: cache, split: .validation, augmentation: config.augmentation)
        test = FrameDataset(cache: cache, split: .test, augmentation: config.augmentation)
        skipped = cache.metadata.skipped
        self.built = built
    }

    public var classNames: [String] { train.classNames }

    public func split(_ split: DatasetSplit) -> FrameDataset {
        switch split {
        case .train: train
        case .validation: validation
        case .test: test
        }
    }
}
