import Events
import Seeding
import SpikingNN

/// One split of a prepared (cached) event dataset, seen through the engine's ``FrameSource``.
public struct CachedFrames: FrameSource {
    public let dataset: FrameDataset

    public init(_ dataset: FrameDataset) { self.dataset = dataset }

    public var count: Int { dataset.count }
    public var timeSteps: Int { dataset.timeSteps }
    public var channels: Int { dataset.channels }
    public var height: Int { dataset.height }
    public var width: Int { dataset.width }
    public var classCount: Int { dataset.classNames.count }
    public func label(at index: Int) -> Int { dataset.label(at: index) }

    public func writeSample(
        at index: Int, into buffer: UnsafeMutableBufferPointer<Float>, augment: Bool, generator: inout SeededGenerator
    ) throws {
        dataset.writeSample(index, into: buffer, augment: augment, using: &generator)
    }
}

extension EvaluationData {
    /// Prepares (or opens the cache of) a dataset and exposes its three splits.
    public static func prepare(
        _ config: DatasetConfig, threads: Int = 0, progress: @escaping @Sendable (PrepareProgress) -> Void = { _ in }
    ) throws -> EvaluationData {
        let prepared = try FrameCache.prepare(config, threads: threads, progress: progress)
        return EvaluationData(
            train: CachedFrames(prepared.train), validation: CachedFrames(prepared.validation), test: CachedFrames(prepared.test),
            fingerprint: prepared.fingerprint)
    }
}
