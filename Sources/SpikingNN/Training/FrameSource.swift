public import Seeding

/// A labelled set of event-frame samples the trainer and evaluator read.
///
/// A sample is `[T, C, H, W]` Float32 event counts (C = 2 polarities). Implementations must be
/// safe to call from a background thread: the trainer prefetches batches on one while the model
/// computes (calls are never concurrent with each other).
public protocol FrameSource: Sendable {
    /// Number of samples.
    var count: Int { get }
    /// Time steps T per sample.
    var timeSteps: Int { get }
    /// Channels C per frame (2: ON and OFF events).
    var channels: Int { get }
    var height: Int { get }
    var width: Int { get }
    /// Number of classes (labels are `0..<classCount`).
    var classCount: Int { get }
    /// The label of sample `index`.
    func label(at index: Int) -> Int
    /// Writes sample `index` as `[T, C, H, W]` into `buffer` (exactly T·C·H·W elements).
    ///
    /// - Parameters:
    ///   - augment: apply the dataset's training augmentation, drawing from `generator`.
    ///   - generator: the only source of randomness, so batches are reproducible.
    func writeSample(at index: Int, into buffer: UnsafeMutableBufferPointer<Float>, augment: Bool,
                     generator: inout SeededGenerator) throws
}

extension FrameSource {
    /// Elements per sample, T·C·H·W.
    public var sampleElementCount: Int { timeSteps * channels * height * width }
}

/// A frame source held in memory: samples `[N, T, C, H, W]` and labels. For tests and small sets;
/// `augment` is ignored.
public struct InMemoryFrameSource: FrameSource {
    public let samples: [Float]
    public let labels: [Int]
    public let timeSteps: Int
    public let channels: Int
    public let height: Int
    public let width: Int
    public let classCount: Int

    public init(samples: [Float], labels: [Int], timeSteps: Int, channels: Int = 2, height: Int, width: Int, classCount: Int) {
        precondition(samples.count == labels.count * timeSteps * channels * height * width,
                     "in-memory frames: \(samples.count) values for \(labels.count) samples of [\(timeSteps), \(channels), \(height), \(width)]")
        precondition(labels.allSatisfy { (0..<classCount).contains($0) }, "in-memory frames: label outside 0..<\(classCount)")
        self.samples = samples
        self.labels = labels
        self.timeSteps = timeSteps
        self.channels = channels
        self.height = height
        self.width = width
        self.classCount = classCount
    }

    public var count: Int { labels.count }
    public func label(at index: Int) -> Int { labels[index] }

    public func writeSample(at index: Int, into buffer: UnsafeMutableBufferPointer<Float>, augment: Bool,
                            generator: inout SeededGenerator) throws {
        let n = sampleElementCount
        precondition(buffer.count == n, "sample buffer holds \(buffer.count) values, need \(n)")
        samples.withUnsafeBufferPointer { source in
            buffer.baseAddress!.update(from: source.baseAddress! + index * n, count: n)
        }
    }
}
