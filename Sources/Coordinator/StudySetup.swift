import ContentHash
import Foundation
import QuantConfig
import RunStore
import Search
import Wire

/// Everything a study needs, resolved: stored whole in the run database so `resume` needs nothing else.
public struct StudySetup: Codable, Hashable, Sendable {
    public var name: String
    /// The resolved search config as YAML (for `search.yaml` and the record).
    public var configYAML: String
    public var space: QuantizationSpace
    public var objectives: [ObjectiveSpec]
    public var constraints: [ConstraintSpec]
    public var parameters: NSGA2Parameters
    public var sensitivity: SensitivityTable?
    /// QAT steps the sensitivity table cost when the run measured it (a Fisher estimate's batches).
    public var sensitivitySteps: Int?
    public var seed: UInt64
    public var budget: StudyBudget
    /// Lost leases or refused results a candidate may suffer before it is given up as stale.
    public var maxAttempts: Int
    public var lease: LeaseTimings
    public var template: RequestTemplate
    /// Multi-fidelity rungs (fine-tune steps) and promotion ratio; nil: every candidate gets the
    /// template's full fine-tune at once.
    public var fidelity: FidelitySchedule?
    /// Fine-tune the FP32 model with the candidates' recipe and full budget first, so drops compare
    /// fine-tuned with fine-tuned (false or absent: only the un-fine-tuned base model is measured).
    public var fineTunedReference: Bool?
    /// Common random numbers: every candidate (and the reference) fine-tuned with the same seed, so
    /// data order and augmentation do not differ between the configurations being compared; retries
    /// after a lost attempt still get their own. False or absent: a seed per configuration.
    public var commonRandomNumbers: Bool?
    /// The supernet λ sweep of the gumbel and hybrid strategies; nil for plain NSGA-II.
    public var supernet: SupernetSweep?
    /// `final.reseeds`: after the budget (not after a wall-time stop), every front member and the
    /// fine-tuned reference are fine-tuned again with this many more seeds; nil or 0: none.
    public var reseeds: Int?

    public init(
        name: String, configYAML: String, space: QuantizationSpace, objectives: [ObjectiveSpec], constraints: [ConstraintSpec] = [],
        parameters: NSGA2Parameters, sensitivity: SensitivityTable? = nil, seed: UInt64, budget: StudyBudget, maxAttempts: Int = 3,
        lease: LeaseTimings = LeaseTimings(), template: RequestTemplate, fidelity: FidelitySchedule? = nil, fineTunedReference: Bool = false,
        commonRandomNumbers: Bool = false, supernet: SupernetSweep? = nil, reseeds: Int = 0, sensitivitySteps: Int? = nil
    ) {
        self.sensitivitySteps = sensitivitySteps
        self.reseeds = reseeds
        self.supernet = supernet
        self.commonRandomNumbers = commonRandomNumbers
        self.fineTunedReference = fineTunedReference
        self.fidelity = fidelity
        self.name = name
        self.configYAML = configYAML
        self.space = space
        self.objectives = objectives
        self.constraints = constraints
        self.parameters = parameters
        self.sensitivity = sensitivity
        self.seed = seed
        self.budget = budget
        self.maxAttempts = maxAttempts
        self.lease = lease
        self.template = template
    }

    /// The rungs the search uses: the configured ones, or one rung of the template's budget.
    public var schedule: FidelitySchedule {
        fidelity ?? .single(steps: template.fineTune.maxSteps ?? 0)
    }

    public var isMultiFidelity: Bool { schedule.isMultiFidelity }

    /// How new candidates are proposed: the gumbel strategy evaluates only seeds (the baselines and
    /// the derived configurations).
    var proposals: SearchEngine.Proposals {
        supernet.map { $0.continuesWithNSGA2 ? .evolutionary : .seedsOnly } ?? .evolutionary
    }

    /// The summary RunStore keeps for readers.
    var runSettings: RunSettings {
        RunSettings(
            layers: space.layers, objectives: objectives, constraints: constraints, evaluationBudget: budget.evaluations, wallTimeBudget: budget.wallSeconds,
            referencePoint: parameters.referencePoint, populationSize: parameters.populationSize, maxAttempts: maxAttempts,
            sensitivitySteps: sensitivitySteps)
    }
}

/// The supernet training jobs of the gumbel and hybrid strategies: one per λ, each a job row in
/// the run (origin `supernet-training`), leased, retried and resumed like a candidate.
public struct SupernetSweep: Codable, Hashable, Sendable {
    public var jobs: [SupernetSettings]
    /// Each supernet's training budget.
    public var budget: FineTuneBudget
    /// hybrid: NSGA-II continues after the seeds; gumbel: only the seeds are evaluated.
    public var continuesWithNSGA2: Bool

    public init(jobs: [SupernetSettings], budget: FineTuneBudget, continuesWithNSGA2: Bool) {
        self.jobs = jobs
        self.budget = budget
        self.continuesWithNSGA2 = continuesWithNSGA2
    }

    /// A job's identity in the run (its candidate row's `config_hash`): SHA-256 of its settings,
    /// so it never collides with a configuration's hash.
    static func hash(of job: SupernetSettings) -> String {
        let text = "spikeq.supernet-job:" + ((try? StudyJSON.encode(job)) ?? "\(job.lambda)")
        return ContentHash.sha256(text)
    }
}

/// The parts of every request that do not depend on the candidate.
public struct RequestTemplate: Codable, Hashable, Sendable {
    public var fineTune: FineTuneBudget
    /// The FP32 checkpoint; its hash is the one every result must carry.
    public var baseCheckpoint: ArtifactReference
    /// The dataset; its fingerprint is the one every result must carry.
    public var dataset: DatasetReference
    /// Energy model name → YAML text.
    public var energyModels: [String: String]

    public init(fineTune: FineTuneBudget, baseCheckpoint: ArtifactReference, dataset: DatasetReference, energyModels: [String: String]) {
        self.fineTune = fineTune
        self.baseCheckpoint = baseCheckpoint
        self.dataset = dataset
        self.energyModels = energyModels
    }
}

/// Where the study reads the time. Injected so that tests control it.
public protocol StudyClock: Sendable {
    var now: Date { get }
}

/// The system's wall clock.
public struct SystemClock: StudyClock {
    public init() {}
    public var now: Date { Date() }
}
