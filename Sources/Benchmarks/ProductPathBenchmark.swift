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
        var results: [Measurement] = []
        for layer in model.modules(of: Conv2d.self) {
            let shape = "conv \(layer.inChannels)→\(layer.outChannels) @\(layer.height)×\(layer.width)"
            for density in densities {
                let x = binary([layer.inChannels, frames, layer.height, layer.width], density: density, &rng)
                let dy = gaussian([layer.outChannels, frames, layer.height, layer.width], &rng)
                results += measure(layer.name, shape, density, repeats: repeats, mode: { layer.productMode = $0 },
                                   forward: { _ = layer.forward(x, training: false) },
                                   weightGradient: {
                                       _ = layer.forward(x, training: true)
                                       return { _ = layer.backward(dy, needsInputGradient: false) }
                                   },
                                   automatic: { layer.productMode = .automatic; _ = layer.forward(x, training: true); _ = layer.backward(dy, needsInputGradient: false) },
                                   record: { layer.products })
                layer.weight.zeroGradient()
            }
        }
        for layer in model.modules(of: TokenLinear.self) {
            let shape = "linear \(layer.inFeatures)→\(layer.outFeatures) ×\(layer.tokens) tokens"
            for density in densities {
                let x = binary([layer.inFeatures, frames, layer.tokens], density: density, &rng)
                let dy = gaussian([layer.outFeatures, frames, layer.tokens], &rng)
                results += measure(layer.name, shape, density, repeats: repeats, mode: { layer.productMode = $0 },
                                   forward: { _ = layer.forward(x, training: false) },
                                   weightGradient: {
                                       _ = layer.forward(x, training: true)
                                       return { _ = layer.backward(dy, needsInputGradient: false) }
                                   },
                                   automatic: { layer.productMode = .automatic; _ = layer.forward(x, training: true); _ = layer.backward(dy, needsInputGradient: false) },
                                   record: { layer.products })
                layer.weight.zeroGradient()
                layer.bias?.zeroGradient()
            }
        }
        return results
    }

    /// Times both passes on both paths (alternating, `repeats` each), then asks the layer which
    /// paths it picks by itself.
    private static func measure(_ layer: String, _ shape: String, _ density: Double, repeats: Int,
                                mode: (ProductMode) -> Void, forward: () -> Void, weightGradient: () -> (() -> Void),
                                automatic: () -> Void, record: () -> ProductRecord) -> [Measurement] {
        let clock = ContinuousClock()
        var times: [String: [Double]] = [:]
        for _ in 0..<repeats {
            for path in [ProductMode.dense, .events] {
                mode(path)
                times["forward-\(path)", default: []].append(milliseconds(clock.measure(forward)))
                let backward = weightGradient()
                times["weight-gradient-\(path)", default: []].append(milliseconds(clock.measure(backward)))
            }
        }
        let before = record()
        automatic()
        let after = record()
        let picks = [
            "forward": after.eventForward > before.eventForward ? "events" : "dense",
            "weight-gradient": after.eventWeightGradient > before.eventWeightGradient ? "events" : "dense",
        ]
        return ["forward", "weight-gradient"].map { pass in
            let dense = Quantiles.median(times["\(pass)-\(ProductMode.dense)"]!)
            let events = Quantiles.median(times["\(pass)-\(ProductMode.events)"]!)
            return Measurement(layer: layer, shape: shape, pass: pass, density: density, denseMilliseconds: dense,
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
