import Foundation
import QuantConfig

/// How to train one Gumbel-softmax supernet (the seed paper's search) for one energy weight λ.
///
/// The loss is `cross-entropy + λ · E_expected / E_fp32`; the weights and their quantizers' scales
/// follow the fine-tune budget's AdamW and cosine schedule, the architecture logits θ their own
/// Adam (no weight decay) at ``architectureLearningRate``, both updated at every step (jointly,
/// on the same batch). τ anneals exponentially from ``temperatureStart`` to ``temperatureEnd`` over
/// the run's steps.
public struct SupernetSettings: Codable, Hashable, Sendable {
    /// λ, the weight of the relative expected energy in the loss.
    public var lambda: Double
    public var temperatureStart: Double
    public var temperatureEnd: Double
    public var architectureLearningRate: Double
    /// Straight-through hard sampling (forward with one choice per layer) instead of the soft mix.
    public var hardSampling: Bool
    /// The energy table whose per-layer costs define E (nil: the first one the request lists).
    public var energyModel: String?

    /// θ's Adam learning rate unless set: large enough that θ moves across the choices within a
    /// fine-tune-length run (Adam moves θ by about this much per step).
    public static let defaultArchitectureLearningRate = 0.05

    public init(
        lambda: Double, temperatureStart: Double = 5, temperatureEnd: Double = 0.5,
        architectureLearningRate: Double = defaultArchitectureLearningRate,
        hardSampling: Bool = false, energyModel: String? = nil
    ) {
        self.lambda = lambda
        self.temperatureStart = temperatureStart
        self.temperatureEnd = temperatureEnd
        self.architectureLearningRate = architectureLearningRate
        self.hardSampling = hardSampling
        self.energyModel = energyModel
    }

    /// τ at `step` of `total`: `τ₀ · (τ_min/τ₀)^(step/(total−1))`.
    public func temperature(atStep step: Int, of total: Int) -> Double {
        guard total > 1 else { return temperatureEnd }
        let progress = Double(min(step, total - 1)) / Double(total - 1)
        return temperatureStart * pow(temperatureEnd / temperatureStart, progress)
    }

    /// Why these settings cannot be trained, if they cannot.
    public var problem: String? {
        if !(lambda.isFinite && lambda >= 0) { return "lambda = \(lambda) is not a finite non-negative number" }
        if !(temperatureStart.isFinite && temperatureStart > 0 && temperatureEnd.isFinite && temperatureEnd > 0) {
            return "temperatures must be finite and positive"
        }
        if temperatureEnd > temperatureStart { return "the temperature must anneal down (start \(temperatureStart) < end \(temperatureEnd))" }
        if !(architectureLearningRate.isFinite && architectureLearningRate > 0 && architectureLearningRate <= 10) {
            return "architecture learning rate = \(architectureLearningRate) is outside (0, 10]"
        }
        return nil
    }
}

/// A supernet training job: what a worker trains for one λ of the gumbel and hybrid strategies.
public struct SupernetJob: Codable, Hashable, Sendable {
    public var settings: SupernetSettings
    /// The run's space: the choices each layer's mixture holds.
    public var space: QuantizationSpace

    public init(settings: SupernetSettings, space: QuantizationSpace) {
        self.settings = settings
        self.space = space
    }
}

/// What one supernet training derived: the configuration (per-layer argmax of θ) and how it got there.
public struct SupernetResult: Codable, Hashable, Sendable {
    public var lambda: Double
    /// The derived configuration and its canonical hash.
    public var config: QuantizationConfig
    public var configHash: String
    /// Per layer and short-form choice (`u4`, `p3`, `f32`): π = softmax(θ/τ_end) at the end of training.
    public var probabilities: [String: [String: Double]]
    /// The energy table E was measured with, and E_fp32 in picojoules.
    public var energyModel: String
    public var referencePicojoules: Double
    /// `Σ_l Σ_k π_lk E_lk + fixed`, relative to FP32, with the final π.
    public var expectedRelativeEnergy: Double
    /// The derived configuration's predicted energy relative to FP32 (same table, FP32 firing rates).
    public var derivedRelativeEnergy: Double
    /// Parameter-weighted average bits: of the derived configuration, and expected under π.
    public var averageBits: Double
    public var expectedAverageBits: Double
    public var trajectory: [SupernetTrajectoryPoint]
    /// Optimizer steps (the search's cost currency, like a fine-tune's steps).
    public var steps: Int
    public var seconds: Double

    public init(
        lambda: Double, config: QuantizationConfig, probabilities: [String: [String: Double]], energyModel: String,
        referencePicojoules: Double, expectedRelativeEnergy: Double, derivedRelativeEnergy: Double, averageBits: Double,
        expectedAverageBits: Double, trajectory: [SupernetTrajectoryPoint], steps: Int, seconds: Double
    ) {
        self.lambda = lambda
        self.config = config
        self.configHash = config.hash
        self.probabilities = probabilities
        self.energyModel = energyModel
        self.referencePicojoules = referencePicojoules
        self.expectedRelativeEnergy = expectedRelativeEnergy
        self.derivedRelativeEnergy = derivedRelativeEnergy
        self.averageBits = averageBits
        self.expectedAverageBits = expectedAverageBits
        self.trajectory = trajectory
        self.steps = steps
        self.seconds = seconds
    }
}

/// The supernet's state at one point of its training (means over the steps since the last point).
public struct SupernetTrajectoryPoint: Codable, Hashable, Sendable {
    public var step: Int
    public var temperature: Double
    public var crossEntropy: Double
    public var accuracy: Double
    /// Relative expected energy under the sampled mixtures of those steps.
    public var expectedRelativeEnergy: Double

    public init(step: Int, temperature: Double, crossEntropy: Double, accuracy: Double, expectedRelativeEnergy: Double) {
        self.step = step
        self.temperature = temperature
        self.crossEntropy = crossEntropy
        self.accuracy = accuracy
        self.expectedRelativeEnergy = expectedRelativeEnergy
    }
}
