import Foundation
import Seeding
import SpikingNN
import Tensor

/// Small configurations and data for model-level tests.
enum TinyConfigs {
    /// Small enough for finite differences over the whole model.
    static let gradientCheck = SpikformerConfig(
        inputHeight: 8, inputWidth: 8, timeSteps: 2, embedDimension: 16, depth: 1, heads: 2, mlpRatio: 2,
        poolAfterStage: [true, false, false, false], classes: 3)

    /// For training tests: 16×16 input, 16 tokens.
    static let training = SpikformerConfig(
        inputHeight: 16, inputWidth: 16, timeSteps: 4, embedDimension: 32, depth: 1, heads: 2, mlpRatio: 2,
        poolAfterStage: [false, true, false, false], classes: 2)

    /// The repository root (for configs/).
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static func modelConfigURL(_ name: String) -> URL {
        repositoryRoot.appendingPathComponent("configs/models/\(name).yaml")
    }
}

/// A learnable toy problem: class 0 has events in the left half, class 1 in the right half.
enum TinyData {
    static func halves(config: SpikformerConfig, count: Int, seed: UInt64) -> InMemoryFrameSource {
        var rng = SeededGenerator(seed: seed)
        let (t, c, h, w) = (config.timeSteps, config.inputChannels, config.inputHeight, config.inputWidth)
        var samples = [Float](repeating: 0, count: count * t * c * h * w)
        var labels: [Int] = []
        for s in 0..<count {
            let label = s % 2
            labels.append(label)
            for step in 0..<t {
                for channel in 0..<c {
                    for y in 0..<h {
                        for x in 0..<w {
                            let inside = label == 0 ? x < w / 2 : x >= w / 2
                            let rate: Float = inside ? 0.35 : 0.03
                            if rng.nextUnitFloat() < rate {
                                samples[(((s * t + step) * c + channel) * h + y) * w + x] = Float(1 + rng.next() % 2)
                            }
                        }
                    }
                }
            }
        }
        return InMemoryFrameSource(samples: samples, labels: labels, timeSteps: t, channels: c, height: h, width: w, classCount: 2)
    }

    /// Random event counts `[B, T, C, H, W]` packed to the model layout.
    static func input(config: SpikformerConfig, batch: Int, rng: inout SeededGenerator) -> Tensor {
        let shape = [batch, config.timeSteps, config.inputChannels, config.inputHeight, config.inputWidth]
        let samples = Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.nextUnitFloat() < 0.2 ? Float(1 + rng.next() % 3) : 0 })
        return Spikformer.packInput(samples)
    }
}
