import Foundation
import QuantConfig
import Statistics
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
    /// `final.reseeds`: front members fine-tuned again with more seeds, by candidate id.
    public var reseeds: [Int64: SeedAccuracies] = [:]
    /// The fine-tuned FP32 reference's re-fine-tunes with the same seeds.
    public var referenceReseeds: SeedAccuracies?

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

/// One model's accuracies under several fine-tune seeds (`final.reseeds`).
public struct SeedAccuracies: Sendable, Hashable {
    /// Accuracy by split for each seed: 0 is the search's own fine-tune, 1…K the re-fine-tunes
    /// (with common random numbers seed k is the same for every model, so drops pair by seed).
    public var bySeed: [Int: [String: Double]]

    public init(bySeed: [Int: [String: Double]] = [:]) { self.bySeed = bySeed }

    /// Mean ± sd of `split`'s accuracy over the seeds that measured it.
    public func spread(_ split: String) -> Spread? {
        let values = bySeed.values.compactMap { $0[split] }
        return values.isEmpty ? nil : Spread(values)
    }

    /// `reference − self` on `split`, seed by seed over the seeds both have.
    public func drop(against reference: SeedAccuracies, split: String) -> Spread? {
        let drops = bySeed.keys.sorted().compactMap { seed -> Double? in
            guard let own = bySeed[seed]?[split], let theirs = reference.bySeed[seed]?[split] else { return nil }
            return theirs - own
        }
        return drops.isEmpty ? nil : Spread(drops)
    }

    /// `82.10 % ± 1.30 (n = 3)`.
    public static func text(_ spread: Spread) -> String {
        String(format: "%.2f%% ± %.2f (n = %d)", spread.mean * 100, spread.standardDeviation * 100, spread.count)
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
