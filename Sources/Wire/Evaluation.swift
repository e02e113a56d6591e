import QuantConfig

/// What a worker is asked to do for one candidate: fine-tune the base checkpoint with `config`
/// quantization-aware, then evaluate it. The body of an 18/MDP REQUEST to `spikeq.evaluate`.
public struct EvaluationRequest: Codable, Hashable, Sendable {
    /// Body schema; a worker refuses a schema it does not know with a structured error.
    public static let currentSchema = "spikeq.evaluate/1"
    /// Schema of a supernet training job (``supernet`` set): a worker that only knows
    /// ``currentSchema`` refuses it instead of evaluating the placeholder `config`.
    public static let supernetSchema = "spikeq.supernet/1"

    public var schema: String
    /// The coordinator's id for this candidate (unique within a run).
    public var candidateId: Int64
    /// 1 for the first dispatch, incremented on each re-issue after a lost lease.
    public var attempt: Int
    public var config: QuantizationConfig
    public var budget: FineTuneBudget
    /// Seed for the fine-tune (data order, augmentation); derived from the run seed, the config
    /// hash and the attempt, so a re-issued candidate is reproducible.
    public var seed: UInt64
    /// The FP32 checkpoint to start from, content-addressed.
    public var baseCheckpoint: ArtifactReference
    /// Where and how the worker reads data locally, and the fingerprint its frames must have.
    public var dataset: DatasetReference
    /// Energy tables to report (name → YAML text of `configs/energy/<name>.yaml`).
    public var energyModels: [String: String]
    /// The rung of a multi-fidelity search (0 = the first, cheapest); nil for a single-fidelity run.
    public var rung: Int?
    /// Continue an earlier, shorter fine-tune of the same candidate instead of starting over.
    public var continuation: Continuation?
    /// The splits to measure (`validation`, `test`); nil: every split. Lower rungs need validation only.
    public var splits: [String]?
    /// Set for a supernet training job (schema ``supernetSchema``): train a Gumbel-softmax supernet
    /// over its space with `budget` and `seed`, and reply with the derived configuration
    /// (``EvaluationOutcome/supernet``) instead of evaluating `config` (then all-float, unused).
    public var supernet: SupernetJob?

    /// Whether this request is a supernet training job.
    public var isSupernetJob: Bool { schema == Self.supernetSchema && supernet != nil }

    public init(
        candidateId: Int64, attempt: Int, config: QuantizationConfig, budget: FineTuneBudget, seed: UInt64,
        baseCheckpoint: ArtifactReference, dataset: DatasetReference, energyModels: [String: String], rung: Int? = nil,
        continuation: Continuation? = nil, splits: [String]? = nil
    ) {
        self.rung = rung
        self.continuation = continuation
        self.splits = splits
        self.schema = Self.currentSchema
        self.candidateId = candidateId
        self.attempt = attempt
        self.config = config
        self.budget = budget
        self.seed = seed
        self.baseCheckpoint = baseCheckpoint
        self.dataset = dataset
        self.energyModels = energyModels
    }
}

/// Where a promoted candidate's fine-tune continues from.
///
/// Rung r of a multi-fidelity search is exactly the first `steps(r)` steps of the full fine-tune
/// (same seed, data order and learning-rate schedule, see ``FineTuneBudget/scheduleSteps``). A
/// worker that still holds the candidate's training state after `fromSteps` continues it exactly;
/// otherwise it starts from the earlier evaluation's packed model (weights and scales, a fresh
/// optimizer) if there is one, else from the base checkpoint. The result says which happened.
public struct Continuation: Codable, Hashable, Sendable {
    /// Steps the earlier evaluation ran.
    public var fromSteps: Int
    /// The earlier evaluation's packed model, served by the coordinator's artifact service.
    public var packedModel: ArtifactReference?

    public init(fromSteps: Int, packedModel: ArtifactReference?) {
        self.fromSteps = fromSteps
        self.packedModel = packedModel
    }
}

/// The quantization-aware fine-tuning recipe and budget for one candidate.
public struct FineTuneBudget: Codable, Hashable, Sendable {
    /// Passes over the training split. 0 evaluates the quantized model without fine-tuning
    /// (post-training quantization with calibrated scales).
    public var epochs: Int
    /// If set, stop after this many optimizer steps (whichever of epochs and steps comes first).
    public var maxSteps: Int?
    public var learningRate: Double
    public var weightDecay: Double
    public var batchSize: Int
    public var labelSmoothing: Double
    /// Compute threads the evaluation may use; nil means the worker's `--threads`.
    public var threads: Int?
    /// The learning-rate schedule's length in steps when it is longer than `maxSteps` (a lower rung
    /// runs a prefix of the full fine-tune); nil: the steps this fine-tune runs.
    public var scheduleSteps: Int?

    public init(
        epochs: Int = 1, maxSteps: Int? = nil, learningRate: Double = 1e-4, weightDecay: Double = 0.0,
        batchSize: Int = 16, labelSmoothing: Double = 0.1, threads: Int? = nil, scheduleSteps: Int? = nil
    ) {
        self.scheduleSteps = scheduleSteps
        self.epochs = epochs
        self.maxSteps = maxSteps
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.batchSize = batchSize
        self.labelSmoothing = labelSmoothing
        self.threads = threads
    }
}

/// A content-addressed file (the FP32 base checkpoint): workers without a shared filesystem fetch it
/// once from the coordinator, verify the hash and cache it.
public struct ArtifactReference: Codable, Hashable, Sendable {
    /// Lowercase hex SHA-256 of the file's bytes.
    public var sha256: String
    public var bytes: Int
    /// A human-readable name, e.g. `base.safetensors`.
    public var name: String

    public init(sha256: String, bytes: Int, name: String) {
        self.sha256 = sha256
        self.bytes = bytes
        self.name = name
    }
}

/// The dataset a candidate is evaluated on. Workers read data locally; the fingerprint (a hash of
/// the source files and the frame settings) must match or the coordinator rejects the result.
public struct DatasetReference: Codable, Hashable, Sendable {
    /// The dataset config as YAML (root path, T, input size, split …).
    public var configYAML: String
    /// Fingerprint the coordinator computed for this dataset.
    public var fingerprint: String

    public init(configYAML: String, fingerprint: String) {
        self.configYAML = configYAML
        self.fingerprint = fingerprint
    }
}

/// Progress of a running evaluation: the body of an 18/MDP PARTIAL.
public struct EvaluationProgress: Codable, Hashable, Sendable {
    public var candidateId: Int64
    public var attempt: Int
    /// `fetch`, `load`, `reference`, `finetune` or `evaluate`.
    public var phase: String
    public var epoch: Int
    public var epochs: Int
    public var step: Int
    public var steps: Int
    /// Mean training loss so far in this epoch, if fine-tuning.
    public var loss: Double?
    /// Training accuracy so far in this epoch, if fine-tuning.
    public var accuracy: Double?

    public init(
        candidateId: Int64, attempt: Int, phase: String, epoch: Int = 0, epochs: Int = 0, step: Int = 0, steps: Int = 0,
        loss: Double? = nil, accuracy: Double? = nil
    ) {
        self.candidateId = candidateId
        self.attempt = attempt
        self.phase = phase
        self.epoch = epoch
        self.epochs = epochs
        self.step = step
        self.steps = steps
        self.loss = loss
        self.accuracy = accuracy
    }
}

/// The end of an evaluation: the body of an 18/MDP FINAL. Exactly one of `result` and `error` is set.
public struct EvaluationOutcome: Codable, Hashable, Sendable {
    public var candidateId: Int64
    public var attempt: Int
    public var result: EvaluationResult?
    public var error: EvaluationFailure?
    /// Which worker produced it (host name and process id), for the run log.
    public var worker: String
    /// The derived configuration of a supernet training job (instead of `result`).
    public var supernet: SupernetResult?

    public init(
        candidateId: Int64, attempt: Int, result: EvaluationResult?, error: EvaluationFailure?, worker: String, supernet: SupernetResult? = nil
    ) {
        self.candidateId = candidateId
        self.attempt = attempt
        self.result = result
        self.error = error
        self.worker = worker
        self.supernet = supernet
    }
}

/// Why an evaluation failed (the evaluation itself raised; distinct from a lost worker).
public struct EvaluationFailure: Codable, Hashable, Sendable, Error, CustomStringConvertible {
    public var kind: FailureKind
    public var message: String

    public init(kind: FailureKind, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind): \(message)" }
}

/// What went wrong, as a stable machine-readable word on the wire (`"bad-request"`). An open set: a
/// kind a newer or third-party peer sends still decodes, and code matches only the named constants.
/// Evaluations and the artifact service share it.
public struct FailureKind: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    // Evaluations.
    /// The request (or a continuation it names) does not fit this model, space or worker.
    public static let badRequest = FailureKind(rawValue: "bad-request")
    /// The request's schema is not one this worker speaks.
    public static let schema = FailureKind(rawValue: "schema")
    /// The worker is still evaluating another request.
    public static let busy = FailureKind(rawValue: "busy")
    /// The worker cannot read or prepare the dataset.
    public static let dataset = FailureKind(rawValue: "dataset")
    /// The worker's dataset has another fingerprint than the run's.
    public static let datasetMismatch = FailureKind(rawValue: "dataset-mismatch")
    /// The worker cannot fetch, store or read the checkpoint.
    public static let checkpoint = FailureKind(rawValue: "checkpoint")
    /// The checkpoint's SHA-256 is not the run's.
    public static let checkpointHash = FailureKind(rawValue: "checkpoint-hash")
    /// The loss became NaN or infinite.
    public static let diverged = FailureKind(rawValue: "diverged")
    /// Anything else (cancellation, an encoding failure).
    public static let `internal` = FailureKind(rawValue: "internal")

    // The artifact service.
    /// No artifact with that hash.
    public static let notFound = FailureKind(rawValue: "not-found")
    /// Offset past the end, or a negative length.
    public static let badRange = FailureKind(rawValue: "bad-range")
    /// The broker could not read the file.
    public static let io = FailureKind(rawValue: "io")
    /// The REQUEST named a service the broker does not serve to clients.
    public static let unknownService = FailureKind(rawValue: "unknown-service")

    /// A failure of the worker's environment (its data or checkpoint), not of the candidate: the
    /// study stops sending that worker work and re-queues the candidate.
    public var isEnvironmental: Bool { [.dataset, .datasetMismatch, .checkpoint, .checkpointHash].contains(self) }
}
