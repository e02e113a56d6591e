import Foundation
import QuantConfig
import Wire

/// Everything the report shows, gathered from a run (see `ReportInput+RunStore`), so that the
/// figures and the page can be produced and tested from plain values.
public struct ReportInput: Sendable {
    public var runName: String
    /// One line naming the model and dataset.
    public var subtitle: String
    /// Quantizable layers in model order (heat-map columns).
    public var layerOrder: [String]
    /// The energy model the search minimised; figures use it on the energy axis.
    public var primaryEnergy: String
    /// Every energy model the results report, in display order.
    public var energyPresets: [String]
    /// The accuracy split the search selected on (validation) and the one reported (test).
    public var selectionSplit: String
    public var reportSplit: String
    public var candidates: [ReportCandidate]
    /// The FP32 model measured the same way.
    public var reference: ReferenceFigures?
    /// What `reference` is: the FP32 model fine-tuned like the candidates, or the base model as is.
    public var referenceIsFineTuned = false
    /// The base checkpoint's figures, when `reference` is the fine-tuned model (both are shown, and
    /// the claim check uses the stricter).
    public var baseReference: ReferenceFigures?
    public var hypervolume: [HypervolumePoint]
    public var workerActivity: [WorkerInterval]
    /// Free-text findings shown at the top (e.g. whether the paper's claim was reproduced).
    public var findings: [String]
    /// Key facts about the run (budget, evaluations, failures, wall time…), shown as a list.
    public var facts: [(String, String)]
    /// The gumbel/hybrid strategies' supernet sweep, least λ first (empty for nsga2 runs).
    public var supernets: [SupernetResult] = []

    public init(
        runName: String, subtitle: String, layerOrder: [String], primaryEnergy: String, energyPresets: [String],
        selectionSplit: String = "validation", reportSplit: String = "test", candidates: [ReportCandidate],
        reference: ReferenceFigures?, hypervolume: [HypervolumePoint], workerActivity: [WorkerInterval],
        findings: [String] = [], facts: [(String, String)] = []
    ) {
        self.runName = runName
        self.subtitle = subtitle
        self.layerOrder = layerOrder
        self.primaryEnergy = primaryEnergy
        self.energyPresets = energyPresets
        self.selectionSplit = selectionSplit
        self.reportSplit = reportSplit
        self.candidates = candidates
        self.reference = reference
        self.hypervolume = hypervolume
        self.workerActivity = workerActivity
        self.findings = findings
        self.facts = facts
    }

    public var front: [ReportCandidate] { candidates.filter(\.onFront) }
}

/// One evaluated candidate.
public struct ReportCandidate: Sendable {
    public var id: Int64
    /// `baseline`, `sensitivity`, `offspring`, `random` …
    public var origin: String
    public var result: EvaluationResult
    /// Whether it is on the final Pareto front (as the search defines it).
    public var onFront: Bool

    public init(id: Int64, origin: String, result: EvaluationResult, onFront: Bool) {
        self.id = id
        self.origin = origin
        self.result = result
        self.onFront = onFront
    }
}

public struct HypervolumePoint: Sendable, Hashable {
    public var evaluations: Int
    public var seconds: Double
    public var value: Double

    public init(evaluations: Int, seconds: Double, value: Double) {
        self.evaluations = evaluations
        self.seconds = seconds
        self.value = value
    }
}

/// A worker busy with one candidate from `start` to `end` (seconds since the run started).
public struct WorkerInterval: Sendable, Hashable {
    public var worker: String
    public var start: Double
    public var end: Double
    public var candidateId: Int64
    /// `done`, `failed` or `stale`.
    public var outcome: String

    public init(worker: String, start: Double, end: Double, candidateId: Int64, outcome: String) {
        self.worker = worker
        self.start = start
        self.end = end
        self.candidateId = candidateId
        self.outcome = outcome
    }
}
