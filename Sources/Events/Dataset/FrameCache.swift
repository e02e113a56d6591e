import ConfigFiles
import ContentHash
import Foundation
import Seeding

/// Progress of ``FrameCache/prepare(_:threads:progress:)``.
public struct PrepareProgress: Sendable {
    public enum Stage: String, Sendable {
        /// Hashing input files for the fingerprint (only files whose size or mtime changed).
        case hashing
        /// Waiting for another process that is building the same cache.
        case waiting
        /// Decoding or generating samples and writing frames.
        case building
    }

    public var stage: Stage
    public var completed: Int
    public var total: Int
}

/// Preparing datasets: frames are computed once into a cache file keyed by the fingerprint, and every
/// later run and every local worker reads that file.
public enum FrameCache {
    /// The cache file format and generator version, part of every fingerprint.
    static let keyVersion = "spikeq-frames/1"

    /// The fingerprint of `config`'s dataset without building anything (hashes input files, memoised).
    public static func fingerprint(of config: DatasetConfig, threads: Int = 0) throws -> String {
        let plan = try DatasetPlan.make(config)
        return try key(config: config, plan: plan, threads: threads, progress: { _ in }).fingerprint
    }

    /// Builds the frame cache for `config` if it does not exist yet, validates it, and opens it.
    ///
    /// Concurrent calls for the same dataset on one machine (two local workers starting at once) are
    /// safe: the builder holds `<fingerprint>.lock` and writes a temporary file that it renames into
    /// place; the other waits for the lock and then opens the finished file.
    ///
    /// - Parameters:
    ///   - threads: Worker threads for hashing, decoding and generation; 0 uses every core.
    ///   - progress: Called (serialised, from any thread) as work completes.
    /// - Throws: ``ConfigError`` or ``EventDataError`` (a missing root, an unreadable split list,
    ///   the first bad file in strict mode, an empty split).
    public static func prepare(
        _ config: DatasetConfig, threads: Int = 0, progress: @escaping @Sendable (PrepareProgress) -> Void = { _ in }
    ) throws -> PreparedDataset {
        let plan = try DatasetPlan.make(config)
        let (keyText, fingerprint) = try key(config: config, plan: plan, threads: threads, progress: progress)
        let directory = config.resolvedCacheDirectory
        let path = "\(directory)/\(fingerprint).frames"
        if let cache = try? FrameCacheFile(path: path), cache.metadata.fingerprint == fingerprint {
            return try opened(config, path: path, cache: cache, built: false)
        }
        let lock = try FileLock(path: "\(directory)/\(fingerprint).lock") {
            progress(PrepareProgress(stage: .waiting, completed: 0, total: plan.units.count))
        }
        defer { lock.unlock() }
        if let cache = try? FrameCacheFile(path: path), cache.metadata.fingerprint == fingerprint {
            return try opened(config, path: path, cache: cache, built: false)
        }
        try build(config, plan: plan, keyText: keyText, fingerprint: fingerprint, path: path, threads: threads, progress: progress)
        return try opened(config, path: path, cache: FrameCacheFile(path: path), built: true)
    }

    static func opened(_ config: DatasetConfig, path: String, cache: FrameCacheFile, built: Bool) throws -> PreparedDataset {
        if config.strict, let first = cache.metadata.skipped.first {
            throw EventDataError(
                .malformed, file: first.name,
                message: "\(first.reason) (strict: the cache at \(path) was built skipping \(cache.metadata.skipped.count) bad file(s))")
        }
        return PreparedDataset(config: config, cachePath: path, cache: cache, built: built)
    }

    // MARK: the key

    /// The canonical text describing the dataset's inputs and frame settings, and its SHA-256.
    static func key(
        config: DatasetConfig, plan: DatasetPlan, threads: Int, progress: @escaping @Sendable (PrepareProgress) -> Void
    ) throws -> (text: String, fingerprint: String) {
        var lines = [
            keyVersion, "kind=\(config.kind.rawValue)", "sensor=\(plan.sensor.width)x\(plan.sensor.height)",
            "frames: \(config.frames)",
            "split: mode=\(config.split.mode.rawValue) train_fraction=\(config.split.trainFraction) validation_fraction=\(config.split.validationFraction) seed=\(config.split.seed)",
            "classes=\(plan.classNames.joined(separator: ","))",
        ]
        switch config.kind {
        case .cifar10DVS, .eventFolders: lines.append("aedat2: orientation=\(config.orientation.rawValue) drop_special=false")
        case .dvs128Gesture: lines.append("aedat3.1: skip_invalid=false; cut start<=t<end")
        case .nCaltech101, .nMNIST: lines.append("bin: overflow_increment=\(1 << 23)")
        case .syntheticGestures: break
        }
        // Caps decide which files are skipped, so they are part of the key; only written when not the
        // defaults, which keeps the fingerprints of earlier caches.
        if config.readerLimits != .default {
            let limits = config.readerLimits
            lines.append("limits: max_packet_bytes=\(limits.maxPacketBytes) max_file_bytes=\(limits.maxFileBytes)")
        }
        if config.kind == .syntheticGestures {
            lines.append("generator=synthetic-gestures/\(SyntheticGestureGenerator.version)")
            lines.append(config.synthetic.canonicalText)
        } else if let root = plan.root {
            let digests = try FileDigests.compute(
                root: root, files: plan.inputFiles, cacheDirectory: config.resolvedCacheDirectory, threads: threads,
                progress: { done, total in progress(PrepareProgress(stage: .hashing, completed: done, total: total)) })
            lines.append("files:")
            for (file, digest) in zip(plan.inputFiles, digests) {
                lines.append("\(file)\t\(digest.size)\t\(digest.sha256 ?? "missing")")
            }
        }
        let text = lines.joined(separator: "\n") + "\n"
        return (text, ContentHash.sha256(text))
    }

    // MARK: building

    /// One unit's result, encoded and ready to append.
    struct EncodedSample: Sendable {
        var label: Int
        var split: DatasetSplit
        var origin: String
        var encoding: FrameEncoding
        var blob: [UInt8]
        var events: Int
    }

    static func build(
        _ config: DatasetConfig, plan: DatasetPlan, keyText: String, fingerprint: String, path: String, threads: Int,
        progress: @escaping @Sendable (PrepareProgress) -> Void
    ) throws {
        let writer = try FrameCacheWriter(path: path, frames: config.frames)
        let integrator = FrameIntegrator(settings: config.frames, sensor: plan.sensor)
        let generator = SyntheticGestureGenerator(settings: config.synthetic)
        let total = plan.units.count
        let counter = ProgressCounter(total: total) { done, all in
            progress(PrepareProgress(stage: .building, completed: done, total: all))
        }
        var splits: [DatasetSplit] = []
        var origins: [String] = []
        var eventCounts: [Int] = []
        var skipped: [SkippedSource] = []
        let workers = threads > 0 ? threads : ProcessInfo.processInfo.activeProcessorCount
        let chunk = max(32, workers * 8)
        var start = 0
        while start < total {
            let units = Array(plan.units[start..<min(total, start + chunk)])
            let results: [Result<[EncodedSample], EventDataError>] = Parallel.map(units.count, threads: threads) { k in
                defer { counter.advance() }
                return run(units[k], config: config, plan: plan, integrator: integrator, generator: generator)
            }
            for (unit, result) in zip(units, results) {
                switch result {
                case .success(let samples):
                    for sample in samples {
                        try writer.append(sample.blob, encoding: sample.encoding, split: sample.split, label: sample.label)
                        splits.append(sample.split)
                        origins.append(sample.origin)
                        eventCounts.append(sample.events)
                    }
                case .failure(let error):
                    if config.strict { throw error }
                    skipped.append(SkippedSource(name: unit.name, reason: error.description))
                }
            }
            start += chunk
        }
        if config.kind != .syntheticGestures {
            carveValidation(&splits, labels: writer.entries.map(\.label), settings: config.split, classCount: plan.classNames.count)
        }
        for split in [DatasetSplit.train, .test] where !splits.contains(split) {
            throw EventDataError(
                .emptyDataset, file: plan.root ?? config.name,
                message: "no \(split.rawValue) samples (\(skipped.count) of \(total) inputs skipped\(skipped.first.map { "; first: \($0)" } ?? ""))")
        }
        let metadata = FrameCacheMetadata(
            fingerprint: fingerprint, kind: config.kind, name: config.name, classNames: plan.classNames, frames: config.frames,
            sensor: plan.sensor, key: keyText, origins: origins, eventCounts: eventCounts, skipped: skipped,
            toolVersion: "spikeq-events/\(SyntheticGestureGenerator.version)")
        let digits = Array(fingerprint.utf8).map { UInt8(ascii: "0") <= $0 && $0 <= UInt8(ascii: "9") ? $0 - 48 : $0 - 87 }
        let fingerprintBytes = stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
        try writer.commit(splits: splits, metadata: metadata, fingerprintBytes: fingerprintBytes)
    }

    /// Moves a seeded, per-class `validationFraction` of the train samples to validation.
    ///
    /// Per class, the train samples (in cache order) are shuffled with the stream
    /// `validation/<class>` of `split.seed`, and the first `round(fraction · n)` become validation.
    static func carveValidation(_ splits: inout [DatasetSplit], labels: [Int], settings: SplitSettings, classCount: Int) {
        guard settings.validationFraction > 0 else { return }
        for label in 0..<classCount {
            var members = splits.indices.filter { splits[$0] == .train && labels[$0] == label }
            var rng = SeededGenerator(seed: settings.seed, stream: "validation/\(label)")
            members.shuffle(using: &rng)
            let take = Int((Double(members.count) * settings.validationFraction).rounded())
            for i in members.prefix(take) { splits[i] = .validation }
        }
    }

    /// Decodes (or generates) one unit and encodes its samples' frames.
    static func run(
        _ unit: DatasetPlan.Unit, config: DatasetConfig, plan: DatasetPlan, integrator: FrameIntegrator,
        generator: SyntheticGestureGenerator
    ) -> Result<[EncodedSample], EventDataError> {
        func encoded(_ stream: EventStream, label: Int, split: DatasetSplit, origin: String) -> EncodedSample {
            let (encoding, blob) = FrameBlob.encode(integrator.integrate(stream))
            return EncodedSample(label: label, split: split, origin: origin, encoding: encoding, blob: blob, events: stream.count)
        }
        do {
            switch unit.work {
            case .synthetic(let split, let index, let label):
                let sample = generator.sample(split: split, index: index, gesture: SyntheticGestureClass(rawValue: label)!)
                return .success([encoded(sample.events, label: sample.label, split: split, origin: unit.name)])
            case .gestureRecording(let recording, let labels, let split):
                let root = plan.root!
                let segments = try GestureLabels.read(path: "\(root)/\(labels)", classCount: plan.classNames.count)
                let stream = try AEDAT31Reader.read(
                    path: "\(root)/\(recording)", options: .init(sensor: plan.sensor, limits: config.readerLimits))
                return .success(
                    zip(segments, GestureLabels.cut(stream, by: segments)).enumerated().map { k, pair in
                        encoded(pair.1, label: pair.0.label, split: split, origin: "\(recording)#\(k)")
                    })
            case .labelledFile(let path, let label, let split):
                let stream = try EventFile.read(
                    path: "\(plan.root!)/\(path)",
                    options: EventFile.Options(sensor: plan.sensor, orientation: config.orientation, limits: config.readerLimits))
                return .success([encoded(stream, label: label, split: split, origin: path)])
            }
        } catch let error as EventDataError {
            return .failure(error)
        } catch {
            return .failure(EventDataError(.unreadable, file: unit.name, message: "\(error)"))
        }
    }
}
