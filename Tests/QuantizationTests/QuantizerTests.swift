import ConfigFiles
import Foundation
import QuantConfig
import Quantization
import Seeding
import SpikingNN
import Tensor
import Testing

struct QuantizerTests {
    @Test func uniformBackwardFollowsLSQ() {
        // step initialised from the weights, then pinned to 0.5 for a hand computation.
        let weight = Tensor(shape: [3], scalars: [0.3, -1.2, 5.0])
        let quantizer = UniformQuantizer(layer: "l", bits: 3, weight: weight)
        quantizer.scale.value = Tensor(shape: [1], scalars: [0.5])
        #expect(quantizer.quantize(weight).scalars == [0.5, -1.0, 1.5])
        let g = quantizer.backward(weight: weight, gradientOfQuantized: Tensor(shape: [3], scalars: [1, 1, 1]))
        // v = w/s = 0.6, -2.4, 10 (Qp = 3): straight-through inside the range only.
        #expect(g.scalars == [1, 1, 0])
        // ds = Σ g·(round(v) - v inside, Qp outside) / sqrt(N·Qp) = (0.4 + 0.4 + 3) / 3.
        #expect(isClose(quantizer.scale.gradient![flat: 0], 3.8 / 3, relative: 1e-5))
    }

    @Test func powerOfTwoBackwardFollowsTheSameRule() {
        let weight = Tensor(shape: [3], scalars: [0.3, -0.9, 2.0])
        let quantizer = PowerOfTwoQuantizer(layer: "l", bits: 3, weight: weight)
        quantizer.scale.value = Tensor(shape: [1], scalars: [1])
        // Levels 0, 0.25, 0.5, 1: 0.3 -> 0.25, -0.9 -> -1, 2.0 clips to 1.
        #expect(quantizer.quantize(weight).scalars == [0.25, -1, 1])
        let g = quantizer.backward(weight: weight, gradientOfQuantized: Tensor(shape: [3], scalars: [2, 1, 1]))
        #expect(g.scalars == [2, 1, 0])
        // dα = Σ g·(q(v) - v inside, ±1 outside) / sqrt(N·(M-1)) = (2·(-0.05) + (-0.1) + 1) / 3.
        #expect(isClose(quantizer.scale.gradient![flat: 0], 0.8 / 3, relative: 1e-5))
    }

    /// Given the forward pass's ŵ (as a layer passes it), the
    /// power-of-two backward skips re-quantizing; its gradients must follow the rule computed
    /// straight from the codec, at every width.
    @Test(arguments: QuantizationSpace.supportedBits)
    func powerOfTwoBackwardFromTheForwardsWeightsFollowsTheCodec(bits: Int) throws {
        var rng = SeededGenerator(seed: UInt64(bits))
        let weight = Tensor(shape: [300], scalars: (0..<300).map { _ in (rng.nextUnitFloat() - 0.5) * 0.6 })
        let gradient = Tensor(shape: [300], scalars: (0..<300).map { _ in rng.nextUnitFloat() - 0.5 })
        let quantizer = PowerOfTwoQuantizer(layer: "l", bits: bits, weight: weight)
        // What the layer passes: its levels times their unit, or for wide codes (no levels) ŵ itself.
        var quantized = quantizer.quantize(weight)
        if let levels = quantizer.levels(of: weight) {
            quantized = levels.levels
            quantized.scale(by: levels.scale)
        }
        let g = quantizer.backward(weight: weight, quantized: quantized, gradientOfQuantized: gradient)
        let codec = PowerOfTwoCodec(bits: bits, alpha: quantizer.scale.value[flat: 0])
        var alphaGradient = 0.0
        for i in 0..<300 {
            let v = weight[flat: i] / codec.alpha
            let inside = abs(v) <= 1
            #expect(g[flat: i] == (inside ? gradient[flat: i] : 0))
            let derivative = inside ? codec.value(of: codec.code(of: weight[flat: i])) / codec.alpha - v : (v < 0 ? -1 : 1)
            alphaGradient += Double(gradient[flat: i] * derivative)
        }
        let expected = Float(alphaGradient) / (300 * Float(codec.magnitudeCount - 1)).squareRoot()
        #expect(isClose(try #require(quantizer.scale.gradient)[flat: 0], expected, relative: 1e-4, absolute: 1e-6))
    }

    static let config = SpikformerConfig(
        inputHeight: 16, inputWidth: 16, timeSteps: 2, embedDimension: 16, depth: 1, heads: 2, mlpRatio: 2,
        poolAfterStage: [false, true, false, false], classes: 3)

    static func input(seed: UInt64) -> Tensor {
        var rng = SeededGenerator(seed: seed)
        let c = config
        let samples = (0..<(4 * c.timeSteps * 2 * c.inputHeight * c.inputWidth)).map { _ in
            rng.nextUnitFloat() < 0.15 ? Float(1 + Int(rng.next() % 3)) : 0
        }
        return Spikformer.packInput(Tensor(shape: [4, c.timeSteps, 2, c.inputHeight, c.inputWidth], scalars: samples))
    }

    /// A model whose BatchNorm running statistics are warmed up on data, so that its neurons fire
    /// in evaluation (a fresh model's are silent and every output equals the head's bias).
    static func activeModel(seed: UInt64) -> Spikformer {
        let model = Spikformer(config: config, seed: seed)
        for step in 0..<80 { _ = model.forward(input(seed: 100 + UInt64(step)), training: true) }
        let logits = model.forward(input(seed: 2), training: false).scalars
        precondition(Set(logits).count > 3, "model did not become active")
        return model
    }

    static func mixedConfig(_ model: Spikformer) -> QuantizationConfig {
        var config = QuantizationConfig(layers: [:])
        for (i, layer) in model.quantizableLayers.enumerated() {
            config[layer.name] = [.uniform(8), .pot(3), .uniform(2), .pot(5), .uniform(4), .float, .uniform(3), .pot(2)][i % 8]
        }
        return config
    }

    @Test func allFloatConfigReproducesTheFP32ModelBitForBit() throws {
        let model = Self.activeModel(seed: 1)
        let x = Self.input(seed: 2)
        let reference = model.forward(x, training: false)
        try model.applyQuantization(.uniformChoice(.float, layers: Self.config.quantizableLayerNames))
        #expect(model.forward(x, training: false).scalars == reference.scalars)
        #expect(model.attachedQuantization == .uniformChoice(.float, layers: Self.config.quantizableLayerNames))
    }

    @Test func quantizedForwardUsesQuantizedWeights() throws {
        let model = Self.activeModel(seed: 1)
        let x = Self.input(seed: 2)
        let reference = model.forward(x, training: false).scalars
        try model.applyQuantization(.uniformChoice(.uniform(2), layers: Self.config.quantizableLayerNames))
        #expect(model.forward(x, training: false).scalars != reference)
        // Removing the quantizers restores the FP32 model exactly.
        model.removeQuantization()
        #expect(model.forward(x, training: false).scalars == reference)
    }

    @Test func exportThenLoadGivesExactlyTheFakeQuantizedOutputs() throws {
        let model = Self.activeModel(seed: 3)
        try model.applyQuantization(Self.mixedConfig(model))
        // Move the learned scales away from their initial values, as fine-tuning would.
        for layer in model.quantizableLayers {
            if let q = layer.quantizer as? any LayerQuantizer { q.scale.value = Tensor(shape: [1], scalars: [q.scale.value[flat: 0] * 0.93]) }
        }
        let x = Self.input(seed: 4)
        let fakeQuantized = model.forward(x, training: false).scalars
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("packed-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try PackedModel.write(model, to: url)
        let (loaded, quantization, _) = try PackedModel.load(contentsOf: url)
        #expect(quantization == Self.mixedConfig(model))
        // Every quantized layer gets its quantizer back with the stored scale, so it runs the same
        // exact integer-level products as the model that was measured.
        #expect(loaded.attachedQuantization == Self.mixedConfig(model))
        #expect(loaded.forward(x, training: false).scalars == fakeQuantized)
        #expect(loaded.productRecords.map(\.record.exactLevels) == model.productRecords.map(\.record.exactLevels))
    }

    @Test func packedSizeCountsCodesAtTheirWidthScalesAndFloatTensors() throws {
        let model = Spikformer(config: Self.config, seed: 5)
        let names = Self.config.quantizableLayerNames
        try model.applyQuantization(.uniformChoice(.uniform(4), layers: names))
        let counts = model.quantizableWeightCounts
        let floatBytes = model.stateParameters.reduce(0) { $0 + $1.value.count * 4 }
        let weightFloatBytes = counts.values.reduce(0, +) * 4
        let codeBytes = counts.values.reduce(0) { $0 + ($1 * 4 + 7) / 8 }
        #expect(PackedModel.packedBytes(of: model) == floatBytes - weightFloatBytes + codeBytes + 4 * names.count)
    }

    @Test func corruptPackedFilesAreRejectedWithTheTensorNamed() throws {
        let model = Spikformer(config: Self.config, seed: 6)
        try model.applyQuantization(.uniformChoice(.uniform(3), layers: Self.config.quantizableLayerNames))
        var document = PackedModel.document(of: model)
        document.set("head.weight.codes", SafetensorsTensor(u8: [1, 2], shape: [2]))
        let error = try #require(throws: PackedModelError.self) { try PackedModel.load(document, file: "bad.safetensors") }
        #expect(error.tensor == "head.weight.codes")
        #expect(error.description.hasPrefix("bad.safetensors: tensor `head.weight.codes`"))
        let plain = model.checkpoint()
        #expect(throws: PackedModelError.self) { try PackedModel.load(plain, file: "fp32.safetensors") }
    }

    /// A layout shape in the metadata that is negative, overflows, or asks for more codes than the
    /// codes tensor holds is refused with the tensor named (these trapped before).
    @Test(arguments: [[-3, 64], [Int.max / 2, 4], [1 << 40]])
    func craftedLayoutShapesAreRejected(shape: [Int]) throws {
        let model = Spikformer(config: Self.config, seed: 6)
        try model.applyQuantization(.uniformChoice(.uniform(3), layers: Self.config.quantizableLayerNames))
        var document = PackedModel.document(of: model)
        let key = PackedModel.layoutMetadataKey
        let layoutJSON = try #require(document.metadata[key])
        var layouts = try #require(JSONSerialization.jsonObject(with: Data(layoutJSON.utf8)) as? [String: [String: Any]])
        layouts["head.weight"]?["shape"] = shape
        document.metadata[key] = String(decoding: try JSONSerialization.data(withJSONObject: layouts), as: UTF8.self)
        let error = try #require(throws: PackedModelError.self) { try PackedModel.load(document, file: "crafted.safetensors") }
        #expect(error.tensor == "head.weight.codes")
        #expect(error.description.contains("layout shape"))
    }

    @Test func configValidationNamesTheLayer() {
        let model = Spikformer(config: Self.config, seed: 1)
        var config = QuantizationConfig.uniformChoice(.uniform(4), layers: Self.config.quantizableLayerNames)
        config["blocks.7.attn.q.linear"] = .uniform(4)
        #expect(throws: ConfigError.self) { try model.applyQuantization(config) }
        config = QuantizationConfig.uniformChoice(.uniform(4), layers: Array(Self.config.quantizableLayerNames.dropLast()))
        do {
            try model.applyQuantization(config)
            Issue.record("expected an error")
        } catch {
            #expect(error.layer == "head")
        }
    }
}
