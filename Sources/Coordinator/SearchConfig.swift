import ConfigFiles
import Foundation
import QuantConfig
import Search
import Wire

/// A search, as configured in `configs/search/*.yaml`.
///
/// Relative paths in the file are resolved against **the directory of the config file** (so a config
/// can name `../models/…` next to it, wherever the command is run from). `~` is expanded.
///
/// ```yaml
/// name: synthetic-gestures          # default run name (runs/NAME)
/// seed: 42
/// model: ../models/spikformer-tiny.yaml
/// dataset: ../datasets/synthetic-gestures.yaml
/// checkpoint:
///   path: ../../runs/base/tiny.safetensors   # used when it exists …
///   train:                                   # … otherwise trained with this recipe
///     epochs: 30
///     learning_rate: 1.0e-3
///     weight_decay: 0.06
///     schedule: cosine                       # cosine | constant
///     warmup_epochs: 2
///     label_smoothing: 0.1
///     batch_size: 16
/// energy:                                    # energy model name → file
///   spikformer-45nm: ../energy/spikformer-45nm.yaml
///   horowitz-45nm: ../energy/horowitz-45nm.yaml
/// space:
///   schemes: [uniform, pot]                  # uniform | pot | float
///   bits: [2, 3, 4, 5, 6, 8]
///   fixed: {head: u8}                        # pinned layers (short forms u<bits>, p<bits>, f32)
/// objectives:                                # default: accuracy on validation, energy of the first model
///   - accuracy: validation                   # maximised
///   - energy: spikformer-45nm                # minimised
///   - average_bits                           # optional third objective (or packed_bytes)
/// constraints:                               # all optional
///   max_accuracy_drop: 0.05                  # vs FP32, fraction (split of the accuracy objective)
///   max_energy: 2.0e6                        # pJ under the energy objective's model, or {model:, picojoules:}
///   max_average_bits: 5
///   max_packed_bytes: 200000
/// budget:                                    # at least one of evaluations and wall_time
///   evaluations: 48                          # candidates in all (done, failed or given up); no more start
///   wall_time: 2h                            # active coordinator time, summed over resumes
///   grace: 10m                               # after the budget, wait at most this for in-flight work
/// search:
///   population: 12                           # μ
///   crossover_rate: 0.9
///   mutation_rate: auto                      # per layer; auto = 1 / free layers
///   mutation_mix: {neighbour: 0.5, flip_scheme: 0.25, resample: 0.25}
///   remating_attempts: 20
///   reference_point: [1.0, 1.0]              # hypervolume, in the internal (minimised) units
///   sensitivity: ../sensitivity/tiny.json    # optional SensitivityTable JSON, or measured when the run is
///                                            # created: {method: fisher, batches: 8} (its gradient batches
///                                            # count as QAT steps, none when the checkpoint's training
///                                            # recorded them) or {method: drop, samples: 220}
///   sensitivity_budgets: [0.75, 0.5, 0.375]
///   sensitivity_temperature: 0.02
///   knapsack_seeds: 4                        # first proposals: knapsack optima of the table's drops and energies
///   surrogate: {candidates: 16, min_results: 8, ridge: 1.0}   # screen children with a ridge model
///   common_random_numbers: true              # one fine-tune seed for every candidate (default)
///   reference: fine_tuned                    # drops against the FP32 model fine-tuned like the candidates (default: base)
///   fidelity: {rungs: [15, 60], eta: 3}      # multi-fidelity: every candidate 15 QAT steps, the best
///                                            # 1/η continued to 60; only 60-step results form the front
///   strategy: nsga2                          # nsga2 | gumbel (the seed paper's supernet sweep, its derived
///                                            # configurations evaluated) | hybrid (the sweep seeds NSGA-II)
/// gumbel:                                    # the supernet sweep of the gumbel and hybrid strategies
///   lambdas: [0.0, 0.3, 1.0, 3.0, 10.0]      # energy weights λ, one supernet training job each
///   epochs: 1                                # supernet training (default: fine_tune's epochs, max_steps, learning rate)
///   temperature: [5.0, 0.5]                  # τ anneals exponentially from the first to the second
///   architecture_learning_rate: 0.05         # θ's Adam
///   hard_sampling: false                     # straight-through one-hot forward
/// fine_tune:
///   epochs: 1
///   max_steps: 200                           # optional
///   learning_rate: 1.0e-4
///   weight_decay: 0.0
///   batch_size: 16
///   label_smoothing: 0.1
///   threads: 1                               # optional; default: the worker's --threads
/// final:
///   reseeds: 2                               # after the budget, fine-tune every front member and the
///                                            # fine-tuned reference with 2 more seeds (mean ± sd in the report)
/// retry:
///   max_attempts: 3                          # lost leases / refused results before giving up
/// lease:
///   progress_timeout: 15m                    # no PARTIAL/FINAL for this long → the worker is hung
///   heartbeat_timeout: 30s                   # a worker silent this long is lost; its lease is re-issued
/// ```
public struct SearchConfig: Hashable, Sendable {
    /// The file this was read from.
    public var file: URL
    public var name: String?
    public var seed: UInt64
    public var model: URL
    public var dataset: URL
    public var checkpoint: CheckpointSource
    /// Energy models by name, in file order.
    public var energyModels: [NamedFile]
    public var space: SpaceSettings
    public var objectives: [ObjectiveSpec]
    public var constraints: [ConstraintSpec]
    public var budget: StudyBudget
    public var search: SearchSettings
    public var fineTune: FineTuneBudget
    public var maxAttempts: Int
    public var lease: LeaseTimings
    /// The supernet sweep of the gumbel and hybrid strategies (defaults when absent).
    public var gumbel = GumbelSettings()
    /// `final.reseeds`: extra fine-tune seeds for every front member after the budget (0: none).
    public var reseeds = 0

    /// Energy model `name`'s file, if configured.
    public func energyModel(_ name: String) -> URL? {
        energyModels.first { $0.name == name }?.url
    }
}

public struct NamedFile: Codable, Hashable, Sendable {
    public var name: String
    public var url: URL
}

/// Where the FP32 base model comes from: an existing checkpoint, a training recipe, or both (the
/// recipe is used when the file does not exist yet).
public struct CheckpointSource: Codable, Hashable, Sendable {
    public var path: URL?
    public var train: TrainingRecipe?
}

/// How to train the FP32 base model when there is no checkpoint.
public struct TrainingRecipe: Codable, Hashable, Sendable {
    public enum Schedule: String, Codable, Hashable, Sendable, CaseIterable { case cosine, constant }
    public var epochs: Int
    public var learningRate: Double = 1e-3
    public var weightDecay: Double = 0.06
    public var schedule: Schedule = .cosine
    public var warmupEpochs: Int = 0
    public var labelSmoothing: Double = 0.1
    public var batchSize: Int = 16
}

/// The `space:` section before the model's layer list is known.
public struct SpaceSettings: Codable, Hashable, Sendable {
    public var schemes: [QuantScheme] = [.uniform, .pot]
    public var bits: [Int] = QuantizationSpace.defaultBits
    public var fixed: [String: LayerQuantization] = [:]

    public init(
        schemes: [QuantScheme] = [.uniform, .pot], bits: [Int] = QuantizationSpace.defaultBits, fixed: [String: LayerQuantization] = [:]
    ) {
        self.schemes = schemes
        self.bits = bits
        self.fixed = fixed
    }
}

extension SpaceSettings {
    /// The checked search space for a model whose quantizable layers are `layers` (model order).
    /// - Throws: the space's ``ConfigError`` (key `fixed.LAYER` when a pinned layer is not in the model).
    public func quantizationSpace(layers: [String]) throws(ConfigError) -> QuantizationSpace {
        let quantizationSpace = QuantizationSpace(layers: layers, schemes: schemes, bits: bits, fixed: fixed)
        try quantizationSpace.validate()
        return quantizationSpace
    }
}

/// When the search stops starting new candidates, and how long it waits for running ones.
public struct StudyBudget: Codable, Hashable, Sendable {
    /// Candidates in all (done, failed or given up), if limited: once this many have started, no
    /// more start, so the run ends with exactly this many finished.
    public var evaluations: Int?
    /// Active coordinator seconds (summed over resumes), if limited.
    public var wallSeconds: Double?
    /// After the budget is reached, how long to wait for in-flight work; nil waits for all of it.
    public var graceSeconds: Double?

    public init(evaluations: Int? = nil, wallSeconds: Double? = nil, graceSeconds: Double? = nil) {
        self.evaluations = evaluations
        self.wallSeconds = wallSeconds
        self.graceSeconds = graceSeconds
    }
}

/// The `search:` section.
public struct SearchSettings: Codable, Hashable, Sendable {
    public var populationSize: Int = 32
    public var crossoverRate: Double = 0.9
    /// nil = 1 / free layers.
    public var mutationRate: Double?
    public var mutationMix = MutationMix()
    public var rematingAttempts = 20
    /// nil = 1 per objective.
    public var referencePoint: [Double]?
    /// A sensitivity table file (`spikeq sensitivity`).
    public var sensitivity: URL?
    /// Or: measure one when the run is created (`sensitivity: {method: fisher, batches: 8}`).
    public var measuredSensitivity: SensitivityMeasurement?
    public var sensitivityBudgets: [Double] = [0.75, 0.5, 0.375]
    public var sensitivityTemperature = 0.02
    /// Knapsack-optimal seeds proposed first (needs a sensitivity table with per-layer energies).
    public var knapsackSeeds: Int?
    /// Surrogate screening of children; nil: off.
    public var surrogate: SurrogateScreening?
    /// Multi-fidelity rungs in fine-tune steps (the last is the full budget) and the promotion
    /// ratio η; nil: every candidate gets the full `fine_tune` budget at once.
    public var fidelity: FidelitySchedule?
    /// What accuracy drops are measured against: the base model as is (`base`), or the base model
    /// fine-tuned with the candidates' recipe and full budget, evaluated first (`fine_tuned`).
    public var reference: ReferenceKind = .base
    /// Every candidate fine-tuned with the same seed (data order, augmentation), so differences
    /// between configurations are not seed noise.
    public var commonRandomNumbers = true
    public var strategy: SearchStrategy = .nsga2
}

/// How candidates are found.
public enum SearchStrategy: String, Codable, Hashable, Sendable, CaseIterable {
    /// The steady-state NSGA-II (seeds, random initial population, then children).
    case nsga2
    /// The seed paper's search: one Gumbel-softmax supernet per λ of ``GumbelSettings/lambdas``;
    /// each derived configuration (and the uniform baselines) is then fine-tuned and evaluated as a
    /// candidate, and nothing else.
    case gumbel
    /// The λ sweep first; its derived configurations join NSGA-II's initial population (first in
    /// line), then NSGA-II continues as usual.
    case hybrid
}

/// The `gumbel:` section: the supernet sweep of the gumbel and hybrid strategies.
public struct GumbelSettings: Codable, Hashable, Sendable {
    /// From accuracy-only (0) to strongly energy-weighted: with the loss's energy term relative to
    /// FP32 (≤ 1) and a cross-entropy of order 1, this spans the front on the tiny and paper models.
    public static let defaultLambdas = [0.0, 0.3, 1, 3, 10]

    public var lambdas = defaultLambdas
    /// Supernet training length and weight learning rate; nil: the `fine_tune` section's.
    public var epochs: Int?
    public var maxSteps: Int?
    public var learningRate: Double?
    public var temperatureStart = 5.0
    public var temperatureEnd = 0.5
    public var architectureLearningRate = SupernetSettings.defaultArchitectureLearningRate
    public var hardSampling = false

    public init() {}

    /// The training budget of one supernet: the candidates' fine-tune with this section's overrides.
    public func budget(from fineTune: FineTuneBudget) -> FineTuneBudget {
        var budget = fineTune
        if let epochs { budget.epochs = epochs }
        if let maxSteps { budget.maxSteps = maxSteps }
        if let learningRate { budget.learningRate = learningRate }
        budget.epochs = max(budget.epochs, 1)
        budget.scheduleSteps = nil
        return budget
    }

    /// One job's settings per λ, with E measured under `energyModel`.
    public func jobs(energyModel: String?) -> [SupernetSettings] {
        lambdas.map {
            SupernetSettings(
                lambda: $0, temperatureStart: temperatureStart, temperatureEnd: temperatureEnd, architectureLearningRate: architectureLearningRate,
                hardSampling: hardSampling, energyModel: energyModel)
        }
    }
}

/// The FP32 model candidates are compared with.
public enum ReferenceKind: String, Codable, Hashable, Sendable, CaseIterable {
    case base
    case fineTuned = "fine_tuned"
}

/// How long a lease survives without news from its worker.
public struct LeaseTimings: Codable, Hashable, Sendable {
    /// No PARTIAL or FINAL for this long: the evaluation is considered hung.
    public var progressTimeout: Double
    /// No message (heartbeats included) from a worker for this long: the broker presumes it lost and
    /// the study re-issues its lease. Sets the broker's heartbeat liveness (see
    /// ``BrokerConfiguration/liveness(timeout:interval:)``).
    public var heartbeatTimeout: Double

    public init(progressTimeout: Double = 900, heartbeatTimeout: Double = 30) {
        self.progressTimeout = progressTimeout
        self.heartbeatTimeout = heartbeatTimeout
    }
}

/// `search.sensitivity: {method: …}`: the table measured on the FP32 base model when the run is created,
/// so knapsack seeds need no separate `spikeq sensitivity` step.
public struct SensitivityMeasurement: Codable, Hashable, Sendable {
    public var method: SensitivityMethod
    /// Training batches of the Fisher estimate (`fisher`).
    public var batches: Int
    /// Validation samples per measured drop (`drop`); nil: all.
    public var samples: Int?

    /// Fisher batches when the config gives none.
    public static let defaultBatches = 8

    public init(method: SensitivityMethod, batches: Int = defaultBatches, samples: Int? = nil) {
        (self.method, self.batches, self.samples) = (method, batches, samples)
    }

    /// What the measurement costs in QAT-step currency: a Fisher batch is a forward and backward pass
    /// like a fine-tune step (without the update); measured drops are evaluation passes, which no
    /// strategy is charged for.
    public var qatSteps: Int { method == .fisher ? batches : 0 }
}
