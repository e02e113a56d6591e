import Foundation
import Statistics
import QuantConfig
import RunStore
import Search
import Wire

/// One member of a run's Pareto front, flattened for tables and `--json`.
public struct ParetoRow: Codable, Hashable, Sendable {
    public var id: Int64
    public var configHash: String
    public var origin: String
    /// Short forms in model order, e.g. `u8 u4 p3 …`.
    public var summary: String
    public var validationAccuracy: Double?
    public var testAccuracy: Double?
    /// 95 % Wilson intervals of the two accuracies (from the per-sample outcomes).
    public var validationInterval: Interval?
    public var testInterval: Interval?
    /// FP32 validation accuracy − validation accuracy (fraction).
    public var accuracyDrop: Double?
    /// The energy model of the energy objective (or the first one reported).
    public var energyModel: String?
    public var energyPicojoules: Double?
    public var energyReduction: Double?
    public var averageBits: Double
    public var compression: Double
    public var packedBytes: Int
    public var feasible: Bool
    /// The search's internal (minimised) objective values.
    public var objectives: [Double]
    /// Validation and test accuracy over all fine-tune seeds, when the run re-tuned its front
    /// (`final.reseeds`): the search's own seed and the K re-fine-tunes.
    public var validationOverSeeds: Spread?
    public var testOverSeeds: Spread?
}

/// What `spikeq pareto` and `spikeq status` show, computed from a run's store.
public enum RunInspection {
    /// The energy model a run's tables report: its energy objective's, else its first constraint's,
    /// else the first one results carry.
    static func energyModel(_ settings: RunSettings, results: [StoredResult]) -> String? {
        for case .energy(let model) in settings.objectives { return model }
        for case .maxEnergy(let model, _) in settings.constraints { return model }
        return results.first?.result.energy.keys.sorted().first
    }

    public static func paretoRows(_ store: RunStore) throws -> (rows: [ParetoRow], feasible: Bool, evaluated: Int) {
        let metadata = try store.metadata()
        let front = try store.pareto()
        let model = energyModel(metadata.settings, results: front.members)
        // Drops against the fine-tuned FP32 model when the run has one, else the base checkpoint.
        let fineTuned = try store.fineTunedReference()
        let spreads = try store.accuracySpreads()
        let rows = front.members.map { member -> ParetoRow in
            let result = member.result
            let validation = result.accuracy["validation"]
            let reference = (fineTuned?.accuracy ?? result.reference.accuracy)["validation"]
            return ParetoRow(
                id: member.candidateId, configHash: member.configHash, origin: member.origin.rawValue,
                summary: result.config.summary(order: metadata.settings.layers), validationAccuracy: validation, testAccuracy: result.accuracy["test"],
                validationInterval: result.accuracyInterval(split: "validation"), testInterval: result.accuracyInterval(split: "test"),
                accuracyDrop: validation.flatMap { v in reference.map { $0 - v } }, energyModel: model,
                energyPicojoules: model.flatMap { result.energy[$0]?.picojoules }, energyReduction: model.flatMap { result.energy[$0]?.reduction },
                averageBits: result.averageBits, compression: result.compression, packedBytes: result.packedBytes, feasible: member.isFeasible,
                objectives: member.objectives, validationOverSeeds: spreads[member.candidateId]?["validation"],
                testOverSeeds: spreads[member.candidateId]?["test"])
        }
        return (rows, front.feasible, front.evaluated)
    }

    /// The front as a text table.
    public static func paretoTable(_ store: RunStore) throws -> String {
        let (rows, feasible, evaluated) = try paretoRows(store)
        let metadata = try store.metadata()
        var out = "Pareto front of \(metadata.name): \(rows.count) of \(evaluated) evaluated configurations\n"
        if !feasible { out += "No configuration meets the constraints; showing the least-violating ones.\n" }
        guard !rows.isEmpty else { return out + "(no results yet)\n" }
        let model = rows.first?.energyModel ?? "energy"
        let reseeded = rows.contains { $0.testOverSeeds != nil }
        var header = ["id", "config", "val acc", "test acc", "test 95% CI"]
        if reseeded { header.append("test over seeds") }
        header += ["drop", "energy (\(model))", "reduction", "avg bits", "compression"]
        var table = TextTable(header: header)
        for row in rows {
            var cells = [
                "\(row.id)", row.summary, percent(row.validationAccuracy), percent(row.testAccuracy),
                row.testInterval.map { String(format: "%.1f–%.1f%%", $0.lower * 100, $0.upper * 100) } ?? "-",
            ]
            if reseeded {
                cells.append(row.testOverSeeds.map { String(format: "%.2f ± %.2f%% (n = %d)", $0.mean * 100, $0.standardDeviation * 100, $0.count) } ?? "-")
            }
            table.add(
                cells + [
                    row.accuracyDrop.map(points) ?? "-", row.energyPicojoules.map(energy) ?? "-",
                    row.energyReduction.map { String(format: "%.2f×", $0) } ?? "-", String(format: "%.2f", row.averageBits),
                    String(format: "%.2f×", row.compression),
                ])
        }
        return out + table.rendered
    }

    public static func paretoJSON(_ store: RunStore) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(try paretoRows(store).rows), as: UTF8.self) + "\n"
    }

    /// How well the surrogate that screens children ranks them: Spearman's ρ per objective between
    /// its predictions and the results it had not seen yet. Nil when the run has no surrogate or it
    /// has not predicted anything yet.
    public static func surrogateSummary(_ store: RunStore) throws -> String? {
        guard let surrogate = try store.latestSearchState()?.surrogate, !surrogate.heldBack.isEmpty else { return nil }
        let names = try store.metadata().settings.objectives.map(\.description)
        let correlations = surrogate.heldBackCorrelation.enumerated().map { index, rho in
            (index < names.count ? names[index] : "objective \(index + 1)") + " " + (rho.map { String(format: "%.2f", $0) } ?? "undefined")
        }
        return "Spearman ρ on \(surrogate.heldBack.count) held-back results: " + correlations.joined(separator: ", ")
    }

    /// The run at a glance: progress against the budget, in-flight work, failures, hypervolume, the
    /// best accuracy at each energy, and the workers seen.
    public static func statusText(_ store: RunStore, now: Date = Date()) throws -> String {
        let status = try store.status()
        let settings = status.metadata.settings
        let active = try store.activeSeconds()
        let results = try store.results()
        var out = "Run \(status.metadata.name) (\(store.directory.path))\n"
        out += "  created \(timestamp(status.metadata.createdAt)), seed \(status.metadata.seed), SpikeQuant \(status.metadata.toolVersion)\n"
        var progress = "  evaluations: \(status.done) done"
        if let budget = settings.evaluationBudget { progress += ", \(status.finished) of \(budget) finished" }
        progress += "; active time \(duration(active))"
        if let wall = settings.wallTimeBudget { progress += " of \(duration(wall))" }
        out += progress + "\n"
        let rungResults = try store.rungResults()
        if !rungResults.isEmpty {
            // Multi-fidelity: results per rung and what the search cost in fine-tune steps.
            var byRung: [Int: Int] = [:]
            for result in rungResults { byRung[result.rung, default: 0] += 1 }
            let lower = byRung.keys.sorted().map { "rung \($0): \(byRung[$0]!)" }.joined(separator: ", ")
            out += "  fidelity: \(lower), full fidelity: \(results.count); \(try store.qatSteps()) QAT steps in all\n"
        }
        out += supernetSweepText(try store.supernetResults(), results: results)
        let reseeds = try store.candidates().filter { $0.origin == .reseed }
        if !reseeds.isEmpty {
            let done = reseeds.filter { $0.status == .done }.count
            out += "  re-fine-tunes (final.reseeds): \(done) of \(reseeds.count) done; mean ± sd per model in the report\n"
        }
        out += "  candidates: " + CandidateStatus.allCases.map { "\($0.rawValue) \(status.candidates[$0, default: 0])" }.joined(separator: ", ") + "\n"
        out += "  attempts: " + AttemptState.allCases.map { "\($0.rawValue) \(status.attempts[$0, default: 0])" }.joined(separator: ", ") + "\n"
        if let hv = status.hypervolume {
            out += String(format: "  hypervolume: %.5f after %d evaluations", hv.value, hv.evaluations) + " (reference point \(settings.referencePoint))\n"
        } else {
            out += "  hypervolume: no results yet\n"
        }
        if let surrogate = try surrogateSummary(store) { out += "  surrogate: \(surrogate)\n" }
        out += "  in flight: \(status.inFlight.count)\n"
        for attempt in status.inFlight {
            var line = "    #\(attempt.candidateId) attempt \(attempt.number) on \(attempt.worker), \(duration(now.timeIntervalSince(attempt.dispatchedAt)))"
            if let p = attempt.progress {
                line += " — \(p.phase)"
                if p.epochs > 0 { line += " epoch \(p.epoch)/\(p.epochs)" }
                if p.steps > 0 { line += " step \(p.step)/\(p.steps)" }
                if let loss = p.loss { line += String(format: " loss %.3f", loss) }
            }
            out += line + "\n"
        }
        out += bestAccuracyByEnergy(results, settings: settings)
        let busy = try busySeconds(store, now: now)
        out += "  workers seen: \(status.workers.count)\n"
        for worker in status.workers {
            let busySeconds = busy[worker.name, default: 0]
            var line = "    \(worker.name): connects \(worker.connects), lost \(worker.lost), busy \(duration(busySeconds))"
            if active > 0 { line += String(format: " (%.0f%% of active time)", min(100, busySeconds / active * 100)) }
            line += ", last seen \(duration(max(0, now.timeIntervalSince(worker.lastSeen)))) ago"
            if let reason = worker.quarantined { line += " — QUARANTINED: \(reason)" }
            out += line + "\n"
        }
        if let last = status.lastEvent { out += "  last event \(timestamp(last))\n" }
        return out
    }

    /// The gumbel/hybrid λ sweep: per λ, the derived configuration, its predicted energy and bits,
    /// and its evaluated validation accuracy once there is one.
    static func supernetSweepText(_ supernets: [StoredSupernetResult], results: [StoredResult]) -> String {
        guard !supernets.isEmpty else { return "" }
        var out = "  supernet sweep (\(supernets.count) λ, \(supernets.reduce(0) { $0 + $1.result.steps }) QAT steps):\n"
        for stored in supernets {
            let r = stored.result
            var line = "    λ " + String(format: "%g", r.lambda).padding(toLength: 8, withPad: " ", startingAt: 0) + " derived " + String(r.configHash.prefix(12))
            line += String(format: ", %.2f bits, predicted energy %.3f × FP32", r.averageBits, r.derivedRelativeEnergy)
            if let evaluated = results.first(where: { $0.configHash == r.configHash }), let accuracy = evaluated.result.accuracy["validation"] {
                line += String(format: ", validation %.2f%% (#%lld)", accuracy * 100, evaluated.candidateId)
            } else {
                line += ", not evaluated yet"
            }
            out += line + "\n"
        }
        return out
    }

    /// For the feasible results sorted by energy, each one that beats every cheaper one on accuracy:
    /// the best accuracy reachable at each energy level.
    static func bestAccuracyByEnergy(_ results: [StoredResult], settings: RunSettings) -> String {
        guard let model = energyModel(settings, results: results) else { return "" }
        let feasible = results.filter(\.isFeasible)
        let entries = feasible.compactMap { r -> (Double, Double, StoredResult)? in
            guard let e = r.result.energy[model]?.picojoules, let a = r.result.accuracy["validation"] else { return nil }
            return (e, a, r)
        }.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 > $1.1 }
        var out = "  best validation accuracy at each energy (\(model)):\n"
        var best = -Double.infinity
        var lines = 0
        for (e, a, r) in entries where a > best {
            best = a
            lines += 1
            let drop = r.result.reference.accuracy["validation"].map { " (drop \(points($0 - a)))" } ?? ""
            let reduction = r.result.energy[model].map { String(format: ", %.2f× less", $0.reduction) } ?? ""
            let interval = r.result.accuracyInterval(split: "validation").map { String(format: " [%.1f, %.1f]", $0.lower * 100, $0.upper * 100) } ?? ""
            out += "    ≤ \(energy(e))\(reduction): \(percent(a))\(interval)\(drop)  #\(r.candidateId) \(r.result.config.summary(order: settings.layers))\n"
        }
        return lines == 0 ? out + "    (no feasible results yet)\n" : out
    }

    static func busySeconds(_ store: RunStore, now: Date) throws -> [String: Double] {
        var busy: [String: Double] = [:]
        for interval in try store.busyIntervals() {
            busy[interval.worker, default: 0] += max(0, (interval.end ?? now).timeIntervalSince(interval.start))
        }
        return busy
    }

    /// An accuracy difference (fraction) in percentage points; positive is a loss.
    static func points(_ drop: Double) -> String {
        let value = drop * 100
        return abs(value) < 0.005 ? "0.00 pt" : String(format: "%.2f pt", value)
    }

    static func percent(_ value: Double?) -> String { value.map { String(format: "%.2f%%", $0 * 100) } ?? "-" }

    static func energy(_ picojoules: Double) -> String {
        switch abs(picojoules) {
        case 1e9...: String(format: "%.3f mJ", picojoules / 1e9)
        case 1e6...: String(format: "%.3f µJ", picojoules / 1e6)
        case 1e3...: String(format: "%.3f nJ", picojoules / 1e3)
        default: String(format: "%.1f pJ", picojoules)
        }
    }

    package static func duration(_ seconds: Double) -> String {
        // Times come from the run's database; a damaged one can hold any number.
        guard seconds.isFinite, (0..<1e12).contains(seconds) else { return "n/a" }
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m\(String(format: "%02d", total % 60))s" }
        return "\(total / 3600)h\(String(format: "%02d", total % 3600 / 60))m"
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}

/// A plain-text table with left-aligned columns.
struct TextTable {
    let header: [String]
    private(set) var rows: [[String]] = []

    init(header: [String]) { self.header = header }

    mutating func add(_ row: [String]) {
        precondition(row.count == header.count, "row has \(row.count) cells, header \(header.count)")
        rows.append(row)
    }

    var rendered: String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return ([line(header), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line)).joined(separator: "\n") + "\n"
    }
}
