import Seeding
import SpikingNN
import Tensor
import TestSupport
import Testing

/// A learned-scale sign quantizer: ŵ = s·sign(w); dŵ/dw straight-through, dL/ds = Σ dL/dŵ·sign(w).
final class SignQuantizer: WeightQuantizer {
    let scale: Parameter
    var calls = 0

    init(layer: String, scale: Float) {
        self.scale = Parameter(name: "\(layer).quantizer.scale", value: Tensor(shape: [1], scalars: [scale]))
    }

    func quantize(_ weight: Tensor) -> Tensor {
        calls += 1
        let s = scale.value[flat: 0]
        return Tensor(shape: weight.shape, scalars: weight.scalars.map { $0 >= 0 ? s : -s })
    }

    func backward(weight: Tensor, gradientOfQuantized: Tensor) -> Tensor {
        var ds: Float = 0
        for i in 0..<weight.count { ds += gradientOfQuantized[flat: i] * (weight[flat: i] >= 0 ? 1 : -1) }
        scale.accumulateGradient(Tensor(shape: [1], scalars: [ds]))
        return gradientOfQuantized
    }

    var parameters: [Parameter] { [scale] }
}

struct QuantizerContractTests {
    @Test func forwardUsesTheQuantizedWeightAndBackwardReachesTheQuantizer() {
        var rng = SeededGenerator(seed: 51)
        let linear = TokenLinear(name: "l", inFeatures: 4, outFeatures: 3, bias: false, tokens: 2, generator: &rng)
        let x = GradientCheck.random([4, 2], &rng)
        let r = GradientCheck.random([3, 2], &rng)
        let quantizer = SignQuantizer(layer: "l", scale: 0.5)
        linear.quantizer = quantizer
        let y = linear.forward(x, training: true)
        let wq = quantizer.quantize(linear.weight.value)
        #expect(y == BLAS.matmul(wq, x))
        _ = linear.backward(r)
        // dL/dŵ = r·xᵀ passes straight through to the weight; the scale gets Σ dL/dŵ·sign(w).
        let expected = BLAS.matmul(r, x, transposeB: true)
        #expect(firstMismatch(linear.weight.gradient!.scalars, expected.scalars, relative: 1e-5, absolute: 1e-6) == nil)
        GradientCheck.expectMatches(quantizer.scale.gradient!, at: quantizer.scale.value, indices: [0], eps: 1e-2, "ds") { s in
            quantizer.scale.value = s
            return GradientCheck.project(linear.forward(x, training: false), r)
        }
    }

    @Test func evaluationCachesUntilWeightOrQuantizerChanges() {
        var rng = SeededGenerator(seed: 52)
        let conv = Conv2d(name: "c", inChannels: 1, outChannels: 2, height: 3, width: 3, generator: &rng)
        let quantizer = SignQuantizer(layer: "c", scale: 0.25)
        conv.quantizer = quantizer
        let x = GradientCheck.random([1, 2, 3, 3], &rng)
        _ = conv.forward(x, training: false)
        _ = conv.forward(x, training: false)
        #expect(quantizer.calls == 1)
        quantizer.scale.value = Tensor(shape: [1], scalars: [0.3])
        _ = conv.forward(x, training: false)
        #expect(quantizer.calls == 2)
        conv.weight.value = GradientCheck.random([2, 1, 3, 3], &rng)
        _ = conv.forward(x, training: false)
        #expect(quantizer.calls == 3)
        _ = conv.forward(x, training: true)
        _ = conv.forward(x, training: true)
        #expect(quantizer.calls == 5)
        conv.invalidateQuantizedWeight()
        _ = conv.forward(x, training: false)
        #expect(quantizer.calls == 6)
    }

    @Test func attachedQuantizerParametersAreTrained() throws {
        let config = TinyConfigs.training
        let model = Spikformer(config: config)
        let baseCount = model.trainableParameters.count
        let quantizer = SignQuantizer(layer: "head", scale: 0.1)
        let head = try #require(model.quantizableLayer(named: "head"))
        head.quantizer = quantizer
        #expect(model.trainableParameters.count == baseCount + 1)
        #expect(model.parameterCount == Spikformer(config: config).parameterCount)
        let before = quantizer.scale.value
        let data = TinyData.halves(config: config, count: 4, seed: 2)
        try Trainer.train(model, on: data, config: TrainingConfig(epochs: 1, batchSize: 4))
        #expect(quantizer.scale.value != before)
        #expect(!model.namedState.contains { $0.name.contains("quantizer") })
    }
}
