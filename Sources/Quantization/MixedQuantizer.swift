import Foundation
import QuantConfig
import Seeding
import SpikingNN
import Tensor

/// One layer of a Gumbel-softmax supernet (the seed paper's differentiable search): the layer's
/// allowed choices k, each with its own quantizer Q_k (LSQ step or power-of-two α), and
/// architecture logits θ.
///
/// The forward pass computes with the mixed weight `W_mix = Σ_k π_k · Q_k(W)`, where
/// `π = softmax((θ + g) / τ)` and g is Gumbel noise while ``sampling`` is on (none otherwise).
/// The mix is linear in the weights, so the layer still does one product. With ``hardSampling``
/// the forward uses the one-hot of the largest `(θ + g)/τ` (straight-through Gumbel: the value is
/// one choice's weight, the gradient to θ is the soft one).
///
/// Backward (``backward(weight:gradientOfQuantized:)``) with G = dL/dW_mix:
///
///     dL/dW    = Σ_k π_k · Q_k'ᵀ G              (each quantizer's straight-through / LSQ rule)
///     dL/dπ_k  = ⟨G, Q_k(W)⟩
///     dL/dθ_j  = (1/τ) · π̃_j · (dL/dπ_j − Σ_k π̃_k dL/dπ_k)      (π̃ the soft mixture)
///
/// and each Q_k's scale receives π_k times its own gradient. The cost term of the loss
/// (``accumulateCostGradient(_:weight:)``) reaches θ through the same softmax.
///
/// θ is in ``parameters`` (so the evaluation cache notices its changes) but is meant for its own
/// optimiser: ``architectureLogits`` names it so a trainer can keep it out of the weights' one.
public final class MixedQuantizer: WeightQuantizer {
    public let layer: String
    /// The allowed choices, in the order of θ.
    public let choices: [LayerQuantization]
    /// θ, shape `[choices.count]`, initialised to zero (every choice equally likely).
    public let architectureLogits: Parameter
    /// τ of the softmax.
    public var temperature: Float = 1
    /// Whether the forward pass draws Gumbel noise (training) or uses `softmax(θ/τ)` (evaluation).
    public var sampling = false
    /// Straight-through hard sampling: forward with the one-hot choice, gradient through the soft mixture.
    public var hardSampling = false
    /// Per choice: its quantizer, nil for `float` (the weight itself).
    private let quantizers: [(any LayerQuantizer)?]
    private var generator: SeededGenerator
    /// The weights of the last forward pass (one-hot under hard sampling) and the soft mixture π̃.
    public private(set) var mixture: [Float]
    public private(set) var softMixture: [Float]
    /// Q_k(W) of the last forward pass.
    private var images: [Tensor] = []

    /// - Parameters:
    ///   - weight: the layer's current weight, from which each quantizer initialises its scale.
    ///   - seed: the Gumbel noise stream (one per layer, so runs are reproducible).
    public init(layer: String, choices: [LayerQuantization], weight: Tensor, seed: UInt64) {
        precondition(!choices.isEmpty, "\(layer): a supernet layer needs at least one choice")
        self.layer = layer
        self.choices = choices
        quantizers = choices.map { choice -> (any LayerQuantizer)? in
            switch choice.scheme {
            case .float: nil
            case .uniform: UniformQuantizer(layer: "\(layer).choice_\(choice)", bits: choice.bits, weight: weight)
            case .pot: PowerOfTwoQuantizer(layer: "\(layer).choice_\(choice)", bits: choice.bits, weight: weight)
            }
        }
        architectureLogits = Parameter(name: "\(layer).architecture_logits", value: Tensor(shape: [choices.count]))
        generator = SeededGenerator(seed: seed, stream: "supernet.gumbel.\(layer)")
        let uniform = [Float](repeating: 1 / Float(choices.count), count: choices.count)
        mixture = uniform
        softMixture = uniform
    }

    /// θ and every choice's scale.
    public var parameters: [Parameter] { [architectureLogits] + quantizers.compactMap { $0?.scale } }

    /// `softmax(θ/τ)` without noise: the probabilities the derivation and the reported tables use.
    public var probabilities: [Float] {
        Self.softmax(architectureLogits.value.scalars.map { $0 / temperature })
    }

    /// The choice with the largest θ (the derived configuration's choice for this layer).
    public var derivedChoice: LayerQuantization {
        let theta = architectureLogits.value.scalars
        return choices[theta.indices.max { theta[$0] < theta[$1] }!]
    }

    public func quantize(_ weight: Tensor) -> Tensor {
        var scores = architectureLogits.value.scalars
        if sampling {
            for k in scores.indices { scores[k] += Self.gumbel(&generator) }
        }
        scores = scores.map { $0 / temperature }
        softMixture = Self.softmax(scores)
        if hardSampling && sampling {
            let pick = scores.indices.max { scores[$0] < scores[$1] }!
            mixture = choices.indices.map { $0 == pick ? 1 : 0 }
        } else {
            mixture = softMixture
        }
        images = quantizers.map { $0?.quantize(weight) ?? weight }
        var mixed = Tensor(shape: weight.shape)
        for (k, image) in images.enumerated() where mixture[k] != 0 {
            mixed.add(image, scaledBy: mixture[k])
        }
        return mixed
    }

    public func backward(weight: Tensor, gradientOfQuantized gradient: Tensor) -> Tensor {
        precondition(images.count == choices.count, "\(layer): backward before forward")
        var weightGradient = Tensor(shape: weight.shape)
        var mixtureGradient = [Double](repeating: 0, count: choices.count)
        for k in choices.indices {
            mixtureGradient[k] = Self.dot(images[k], gradient)
            guard mixture[k] != 0 else { continue }
            var scaled = gradient
            scaled.scale(by: mixture[k])
            weightGradient.add(quantizers[k]?.backward(weight: weight, gradientOfQuantized: scaled) ?? scaled)
        }
        accumulateLogitGradient(mixtureGradient)
        return weightGradient
    }

    /// `Σ_k π_k · costs[k]` under the last forward pass's mixture.
    public func expectedCost(_ costs: [Double]) -> Double {
        zip(mixture, costs).reduce(0) { $0 + Double($1.0) * $1.1 }
    }

    /// Adds the gradient of `weight · Σ_k π_k · costs[k]` (the energy term of the loss) to θ.
    public func accumulateCostGradient(_ costs: [Double], weight: Double) {
        precondition(costs.count == choices.count, "\(layer): \(costs.count) costs for \(choices.count) choices")
        accumulateLogitGradient(costs.map { $0 * weight })
    }

    /// θ's gradient from dL/dπ through the (soft) softmax with temperature.
    private func accumulateLogitGradient(_ mixtureGradient: [Double]) {
        let pi = softMixture.map(Double.init)
        let mean = zip(pi, mixtureGradient).reduce(0) { $0 + $1.0 * $1.1 }
        let tau = Double(temperature)
        let theta = zip(pi, mixtureGradient).map { Float($0 * ($1 - mean) / tau) }
        architectureLogits.accumulateGradient(Tensor(shape: [choices.count], scalars: theta))
    }

    /// ⟨a, b⟩ accumulated in Double (fixed order, so runs reproduce).
    static func dot(_ a: Tensor, _ b: Tensor) -> Double {
        a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in
                var sum = 0.0
                for i in 0..<x.count { sum += Double(x[i]) * Double(y[i]) }
                return sum
            }
        }
    }

    static func softmax(_ scores: [Float]) -> [Float] {
        let top = scores.max() ?? 0
        let exps = scores.map { Double(exp($0 - top)) }
        let sum = exps.reduce(0, +)
        return exps.map { Float($0 / sum) }
    }

    /// A standard Gumbel draw, −log(−log u) with u in (0, 1).
    static func gumbel(_ generator: inout SeededGenerator) -> Float {
        let u = min(max(generator.nextUnitDouble(), 1e-12), 1 - 1e-12)
        return Float(-log(-log(u)))
    }
}
