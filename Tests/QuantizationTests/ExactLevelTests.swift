import Foundation
import QuantConfig
import Quantization
import Seeding
import SpikingNN
import Tensor
import Testing

/// Hides a quantizer's levels, so that its layer computes with the float ŵ (the FP32 fake-quant path).
final class FloatOnlyQuantizer: WeightQuantizer {
    let inner: any WeightQuantizer
    init(_ inner: any WeightQuantizer) { self.inner = inner }
    func quantize(_ weight: Tensor) -> Tensor { inner.quantize(weight) }
    func backward(weight: Tensor, gradientOfQuantized: Tensor) -> Tensor { inner.backward(weight: weight, gradientOfQuantized: gradientOfQuantized) }
    var parameters: [Parameter] { inner.parameters }
}

/// The exact integer-level products against the FP32 fake-quantized ones.
struct ExactLevelTests {
    static func weights(_ count: Int, seed: UInt64) -> Tensor {
        var rng = SeededGenerator(seed: seed)
        return Tensor(shape: [count], scalars: (0..<count).map { _ in rng.nextGaussian() * 0.1 })
    }

    @Test(arguments: [LayerQuantization.uniform(2), .uniform(3), .uniform(4), .uniform(5), .uniform(6), .uniform(8),
                      .pot(2), .pot(3), .pot(4), .pot(5)])
    func levelsTimesScaleAreTheQuantizedWeightsBitForBit(choice: LayerQuantization) throws {
        let w = Self.weights(4096, seed: UInt64(choice.bits))
        let quantizer: any LayerQuantizer & LevelQuantizer = choice.scheme == .uniform
            ? UniformQuantizer(layer: "l", bits: choice.bits, weight: w) : PowerOfTwoQuantizer(layer: "l", bits: choice.bits, weight: w)
        let levels = try #require(quantizer.levels(of: w))
        let quantized = quantizer.quantize(w)
        for i in 0..<w.count {
            let level = levels.levels[flat: i]
            #expect(level == level.rounded() && abs(level) <= 0x1p24)
            #expect(level * levels.scale == quantized[flat: i], "element \(i)")
        }
    }

    @Test func widePowerOfTwoLevelsAreNotOffered() {
        let w = Self.weights(256, seed: 9)
        #expect(PowerOfTwoQuantizer(layer: "l", bits: 6, weight: w).levels(of: w) == nil)
        #expect(PowerOfTwoQuantizer(layer: "l", bits: 8, weight: w).levels(of: w) == nil)
    }

    /// |y_levels − y_fake| ≤ (k + 2)·u·(s·Σ|level·x| + |b|) per output: the fake-quant sum rounds each
    /// of its k partial sums and each ŵ = level·s once; the level sum is exact and rounds once when scaled.
    @Test(arguments: [LayerQuantization.uniform(8), .uniform(4), .pot(4), .pot(5)])
    func levelProductIsTheFakeQuantizedProductUpToRounding(choice: LayerQuantization) throws {
        var rng = SeededGenerator(seed: 70 + UInt64(choice.bits))
        let linear = TokenLinear(name: "l", inFeatures: 96, outFeatures: 32, bias: true, tokens: 20, generator: &rng)
        let x = Tensor(shape: [96, 4, 20], scalars: (0..<(96 * 80)).map { _ in rng.nextUnitFloat() < 0.25 ? Float(1 + Int(rng.next() % 3)) : 0 })
        let quantizer: any LayerQuantizer & LevelQuantizer = choice.scheme == .uniform
            ? UniformQuantizer(layer: "l", bits: choice.bits, weight: linear.weight.value)
            : PowerOfTwoQuantizer(layer: "l", bits: choice.bits, weight: linear.weight.value)
        linear.quantizer = quantizer
        let exact = linear.forward(x, training: false)
        #expect(linear.products.exactLevels == 1)
        linear.quantizer = FloatOnlyQuantizer(quantizer)
        let fake = linear.forward(x, training: false)
        #expect(linear.products.exactLevels == 1, "the float path ran")
        let levels = try #require(quantizer.levels(of: linear.weight.value))
        let bias = linear.bias!.value
        var worst = 0.0
        for o in 0..<32 {
            for n in 0..<80 {
                var magnitude = 0.0
                for i in 0..<96 { magnitude += Double(abs(levels.levels[flat: o * 96 + i])) * Double(x[flat: i * 80 + n]) }
                let bound = 98 * 0x1p-24 * (Double(levels.scale) * magnitude + Double(abs(bias[flat: o])))
                let difference = abs(Double(exact[flat: o * 80 + n]) - Double(fake[flat: o * 80 + n]))
                worst = max(worst, difference / max(bound, .leastNonzeroMagnitude))
            }
        }
        #expect(worst <= 1, "largest difference relative to its bound: \(worst)")
    }

    /// The residual stream after the patch splitting and after every block: sums of spike tensors,
    /// so equal streams mean equal spikes.
    static func residualStreams(_ model: Spikformer, _ input: Tensor) -> [Tensor] {
        var x = model.patchSplitting.forward(input, training: false)
        var streams = [x]
        for block in model.blocks {
            x = block.forward(x, training: false)
            streams.append(x)
        }
        return streams
    }

    @Test func exactLevelsGiveTheSameSpikesAsTheFakeQuantizedModel() throws {
        let model = QuantizerTests.activeModel(seed: 7)
        try model.applyQuantization(QuantizerTests.mixedConfig(model))
        let inputs = (0..<3).map { QuantizerTests.input(seed: 200 + UInt64($0)) }
        let exact = inputs.map { Self.residualStreams(model, $0) }
        let exactLogits = inputs.map { model.forward($0, training: false) }
        #expect(model.productRecords.contains { $0.record.exactLevels > 0 })
        let quantizers = model.quantizableLayers.map(\.quantizer)
        for (layer, quantizer) in zip(model.quantizableLayers, quantizers) { layer.quantizer = quantizer.map(FloatOnlyQuantizer.init) }
        let fake = inputs.map { Self.residualStreams(model, $0) }
        let fakeLogits = inputs.map { model.forward($0, training: false) }
        for (a, b) in zip(exact, fake) {
            for (streamA, streamB) in zip(a, b) {
                #expect(streamA.nonZeroCount() > 0)
                #expect(streamA == streamB)
            }
        }
        for (a, b) in zip(exactLogits, fakeLogits) {
            #expect(firstMismatch(a.scalars, b.scalars, relative: 1e-5, absolute: 1e-6) == nil)
        }
    }
}
