import QuantConfig

/// Everything measured for one candidate: the JSON `spikeq evaluate --json` prints and the payload
/// of a successful FINAL.
public struct EvaluationResult: Codable, Hashable, Sendable {
    public var configHash: String
    public var config: QuantizationConfig
    /// Top-1 accuracy in [0, 1] on each split that exists (`validation`, `test`).
    public var accuracy: [String: Double]
    /// Parameter-weighted average weight bits over the quantizable layers (float layers count 32).
    public var averageBits: Double
    /// 32 / averageBits.
    public var compression: Double
    /// Bytes of the packed model: bit-packed codes, per-layer scales, and the float tensors kept
    /// (BatchNorm, biases).
    public var packedBytes: Int
    /// Energy per inference (one sample, all T time steps) under each energy model.
    public var energy: [String: EnergyFigure]
    /// Per-layer measurements, in model order, including the attention products.
    public var layers: [LayerMeasurement]
    /// The FP32 model measured the same way on the same data.
    public var reference: ReferenceFigures
    public var fineTune: FineTuneSummary
    public var wallSeconds: Double
    public var datasetFingerprint: String
    public var checkpointHash: String
    public var toolVersion: String
    /// Per split, which samples were classified correctly (in split order): what paired comparisons
    /// and intervals are computed from. Absent in results of older versions.
    public var samples: [String: SampleOutcomes]?

    public init(
        configHash: String, config: QuantizationConfig, accuracy: [String: Double], averageBits: Double,
        compression: Double, packedBytes: Int, energy: [String: EnergyFigure], layers: [LayerMeasurement],
        reference: ReferenceFigures, fineTune: FineTuneSummary, wallSeconds: Double, datasetFingerprint: String,
        checkpointHash: String, toolVersion: String = SpikeQuantVersion.string, samples: [String: SampleOutcomes]? = nil
    ) {
        self.samples = samples
        self.configHash = configHash
        self.config = config
        self.accuracy = accuracy
        self.averageBits = averageBits
        self.compression = compression
        self.packedBytes = packedBytes
        self.energy = energy
        self.layers = layers
        self.reference = reference
        self.fineTune = fineTune
        self.wallSeconds = wallSeconds
        self.datasetFingerprint = datasetFingerprint
        self.checkpointHash = checkpointHash
        self.toolVersion = toolVersion
    }
}

/// Energy of one inference under one energy model.
public struct EnergyFigure: Codable, Hashable, Sendable {
    /// Total energy per inference in picojoules.
    public var picojoules: Double
    /// FP32 energy / this energy, both measured on the same data (1 for the FP32 model).
    public var reduction: Double

    public init(picojoules: Double, reduction: Double) {
        self.picojoules = picojoules
        self.reduction = reduction
    }
}

/// One layer's activity and cost for one inference (one sample, all T steps).
public struct LayerMeasurement: Codable, Hashable, Sendable {
    /// Checkpoint layer name (e.g. `blocks.0.attn.q.linear`), or `blocks.{b}.attn.matmul` for the
    /// two spike products of spiking self-attention.
    public var name: String
    /// The layer's weight choice; nil for weightless products.
    public var quantization: LayerQuantization?
    /// Weight elements (0 for weightless products).
    public var parameters: Int
    /// Spikes per input element (the fraction of ones for binary spikes; residual sums of spikes
    /// count every spike). For the first layer, the mean event count per input element.
    public var inputFiringRate: Double
    /// Whether the input is binary spikes (accumulate-only) or real-valued (multiply-accumulate).
    public var spikingInput: Bool
    /// Dense multiply-accumulate slots per inference (all T steps).
    public var macs: Double
    /// Synaptic operations per inference: firing rate × dense MACs for spiking input, else 0.
    public var sops: Double
    /// Energy per inference under each model, picojoules.
    public var energy: [String: Double]

    public init(
        name: String, quantization: LayerQuantization?, parameters: Int, inputFiringRate: Double, spikingInput: Bool,
        macs: Double, sops: Double, energy: [String: Double]
    ) {
        self.name = name
        self.quantization = quantization
        self.parameters = parameters
        self.inputFiringRate = inputFiringRate
        self.spikingInput = spikingInput
        self.macs = macs
        self.sops = sops
        self.energy = energy
    }
}

/// The FP32 reference, measured with the same evaluation code on the same data.
public struct ReferenceFigures: Codable, Hashable, Sendable {
    public var accuracy: [String: Double]
    /// Energy per inference under each model, picojoules.
    public var energy: [String: Double]
    /// Bytes of the FP32 model's tensors (4 bytes per parameter).
    public var bytes: Int
    /// Per split, which samples the FP32 model classified correctly (for paired comparisons).
    public var samples: [String: SampleOutcomes]?

    public init(accuracy: [String: Double], energy: [String: Double], bytes: Int, samples: [String: SampleOutcomes]? = nil) {
        self.samples = samples
        self.accuracy = accuracy
        self.energy = energy
        self.bytes = bytes
    }
}

/// What the fine-tune did.
public struct FineTuneSummary: Codable, Hashable, Sendable {
    public var epochs: Int
    /// Optimizer steps run by this evaluation (the cost); a continued fine-tune adds them to
    /// ``resumedFrom``.
    public var steps: Int
    public var finalLoss: Double?
    public var seconds: Double
    /// Steps inherited from an earlier evaluation of the same candidate (``Continuation``), if any.
    public var resumedFrom: Int?
    /// How a continuation started: from the exact training state, or from the packed model.
    public var warmStart: WarmStart?

    /// Steps the model has been fine-tuned for in total.
    public var totalSteps: Int { (resumedFrom ?? 0) + steps }

    public init(epochs: Int, steps: Int, finalLoss: Double?, seconds: Double, resumedFrom: Int? = nil, warmStart: WarmStart? = nil) {
        self.resumedFrom = resumedFrom
        self.warmStart = warmStart
        self.epochs = epochs
        self.steps = steps
        self.finalLoss = finalLoss
        self.seconds = seconds
    }
}

/// How a continued fine-tune started.
public enum WarmStart: String, Codable, Hashable, Sendable {
    /// The worker still held the weights, scales and optimizer moments: identical to one long run.
    case state
    /// From the earlier evaluation's packed model (quantized weights and scales, a new optimizer).
    case packed
}
