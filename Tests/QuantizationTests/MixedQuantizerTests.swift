import Foundation
import QuantConfig
import Quantization
import Seeding
import SpikingNN
import Tensor
import Testing

/// The Gumbel-softmax supernet layer: its mixed forward and its gradients against the standalone
/// quantizers and finite differences.
struct MixedQuantizerTests {
    static let choices: [LayerQuantization] = [.uniform(2), .pot(3), .uniform(4), .float]

    static func weight(count: Int = 24, seed: UInt64 = 5) -> Tensor {
        var rng = SeededGeneratorShim(seed: seed)
        return Tensor(shape: [count], scalars: (0..<count).map { _ in 0.4 * rng.gaussian() })
    }

    /// A mixed quantizer with distinct, non-trivial logits and temperature.
    static func mixed(weight: Tensor, temperature: Float = 0.7) -> MixedQuantizer {
        let quantizer = MixedQuantizer(layer: "l", choices: choices, weight: weight, seed: 3)
        quantizer.architectureLogits.value = Tensor(shape: [4], scalars: [0.3, -0.5, 0.8, 0.1])
        quantizer.temperature = temperature
        return quantizer
    }

    static func standalone(_ choice: LayerQuantization, weight: Tensor) -> (any LayerQuantizer)? {
        switch choice.scheme {
        case .float: nil
        case .uniform: UniformQuantizer(layer: "s", bits: choice.bits, weight: weight)
        case .pot: PowerOfTwoQuantizer(layer: "s", bits: choice.bits, weight: weight)
        }
    }

    @Test func forwardIsTheProbabilityWeightedSumOfTheChoices() {
        let weight = Self.weight()
        let quantizer = Self.mixed(weight: weight)
        let mixed = quantizer.quantize(weight).scalars
        let pi = quantizer.probabilities
        #expect(quantizer.mixture == pi, "without sampling the forward uses softmax(θ/τ)")
        var expected = [Float](repeating: 0, count: weight.count)
        for (k, choice) in Self.choices.enumerated() {
            let image = Self.standalone(choice, weight: weight)?.quantize(weight) ?? weight
            for i in expected.indices { expected[i] += pi[k] * image[flat: i] }
        }
        for i in expected.indices { #expect(isClose(mixed[i], expected[i], relative: 1e-5, absolute: 1e-7)) }
        // softmax((θ)/τ) by hand.
        let theta: [Double] = [0.3, -0.5, 0.8, 0.1]
        let exps = theta.map { exp($0 / 0.7) }
        for k in pi.indices { #expect(isClose(Double(pi[k]), exps[k] / exps.reduce(0, +), relative: 1e-5)) }
    }

    @Test func weightAndScaleGradientsAreEachChoiceTimesItsProbability() {
        let weight = Self.weight()
        let quantizer = Self.mixed(weight: weight)
        var rng = SeededGeneratorShim(seed: 9)
        let gradient = Tensor(shape: weight.shape, scalars: (0..<weight.count).map { _ in rng.gaussian() })
        _ = quantizer.quantize(weight)
        let weightGradient = quantizer.backward(weight: weight, gradientOfQuantized: gradient)
        let pi = quantizer.probabilities
        var expected = [Float](repeating: 0, count: weight.count)
        var scales = quantizer.parameters.dropFirst().makeIterator()
        for (k, choice) in Self.choices.enumerated() {
            var scaled = gradient
            scaled.scale(by: pi[k])
            guard let alone = Self.standalone(choice, weight: weight) else {
                for i in expected.indices { expected[i] += scaled[flat: i] }
                continue
            }
            _ = alone.quantize(weight)
            let g = alone.backward(weight: weight, gradientOfQuantized: scaled)
            for i in expected.indices { expected[i] += g[flat: i] }
            let scale = scales.next()!
            #expect(scale.name.hasPrefix("l.choice_\(choice).weight_quantizer."))
            #expect(isClose(scale.gradient![flat: 0], alone.scale.gradient![flat: 0], relative: 1e-4, absolute: 1e-7), "\(choice)")
        }
        #expect(scales.next() == nil)
        for i in expected.indices { #expect(isClose(weightGradient[flat: i], expected[i], relative: 1e-5, absolute: 1e-7)) }
    }

    /// L(θ) = ⟨G, W_mix(θ)⟩ at fixed W and scales: the analytic θ gradient against central differences.
    @Test(arguments: [Float(1), 0.7, 3])
    func logitGradientMatchesFiniteDifferences(temperature: Float) {
        let weight = Self.weight()
        var rng = SeededGeneratorShim(seed: 11)
        let gradient = Tensor(shape: weight.shape, scalars: (0..<weight.count).map { _ in rng.gaussian() })
        let quantizer = Self.mixed(weight: weight, temperature: temperature)
        _ = quantizer.quantize(weight)
        _ = quantizer.backward(weight: weight, gradientOfQuantized: gradient)
        let analytic = quantizer.architectureLogits.gradient!.scalars

        func loss(_ theta: [Float]) -> Double {
            let probe = Self.mixed(weight: weight, temperature: temperature)
            probe.architectureLogits.value = Tensor(shape: [4], scalars: theta)
            let mixed = probe.quantize(weight)
            return (0..<weight.count).reduce(0) { $0 + Double(mixed[flat: $1]) * Double(gradient[flat: $1]) }
        }
        let theta = quantizer.architectureLogits.value.scalars
        let h: Float = 1e-2
        for k in theta.indices {
            var plus = theta, minus = theta
            plus[k] += h
            minus[k] -= h
            let numeric = (loss(plus) - loss(minus)) / Double(2 * h)
            #expect(isClose(Double(analytic[k]), numeric, relative: 2e-3, absolute: 1e-4), "θ[\(k)] at τ = \(temperature)")
        }
    }

    /// C(θ) = λ · Σ_k π_k c_k: the cost term's θ gradient against central differences.
    @Test func costGradientMatchesFiniteDifferences() {
        let weight = Self.weight()
        let costs = [10.0, 4.0, 25.0, 80.0]
        let lambda = 0.3
        let quantizer = Self.mixed(weight: weight)
        _ = quantizer.quantize(weight)
        quantizer.accumulateCostGradient(costs, weight: lambda)
        let analytic = quantizer.architectureLogits.gradient!.scalars

        func cost(_ theta: [Float]) -> Double {
            let probe = Self.mixed(weight: weight)
            probe.architectureLogits.value = Tensor(shape: [4], scalars: theta)
            _ = probe.quantize(weight)
            return lambda * probe.expectedCost(costs)
        }
        let theta = quantizer.architectureLogits.value.scalars
        let h: Float = 1e-2
        for k in theta.indices {
            var plus = theta, minus = theta
            plus[k] += h
            minus[k] -= h
            let numeric = (cost(plus) - cost(minus)) / Double(2 * h)
            #expect(isClose(Double(analytic[k]), numeric, relative: 2e-3, absolute: 1e-4), "θ[\(k)]")
        }
        // Pushing θ down the gradient lowers the expected cost.
        #expect(analytic[3] > 0, "the costliest choice (float) is pushed down")
        #expect(analytic[1] < 0, "the cheapest choice is pushed up")
    }

    /// The Gumbel-max property: with hard sampling at τ = 1, choice k is drawn with probability softmax(θ)_k.
    @Test func hardSamplesFollowTheSoftmax() {
        let weight = Self.weight()
        let quantizer = Self.mixed(weight: weight, temperature: 1)
        quantizer.sampling = true
        quantizer.hardSampling = true
        let expected = quantizer.probabilities
        var counts = [Int](repeating: 0, count: 4)
        let draws = 4000
        for _ in 0..<draws {
            _ = quantizer.quantize(weight)
            let picked = quantizer.mixture.indices.filter { quantizer.mixture[$0] == 1 }
            #expect(picked.count == 1 && quantizer.mixture.reduce(0, +) == 1)
            counts[picked[0]] += 1
        }
        for k in counts.indices {
            let p = Double(expected[k])
            let sd = (p * (1 - p) / Double(draws)).squareRoot()
            #expect(abs(Double(counts[k]) / Double(draws) - p) < 4 * sd, "choice \(k): \(counts[k]) of \(draws), p = \(p)")
        }
    }

    @Test func hardSampledForwardIsExactlyOneChoiceAndStillTrainsTheLogits() {
        let weight = Self.weight()
        let quantizer = Self.mixed(weight: weight)
        quantizer.sampling = true
        quantizer.hardSampling = true
        let mixed = quantizer.quantize(weight)
        let k = quantizer.mixture.firstIndex(of: 1)!
        let image = Self.standalone(Self.choices[k], weight: weight)?.quantize(weight) ?? weight
        #expect(mixed.scalars == image.scalars)
        _ = quantizer.backward(weight: weight, gradientOfQuantized: Tensor(shape: weight.shape, scalars: weight.scalars))
        #expect(quantizer.architectureLogits.gradient!.scalars.contains { $0 != 0 }, "straight-through: θ gets the soft gradient")
    }

    @Test func derivedChoiceIsTheArgmaxAndNoiseIsReproducible() {
        let weight = Self.weight()
        #expect(Self.mixed(weight: weight).derivedChoice == .uniform(4))
        func draws() -> [[Float]] {
            let quantizer = Self.mixed(weight: weight)
            quantizer.sampling = true
            return (0..<5).map { _ in
                _ = quantizer.quantize(weight)
                return quantizer.mixture
            }
        }
        let first = draws()
        #expect(first == draws(), "the same seed gives the same Gumbel noise")
        #expect(Set(first.map { $0.map(\.bitPattern) }).count == 5, "each step draws new noise")
    }
}
