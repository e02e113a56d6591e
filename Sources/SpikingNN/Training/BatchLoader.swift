import Foundation
public import Seeding
public import Tensor

/// One mini-batch in the model's input layout.
public struct FrameBatch: Sendable {
    /// `[C, T·B, H, W]` event counts.
    public var input: Tensor
    public var labels: [Int]
    /// Indices of the samples in the source.
    public var indices: [Int]
}

/// Assembles batches on a background thread, ahead of the consumer, so that compute never waits
/// for data while the source keeps up.
///
/// Batch `i` holds `order[i·B ..< (i+1)·B]` (the last one may be smaller); sample augmentation
/// draws from a generator derived from `seed` and the batch index only, so batches do not depend
/// on thread timing.
package final class BatchLoader: @unchecked Sendable {
    // @unchecked: `queue`, `finished`, `failure` and `cancelled` are guarded by `condition`; the
    // producer thread is the only user of `source` and `order` after start.
    private let condition = NSCondition()
    private var queue: [FrameBatch] = []
    private var finished = false
    private var cancelled = false
    private var failure: (any Error)?
    private let depth: Int
    let batchCount: Int

    package init(source: any FrameSource, order: [Int], batchSize: Int, augment: Bool, seed: UInt64, depth: Int = 2) {
        precondition(batchSize > 0, "batch size must be positive")
        self.depth = depth
        batchCount = (order.count + batchSize - 1) / batchSize
        let thread = Thread { [self] in
            produce(source: source, order: order, batchSize: batchSize, augment: augment, seed: seed)
        }
        thread.name = "spikeq.prefetch"
        thread.start()
    }

    deinit { cancel() }

    private func produce(source: any FrameSource, order: [Int], batchSize: Int, augment: Bool, seed: UInt64) {
        let sampleCount = source.sampleElementCount
        let sample = UnsafeMutableBufferPointer<Float>.allocate(capacity: sampleCount)
        defer { sample.deallocate() }
        for batchIndex in 0..<batchCount {
            let indices = Array(order[(batchIndex * batchSize)..<min(order.count, (batchIndex + 1) * batchSize)])
            var input = Tensor(uninitializedShape: [source.channels, source.timeSteps * indices.count, source.height, source.width])
            var generator = SeededGenerator(seed: seed, stream: "batch.\(batchIndex)")
            do {
                try input.withUnsafeMutableBufferPointer { target in
                    for (slot, index) in indices.enumerated() {
                        try source.writeSample(at: index, into: sample, augment: augment, generator: &generator)
                        Spikformer.packSample(UnsafePointer(sample.baseAddress!), count: 1, timeSteps: source.timeSteps,
                                              channels: source.channels, plane: source.height * source.width,
                                              into: target.baseAddress!, firstSlot: slot, batch: indices.count)
                    }
                }
            } catch {
                condition.lock()
                failure = error
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let batch = FrameBatch(input: input, labels: indices.map { source.label(at: $0) }, indices: indices)
            condition.lock()
            while queue.count >= depth && !cancelled { condition.wait() }
            if cancelled {
                condition.unlock()
                return
            }
            queue.append(batch)
            condition.broadcast()
            condition.unlock()
        }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch, waiting for it if needed; nil at the end.
    package func next() throws -> FrameBatch? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !finished { condition.wait() }
        if !queue.isEmpty {
            let batch = queue.removeFirst()
            condition.broadcast()
            return batch
        }
        if let failure { throw failure }
        return nil
    }

    /// Stops the producer early.
    package func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}
