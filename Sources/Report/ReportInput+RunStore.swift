import Foundation
import QuantConfig
import RunStore
import Search
import Wire

extension ReportInput {
    /// The paper's headline: within 1 percentage point of FP32 at 3.7 average bits or fewer.
    public static let claimAccuracyDrop = 0.01
    public static let claimAverageBits = 3.7

    /// Gathers a run's report from its database.
    public static func load(from store: RunStore) throws -> ReportInput {
        let metadata = try store.metadata()
        let settings = metadata.settings
        var selectionSplit = "validation"
        var primaryEnergy: String?
        for objective in settings.objectives.reversed() {
            switch objective {
            case .accuracy(let split): selectionSplit = split
            case .energy(let model): primaryEnergy = model
            case .averageBits, .packedBytes: break
            }
        }
        let results = try store.results()
        let front = Set(try store.pareto().members.map(\.candidateId))
        let presetNames = Set(results.flatMap { $0.result.energy.keys })
        let primary = primaryEnergy ?? presetNames.sorted().first ?? "spikformer-45nm"
        let presets = [primary] + presetNames.subtracting([primary]).sorted()
        let candidates = results.map {
            ReportCandidate(id: $0.candidateId, origin: $0.origin.rawValue, result: $0.result, onFront: front.contains($0.candidateId))
        }
        let start = metadata.createdAt
        let attempts = try store.attempts()
        let outcomes = Dictionary(attempts.map { ("\($0.candidateId)#\($0.number)", $0.state.rawValue) }, uniquingKeysWith: { $1 })
        let now = Date()
        let activity = try store.busyIntervals().map { interval in
            WorkerInterval(
                worker: interval.worker, start: interval.start.timeIntervalSince(start),
                end: (interval.end ?? now).timeIntervalSince(start), candidateId: interval.candidateId,
                outcome: outcomes["\(interval.candidateId)#\(interval.attempt)"] ?? "running")
        }
        let status = try store.status()
        // Drops are measured against the fine-tuned FP32 model when the run has one (like with
        // like); its energy and size stay the base model's (fine-tuning does not change them much,
        // and every candidate's reduction is computed against the base).
        var reference = results.first?.result.reference
        let fineTuned = try store.fineTunedReference()
        if let fineTuned {
            reference = ReferenceFigures(
                accuracy: fineTuned.accuracy, energy: reference?.energy ?? fineTuned.reference.energy, bytes: reference?.bytes ?? fineTuned.reference.bytes,
                samples: fineTuned.samples)
        }
        let rungResults = try store.rungResults()
        var input = ReportInput(
            runName: metadata.name,
            subtitle: "Run created \(ISO8601DateFormatter().string(from: metadata.createdAt)); \(settings.layers.count) quantizable layers; objectives: \(settings.objectives.map(\.description).joined(separator: ", "))",
            layerOrder: settings.layers, primaryEnergy: primary, energyPresets: presets, selectionSplit: selectionSplit,
            candidates: candidates, reference: reference,
            hypervolume: try store.hypervolumeHistory().map { HypervolumePoint(evaluations: $0.evaluations, seconds: $0.wallSeconds, value: $0.value) },
            workerActivity: activity)
        input.referenceIsFineTuned = fineTuned != nil
        if fineTuned != nil { input.baseReference = results.first?.result.reference }
        input.facts = [
            ("evaluated", "\(status.done) done, \(status.candidates[.failed, default: 0]) failed, \(status.candidates[.stale, default: 0]) stale"
                + (settings.evaluationBudget.map { " (budget \($0))" } ?? "")),
            ("active time", String(format: "%.1f min", try store.activeSeconds() / 60)),
            ("FP32 reference", fineTuned.map { "fine-tuned with the candidates' recipe (\($0.fineTune.steps) steps)" } ?? "the base checkpoint, not fine-tuned"),
            ("QAT steps", "\(try store.qatSteps())"
                + (rungResults.isEmpty ? "" : " (\(rungResults.count) lower-rung results, \(results.count) at full fidelity)")),
            ("workers", "\(status.workers.count)"),
            ("seed", "\(metadata.seed)"),
            ("dataset fingerprint", metadata.datasetFingerprint),
            ("base checkpoint sha256", metadata.checkpointHash),
            ("tool version", metadata.toolVersion),
        ]
        input.supernets = try store.supernetResults().map(\.result)
        input.findings = claimFindings(input)
        return input
    }

    /// Whether the run reproduces the seed paper's claim, selected on the selection split and
    /// reported on the report split; otherwise the best measured trade-off.
    static func claimFindings(_ input: ReportInput) -> [String] {
        guard let reference = input.reference, let measured = reference.accuracy[input.selectionSplit] else {
            return ["No results yet."]
        }
        // The stricter of the two references (fine-tuned FP32 and base checkpoint).
        let fp32Selection = max(measured, input.baseReference?.accuracy[input.selectionSplit] ?? measured)
        let fp32Report = max(reference.accuracy[input.reportSplit] ?? .nan, input.baseReference?.accuracy[input.reportSplit] ?? -1)
        func describe(_ c: ReportCandidate) -> String {
            let r = c.result
            let selection = (r.accuracy[input.selectionSplit] ?? .nan) * 100
            let report = (r.accuracy[input.reportSplit] ?? .nan) * 100
            let reduction = r.energy[input.primaryEnergy]?.reduction ?? .nan
            return "#\(c.id) at " + String(format: "%.2f average bits (%.2f× compression): ", r.averageBits, r.compression)
                + "\(input.selectionSplit) " + String(format: "%.2f%% (FP32 %.2f%%), ", selection, fp32Selection * 100)
                + "\(input.reportSplit) " + String(format: "%.2f%% (FP32 %.2f%%, drop %.2f pp), ", report, fp32Report * 100, fp32Report * 100 - report)
                + String(format: "%.2f× less energy", reduction) + " (\(input.primaryEnergy))"
        }
        let qualifying = input.candidates.filter {
            ($0.result.accuracy[input.selectionSplit] ?? 0) >= fp32Selection - claimAccuracyDrop && $0.result.averageBits <= claimAverageBits
        }
        if let best = qualifying.min(by: { ($0.result.energy[input.primaryEnergy]?.picojoules ?? .infinity) < ($1.result.energy[input.primaryEnergy]?.picojoules ?? .infinity) }) {
            return [
                "Reproduced the seed paper's claim (within 1 pp of FP32 at ≤ 3.7 average bits, selected on \(input.selectionSplit)): " + describe(best) + ".",
                "\(qualifying.count) evaluated configuration(s) qualify.",
            ]
        }
        var findings = ["No configuration reached \(input.selectionSplit) accuracy within 1 pp of FP32 at ≤ 3.7 average bits in this run."]
        let lowBit = input.candidates.filter { $0.result.averageBits <= claimAverageBits }
        if let closest = lowBit.max(by: { ($0.result.accuracy[input.selectionSplit] ?? 0) < ($1.result.accuracy[input.selectionSplit] ?? 0) }) {
            findings.append("Best at ≤ 3.7 bits: " + describe(closest) + ".")
        }
        let close = input.candidates.filter { ($0.result.accuracy[input.selectionSplit] ?? 0) >= fp32Selection - claimAccuracyDrop }
        if let fewestBits = close.min(by: { $0.result.averageBits < $1.result.averageBits }) {
            findings.append("Fewest bits within 1 pp: " + describe(fewestBits) + ".")
        }
        findings.append("A larger evaluation budget or a longer fine-tune per candidate (fine_tune.epochs) usually closes the gap; see the hypervolume figure for whether the search was still improving.")
        return findings
    }
}
