import Foundation
public import Tensor

/// AdamW (Loshchilov & Hutter) with decoupled weight decay, as in PyTorch:
///
///     θ ← θ − lr·λ·θ                       (only for parameters with `decays`)
///     m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²
///     θ ← θ − lr·(m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
public final class AdamW {
    public var learningRate: Float
    public var weightDecay: Float
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public private(set) var step = 0
    private var moments: [ObjectIdentifier: (m: Tensor, v: Tensor)] = [:]

    public init(learningRate: Float = 1e-3, weightDecay: Float = 0.01, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// Applies one update to every parameter that has a gradient.
    public func update(_ parameters: [Parameter]) {
        step += 1
        let correction1 = 1 - Float(Double(beta1).power(step))
        let correction2 = 1 - Float(Double(beta2).power(step))
        let (lr, b1, b2, eps) = (learningRate, beta1, beta2, epsilon)
        for parameter in parameters where parameter.isTrainable {
            guard let gradient = parameter.gradient else { continue }
            let key = ObjectIdentifier(parameter)
            var state = moments[key] ?? (Tensor(shape: parameter.value.shape), Tensor(shape: parameter.value.shape))
            moments[key] = nil
            let decay: Float = parameter.decays ? 1 - lr * weightDecay : 1
            gradient.withUnsafeBufferPointer { pg in
                state.m.withUnsafeMutableBufferPointer { pm in
                    state.v.withUnsafeMutableBufferPointer { pv in
                        parameter.updateInPlace { pw in
                            let (g, m, v, w) = (pg.baseAddress!, pm.baseAddress!, pv.baseAddress!, pw.baseAddress!)
                            Compute.parallelFor(pw.count, grain: 16_384) { range in
                                OptimizerKernels.adamW(
                                    weights: w + range.lowerBound, gradients: g + range.lowerBound, firstMoments: m + range.lowerBound,
                                    secondMoments: v + range.lowerBound, count: range.count, beta1: b1, beta2: b2, learningRate: lr,
                                    correction1: correction1, correction2: correction2, epsilon: eps, decay: decay)
                            }
                        }
                    }
                }
            }
            moments[key] = state
        }
    }
}

extension Double {
    func power(_ n: Int) -> Double {
        var result = 1.0
        for _ in 0..<n { result *= self }
        return result
    }
}

/// Learning rate with linear warm-up then cosine decay, per optimizer step:
/// lr(s) = base·(s + 1)/W for s < W, else min + ½(base − min)(1 + cos(π·(s − W)/(S − W))).
public struct CosineSchedule: Sendable, Hashable, Codable {
    public var baseLearningRate: Float
    public var minimumLearningRate: Float
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(baseLearningRate: Float, minimumLearningRate: Float = 1e-5, warmupSteps: Int, totalSteps: Int) {
        self.baseLearningRate = baseLearningRate
        self.minimumLearningRate = minimumLearningRate
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    public func learningRate(atStep step: Int) -> Float {
        if step < warmupSteps { return baseLearningRate * Float(step + 1) / Float(warmupSteps) }
        let span = max(1, totalSteps - warmupSteps)
        let progress = min(1, Double(step - warmupSteps) / Double(span))
        let cosine = 0.5 * (1 + Foundation.cos(Double.pi * progress))
        return minimumLearningRate + (baseLearningRate - minimumLearningRate) * Float(cosine)
    }
}
