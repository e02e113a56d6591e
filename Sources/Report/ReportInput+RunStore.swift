import Foundation
import QuantConfig
import RunStore
import Search
import Statistics
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
        if let surrogate = try RunInspection.surrogateSummary(store) { input.facts.append(("surrogate screening", surrogate)) }
        input.supernets = try store.supernetResults().map(\.result)
        let bySeed = try store.accuraciesBySeed()
        if !bySeed.isEmpty {
            let referenceId = try store.candidates().first { $0.origin == .reference }?.id
            for (id, seeds) in bySeed {
                if id == referenceId { input.referenceReseeds = SeedAccuracies(bySeed: seeds) } else { input.reseeds[id] = SeedAccuracies(bySeed: seeds) }
            }
            let count = bySeed.values.reduce(0) { $0 + $1.keys.filter { $0 > 0 }.count }
            input.facts.append(("re-fine-tunes", "\(count) (final.reseeds: \(input.reseeds.count) front models\(input.referenceReseeds == nil ? "" : " and the FP32 reference"))"))
        }
        input.findings = claimFindings(input)
        return input
    }

    /// Whether the run reproduces the seed paper's claim: a model at ≤ 3.7 average bits within 1 pp
    /// of FP32 on the report split. The model is chosen without looking at the report split: the
    /// most accurate on the selection split among those at ≤ 3.7 bits (ties: less energy). FP32 is
    /// the stricter of the two references (fine-tuned and base); the drop is also given paired over
    /// the same samples, so a pass or fail inside the noise is called that.
    package static func claimFindings(_ input: ReportInput) -> [String] {
        guard let reference = input.reference, reference.accuracy[input.reportSplit] != nil else {
            return ["No results yet."]
        }
        let strictest = [reference, input.baseReference].compactMap { $0 }
            .max { ($0.accuracy[input.reportSplit] ?? -1) < ($1.accuracy[input.reportSplit] ?? -1) }!
        let fp32Selection = strictest.accuracy[input.selectionSplit] ?? .nan
        let fp32Report = strictest.accuracy[input.reportSplit] ?? .nan
        func energy(_ c: ReportCandidate) -> Double { c.result.energy[input.primaryEnergy]?.picojoules ?? .infinity }
        func selection(_ c: ReportCandidate) -> Double { c.result.accuracy[input.selectionSplit] ?? -1 }
        func drop(_ c: ReportCandidate) -> Double { fp32Report - (c.result.accuracy[input.reportSplit] ?? -1) }
        func describe(_ c: ReportCandidate, paired: PairedComparison?) -> String {
            let r = c.result
            return "#\(c.id) at " + String(format: "%.2f average bits (%.2f× compression): ", r.averageBits, r.compression)
                + "\(input.selectionSplit) " + String(format: "%.2f%% (FP32 %.2f%%), ", selection(c) * 100, fp32Selection * 100)
                + "\(input.reportSplit) " + String(format: "%.2f%% (FP32 %.2f%%, drop %.2f pp", (r.accuracy[input.reportSplit] ?? .nan) * 100, fp32Report * 100, drop(c) * 100)
                + (paired.map { "; paired " + HonestFigures.text($0) } ?? "") + "), "
                + String(format: "%.2f× less energy", r.energy[input.primaryEnergy]?.reduction ?? .nan) + " (\(input.primaryEnergy))"
        }
        let lowBit = input.candidates.filter { $0.result.averageBits <= claimAverageBits && $0.result.accuracy[input.reportSplit] != nil }
        guard let chosen = lowBit.max(by: { (selection($0), -energy($0)) < (selection($1), -energy($1)) }) else {
            return ["No configuration at ≤ 3.7 average bits was evaluated in this run."]
        }
        let rule = "at ≤ 3.7 average bits, the most accurate on \(input.selectionSplit), within 1 pp of FP32 on \(input.reportSplit)"
        let paired = HonestFigures.drop(of: chosen.result.samples?[input.reportSplit], against: strictest.samples?[input.reportSplit])
        var findings: [String]
        if drop(chosen) <= claimAccuracyDrop + 1e-12 {
            findings = ["Reproduced the seed paper's claim (\(rule)): " + describe(chosen, paired: paired) + "."]
        } else {
            findings = ["Not reproduced (\(rule)): the model chosen on \(input.selectionSplit) is " + describe(chosen, paired: paired) + "."]
            findings.append("A larger evaluation budget or a longer fine-tune per candidate (fine_tune.epochs) usually closes the gap; see the hypervolume figure for whether the search was still improving.")
        }
        if let seeds = input.reseeds[chosen.id], let spread = seeds.spread(input.reportSplit), spread.count > 1 {
            var text = "Fine-tuned with \(spread.count) seeds in all, #\(chosen.id) scores " + SeedAccuracies.text(spread) + " on \(input.reportSplit)"
                + " (the search's seed: " + String(format: "%.2f%%", (chosen.result.accuracy[input.reportSplit] ?? .nan) * 100) + ")"
            if let reference = input.referenceReseeds, let drop = seeds.drop(against: reference, split: input.reportSplit), drop.count > 1 {
                text += "; the fine-tuned FP32 reference " + (reference.spread(input.reportSplit).map(SeedAccuracies.text) ?? "–")
                    + String(format: ", a drop of %.2f ± %.2f pp seed by seed", drop.mean * 100, drop.standardDeviation * 100)
            }
            findings.append(text + ".")
        }
        if let paired {
            let d = paired.difference
            if d.lower <= claimAccuracyDrop && claimAccuracyDrop <= d.upper {
                findings.append("On \(paired.samples) \(input.reportSplit) samples the drop's 95 % interval (\(Interval.format(d.lower * 100, 1)) to \(Interval.format(d.upper * 100, 1)) pp) contains the 1 pp threshold: whether the claim holds is within noise here.")
            }
        }
        return findings
    }
}
