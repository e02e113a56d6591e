import Foundation
public import Seeding

/// Spike-like event-count frames for benchmarks: sparse Poisson counts concentrated in a few
/// Gaussian blobs that move across the sensor over the T time steps, on a faint background.
///
/// Typical sparsity is 5–15 % non-zero pixels, like DVS gesture recordings, unlike uniform noise.
/// Sample i is a pure function of `seed` and i; the label is `i % classCount`.
public struct SyntheticEventFrames: FrameSource {
    public let count: Int
    public let timeSteps: Int
    public let channels: Int
    public let height: Int
    public let width: Int
    public let classCount: Int
    public let seed: UInt64
    /// Events per pixel per frame at a blob's centre, and in the background.
    public var peakRate: Double = 1.2
    public var backgroundRate: Double = 0.005

    public init(count: Int, timeSteps: Int, channels: Int = 2, height: Int, width: Int, classCount: Int, seed: UInt64 = 0) {
        self.count = count
        self.timeSteps = timeSteps
        self.channels = channels
        self.height = height
        self.width = width
        self.classCount = classCount
        self.seed = seed
    }

    public func label(at index: Int) -> Int { index % classCount }

    public func writeSample(at index: Int, into buffer: UnsafeMutableBufferPointer<Float>, augment: Bool,
                            generator: inout SeededGenerator) throws {
        precondition(buffer.count == sampleElementCount, "sample buffer holds \(buffer.count) values, need \(sampleElementCount)")
        var rng = SeededGenerator(seed: seed, stream: "synthetic.\(index)")
        let scale = Double(min(height, width))
        struct Blob { var x, y, vx, vy, sigma: Double }
        let blobs = (0..<2).map { _ in
            Blob(x: rng.nextUnitDouble() * Double(width), y: rng.nextUnitDouble() * Double(height),
                 vx: (rng.nextUnitDouble() - 0.5) * scale / Double(timeSteps), vy: (rng.nextUnitDouble() - 0.5) * scale / Double(timeSteps),
                 sigma: scale * (0.06 + 0.06 * rng.nextUnitDouble()))
        }
        for t in 0..<timeSteps {
            for c in 0..<channels {
                // Polarities see the blob edges slightly apart (leading vs trailing edge).
                let shift = c == 0 ? 0.5 : -0.5
                for y in 0..<height {
                    for x in 0..<width {
                        var rate = backgroundRate
                        for blob in blobs {
                            let cx = blob.x + blob.vx * (Double(t) + shift)
                            let cy = blob.y + blob.vy * (Double(t) + shift)
                            let d2 = (Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)
                            rate += peakRate * Foundation.exp(-d2 / (2 * blob.sigma * blob.sigma))
                        }
                        buffer[((t * channels + c) * height + y) * width + x] = Float(Self.poisson(rate, &rng))
                    }
                }
            }
        }
    }

    /// Knuth's multiplication method; fine for the small rates used here.
    static func poisson(_ rate: Double, _ rng: inout SeededGenerator) -> Int {
        let limit = Foundation.exp(-rate)
        var k = 0
        var p = rng.nextUnitDouble()
        while p > limit {
            k += 1
            p *= rng.nextUnitDouble()
        }
        return k
    }

    /// The first `count` samples copied into memory (so a benchmark's loader costs only a copy).
    public func materialized(count: Int) throws -> InMemoryFrameSource {
        var samples = [Float](repeating: 0, count: count * sampleElementCount)
        var generator = SeededGenerator(seed: seed)
        try samples.withUnsafeMutableBufferPointer { all in
            for i in 0..<count {
                let slice = UnsafeMutableBufferPointer(rebasing: all[(i * sampleElementCount)..<((i + 1) * sampleElementCount)])
                try writeSample(at: i, into: slice, augment: false, generator: &generator)
            }
        }
        return InMemoryFrameSource(samples: samples, labels: (0..<count).map(label(at:)), timeSteps: timeSteps, channels: channels,
                                   height: height, width: width, classCount: classCount)
    }
}
