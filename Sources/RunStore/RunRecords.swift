import Foundation
import QuantConfig
import Search
import Wire

/// What a run is: recorded once, at creation.
public struct RunMetadata: Codable, Hashable, Sendable {
    public var name: String
    /// The resolved search config (paths absolute), also written to `search.yaml`.
    public var configYAML: String
    public var settings: RunSettings
    public var seed: UInt64
    public var toolVersion: String
    /// Fingerprint of the dataset every result must carry.
    public var datasetFingerprint: String
    /// SHA-256 of the FP32 base checkpoint every result must carry.
    public var checkpointHash: String
    public var createdAt: Date
    /// The coordinator's complete setup as JSON, opaque to RunStore (what `resume` rebuilds from).
    public var studyJSON: String

    public init(
        name: String, configYAML: String, settings: RunSettings, seed: UInt64, toolVersion: String = SpikeQuantVersion.string,
        datasetFingerprint: String, checkpointHash: String, createdAt: Date, studyJSON: String = "{}"
    ) {
        self.name = name
        self.configYAML = configYAML
        self.settings = settings
        self.seed = seed
        self.toolVersion = toolVersion
        self.datasetFingerprint = datasetFingerprint
        self.checkpointHash = checkpointHash
        self.createdAt = createdAt
        self.studyJSON = studyJSON
    }
}

/// The parts of the search config that readers of a run need without parsing YAML.
public struct RunSettings: Codable, Hashable, Sendable {
    /// Quantizable layers in model order (for short-form summaries).
    public var layers: [String]
    public var objectives: [ObjectiveSpec]
    public var constraints: [ConstraintSpec]
    /// Maximum finished candidates, if limited.
    public var evaluationBudget: Int?
    /// Maximum wall time in seconds, if limited.
    public var wallTimeBudget: Double?
    public var referencePoint: [Double]
    public var populationSize: Int
    public var maxAttempts: Int
    /// QAT steps spent measuring the sensitivity table when the run was created (nil: none), counted
    /// in ``RunStore/qatSteps()`` before any result.
    public var sensitivitySteps: Int?

    public init(
        layers: [String], objectives: [ObjectiveSpec], constraints: [ConstraintSpec] = [], evaluationBudget: Int?, wallTimeBudget: Double?,
        referencePoint: [Double], populationSize: Int, maxAttempts: Int, sensitivitySteps: Int? = nil
    ) {
        self.sensitivitySteps = sensitivitySteps
        self.layers = layers
        self.objectives = objectives
        self.constraints = constraints
        self.evaluationBudget = evaluationBudget
        self.wallTimeBudget = wallTimeBudget
        self.referencePoint = referencePoint
        self.populationSize = populationSize
        self.maxAttempts = maxAttempts
    }
}

/// Where a candidate is in its life: pending → running → done | failed | stale.
public enum CandidateStatus: String, Codable, Hashable, Sendable, CaseIterable {
    /// Waiting for a worker (new, or re-queued after a lost lease).
    case pending
    /// Leased to a worker.
    case running
    /// Has an accepted result.
    case done
    /// The evaluation itself raised (bad config, diverged, internal error).
    case failed
    /// Given up after its workers kept getting lost (retry cap reached).
    case stale
}

/// How one dispatch of a candidate ended.
public enum AttemptState: String, Codable, Hashable, Sendable, CaseIterable {
    case running
    /// A result arrived for this attempt (the first accepted, or a later one recorded as an event).
    case done
    /// The evaluation raised.
    case failed
    /// The worker was lost or its lease expired.
    case stale
    /// The result was refused (dataset fingerprint or checkpoint hash differs from the run's).
    case rejected
    /// The coordinator stopped while it ran (crash or end of run); not held against the candidate.
    case interrupted
}

public struct CandidateRecord: Hashable, Sendable {
    public var id: Int64
    public var configHash: String
    public var config: QuantizationConfig
    public var origin: CandidateOrigin
    /// Parent candidate ids (offspring only).
    public var parents: [Int64]
    public var status: CandidateStatus
    /// Dispatches so far.
    public var attempts: Int
    public var createdAt: Date
    public var finishedAt: Date?
    /// Why it failed or went stale.
    public var reason: String?
}

/// Input for ``RunWriter/insertCandidate(_:)``.
public struct NewCandidate: Hashable, Sendable {
    public var config: QuantizationConfig
    public var configHash: String
    public var origin: CandidateOrigin
    public var parents: [Int64]
    public var createdAt: Date

    public init(config: QuantizationConfig, configHash: String? = nil, origin: CandidateOrigin, parents: [Int64], createdAt: Date) {
        self.config = config
        self.configHash = configHash ?? config.hash
        self.origin = origin
        self.parents = parents
        self.createdAt = createdAt
    }
}

public struct AttemptRecord: Hashable, Sendable {
    public var candidateId: Int64
    public var number: Int
    public var worker: String
    public var seed: UInt64
    public var dispatchedAt: Date
    public var finishedAt: Date?
    public var state: AttemptState
    public var error: String?
    /// The latest PARTIAL, if any arrived.
    public var progress: EvaluationProgress?
    /// The fidelity rung this attempt evaluated (0 in single-fidelity runs).
    public var rung: Int = 0
}

/// A result below full fidelity (a lower rung of a multi-fidelity run).
public struct StoredRungResult: Hashable, Sendable {
    public var candidateId: Int64
    public var rung: Int
    public var attempt: Int
    /// Fine-tune steps this result's model had (the rung's budget).
    public var steps: Int
    public var result: EvaluationResult
    public var objectives: [Double]
    public var violations: [Double]
    public var violation: Double
    public var receivedAt: Date

    public var fitness: Fitness { Fitness(objectives: objectives, violation: violation) }
}

/// An accepted result with what the search made of it.
public struct StoredResult: Hashable, Sendable {
    public var candidateId: Int64
    public var attempt: Int
    public var configHash: String
    public var origin: CandidateOrigin
    public var result: EvaluationResult
    /// Minimised objective values, in the order of ``RunSettings/objectives``.
    public var objectives: [Double]
    /// Constraint values (positive = violated), in the order of ``RunSettings/constraints``.
    public var violations: [Double]
    /// Σ max(0, violation).
    public var violation: Double
    public var receivedAt: Date

    public var fitness: Fitness { Fitness(objectives: objectives, violation: violation) }
    public var isFeasible: Bool { violation <= 0 }
}

public struct RunEvent: Hashable, Sendable {
    public var id: Int64
    public var time: Date
    public var kind: String
    public var candidateId: Int64?
    public var attempt: Int?
    public var worker: String?
    /// JSON object with the event's details.
    public var payload: String
}

public struct HypervolumeRecord: Hashable, Sendable {
    public var evaluations: Int
    /// Seconds since the run was created.
    public var wallSeconds: Double
    public var value: Double

    public init(evaluations: Int, wallSeconds: Double, value: Double) {
        self.evaluations = evaluations
        self.wallSeconds = wallSeconds
        self.value = value
    }
}

public struct WorkerRecord: Hashable, Sendable {
    public var name: String
    public var firstSeen: Date
    public var lastSeen: Date
    public var connects: Int
    /// Times the worker was reported lost or its lease expired.
    public var lost: Int
    /// Why results from this worker are refused, if they are.
    public var quarantined: String?
    /// When it was last reported lost (schema v3).
    public var lastLost: Date? = nil

    /// Lost and not heard from since.
    public var isLost: Bool { lastLost.map { $0 >= lastSeen } ?? false }
}

/// A span during which a worker held a lease, for the utilisation plot. `end` is nil while running.
public struct BusyInterval: Hashable, Sendable {
    public var worker: String
    public var candidateId: Int64
    public var attempt: Int
    public var start: Date
    public var end: Date?
}

/// A supernet training job's accepted result.
/// One final re-fine-tune of a front member or the fine-tuned reference (`final.reseeds`).
public struct StoredReseedResult: Hashable, Sendable {
    /// The re-fine-tune's own candidate row.
    public var candidateId: Int64
    public var attempt: Int
    /// The front member (or reference) it fine-tuned again.
    public var of: Int64
    /// 1 … K: which extra seed.
    public var replicate: Int
    public var result: EvaluationResult
    public var receivedAt: Date
}

public struct StoredSupernetResult: Hashable, Sendable {
    public var candidateId: Int64
    public var attempt: Int
    public var result: SupernetResult
    public var receivedAt: Date
}
