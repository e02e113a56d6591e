import Foundation
import Seeding
import SpikingNN
import Statistics
import Tensor

/// Dense GEMM against event-driven kernel, per product layer of a model and input density: the
/// measurement behind the crossover densities in `ProductCrossover` (`spikeq bench products`).
///
/// Each layer gets a synthetic binary input of the given density in its own shape (frames =
/// time steps × batch) and a Gaussian output gradient; the forward product and the weight
/// gradient (backward without dx, the part the paths differ in) are timed on both paths,
/// alternating, and the medians reported.
public enum ProductPathBenchmark {
    public struct Measurement: Sendable, Hashable, Codable {
        public var layer: String
        /// `conv 64→128 @32×32` or `linear 256→1024 ×64 tokens`.
        public var shape: String
        /// `forward` or `weight-gradient`.
        public var pass: String
        public var density: Double
        public var denseMilliseconds: Double
        public var eventMilliseconds: Double
        /// Dense time over event time: above 1 the event kernel is faster.
        public var speedup: Double
        /// The path the engine picks on its own (`ProductMode.automatic`) at this density.
        public var automaticPath: String
    }

    public static func run(_ model: Spikformer, batchSize: Int, densities: [Double], repeats: Int) -> [Measurement] {
        let frames = model.config.timeSteps * batchSize
        var rng = SeededGenerator(seed: 1)
        let subjects = model.modules(of: Conv2d.self).map { Subject($0, frames: frames) }
            + model.modules(of: TokenLinear.self).map { Subject($0, frames: frames) }
        return subjects.flatMap { subject in
            densities.flatMap { density in
                let x = binary(subject.inputShape, density: density, &rng)
                let dy = gaussian(subject.gradientShape, &rng)
                defer { subject.zeroGradients() }
                return measure(subject, x: x, dy: dy, density: density, repeats: repeats)
            }
        }
    }

    /// One product layer as the benchmark drives it: its shapes and the calls it needs.
    private struct Subject {
        var name: String
        var shape: String
        var inputShape: [Int]
        var gradientShape: [Int]
        var setMode: (ProductMode) -> Void
        var record: () -> ProductRecord
        var forward: (Tensor, _ training: Bool) -> Void
        /// The backward pass without dx: the weight gradient (and a bias gradient, which is the same on both paths).
        var backward: (Tensor) -> Void
        var zeroGradients: () -> Void

        init(_ layer: Conv2d, frames: Int) {
            name = layer.name
            shape = "conv \(layer.inChannels)→\(layer.outChannels) @\(layer.height)×\(layer.width)"
            inputShape = [layer.inChannels, frames, layer.height, layer.width]
            gradientShape = [layer.outChannels, frames, layer.height, layer.width]
            setMode = { layer.productMode = $0 }
            record = { layer.products }
            forward = { _ = layer.forward($0, training: $1) }
            backward = { _ = layer.backward($0, needsInputGradient: false) }
            zeroGradients = { layer.weight.zeroGradient() }
        }

        init(_ layer: TokenLinear, frames: Int) {
            name = layer.name
            shape = "linear \(layer.inFeatures)→\(layer.outFeatures) ×\(layer.tokens) tokens"
            inputShape = [layer.inFeatures, frames, layer.tokens]
            gradientShape = [layer.outFeatures, frames, layer.tokens]
            setMode = { layer.productMode = $0 }
            record = { layer.products }
            forward = { _ = layer.forward($0, training: $1) }
            backward = { _ = layer.backward($0, needsInputGradient: false) }
            zeroGradients = {
                layer.weight.zeroGradient()
                layer.bias?.zeroGradient()
            }
        }
    }

    /// Times both passes on both paths (alternating, `repeats` each), then asks the layer which
    /// paths it picks by itself.
    private static func measure(_ subject: Subject, x: Tensor, dy: Tensor, density: Double, repeats: Int) -> [Measurement] {
        let clock = ContinuousClock()
        var times: [String: [Double]] = [:]
        for _ in 0..<repeats {
            for path in [ProductMode.dense, .events] {
                subject.setMode(path)
                times["forward-\(path)", default: []].append(milliseconds(clock.measure { subject.forward(x, false) }))
                subject.forward(x, true)
                times["weight-gradient-\(path)", default: []].append(milliseconds(clock.measure { subject.backward(dy) }))
            }
        }
        let before = subject.record()
        subject.setMode(.automatic)
        subject.forward(x, true)
        subject.backward(dy)
        let after = subject.record()
        let picks = [
            "forward": after.eventForward > before.eventForward ? "events" : "dense",
            "weight-gradient": after.eventWeightGradient > before.eventWeightGradient ? "events" : "dense",
        ]
        return ["forward", "weight-gradient"].map { pass in
            let dense = Quantiles.median(times["\(pass)-\(ProductMode.dense)"]!)
            let events = Quantiles.median(times["\(pass)-\(ProductMode.events)"]!)
            return Measurement(layer: subject.name, shape: subject.shape, pass: pass, density: density, denseMilliseconds: dense,
                               eventMilliseconds: events, speedup: dense / events, automaticPath: picks[pass]!)
        }
    }

    private static func binary(_ shape: [Int], density: Double, _ rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.nextUnitDouble() < density ? 1 : 0 })
    }

    /// Approximately standard normal (sum of four uniforms, rescaled): only the sizes matter here.
    private static func gaussian(_ shape: [Int], _ rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in
            ((0..<4).reduce(Float(0)) { sum, _ in sum + rng.nextUnitFloat() } - 2) * 1.7
        })
    }

    private static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1e3 + Double(duration.components.attoseconds) * 1e-15
    }
}
