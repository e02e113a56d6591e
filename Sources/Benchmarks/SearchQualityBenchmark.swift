import ConfigFiles
import ContentHash
import Coordinator
import Evaluation
import Foundation
import Report
import RunStore
import Yams

/// `spikeq bench search-quality`: strategies compared as real searches (local workers, real fine-tunes),
/// in the currency that matters, QAT steps. Each run is a `spikeq search` process, so a run left by an
/// interrupted benchmark is resumed like any search.
public struct SearchQualityBenchmark: Sendable {
    public enum Strategy: String, CaseIterable, Sendable {
        case nsga2, nsga2MF = "nsga2-mf", random, gumbel, hybrid
    }

    public struct Run: Codable, Sendable {
        public var strategy: String
        public var seed: Int
        public var evaluationBudget: Int
        public var quality: SearchQuality
        /// Search steps until `target` × the reference hypervolume; nil if never reached.
        public var stepsToTarget: Int?
        /// The same with the run's fine-tuned FP32 reference counted (nil: never reached, or a report
        /// written before the reference was counted apart).
        public var stepsToTargetWithReference: Int?
        public var hypervolumeWithinBudget: Double
        /// Steps until each of ``milestoneFractions`` × the reference hypervolume (nil: never).
        public var milestones: [Milestone]?
        /// SHA-256 of the base checkpoint the run fine-tuned from (nil in reports written before it
        /// was recorded): reused reference runs must match the new runs' base.
        public var baseCheckpoint: String?
    }

    /// Steps to a fraction of the reference hypervolume: one run's, or a strategy's median and its
    /// ratio to the reference's median.
    public struct Milestone: Codable, Sendable {
        public var fraction: Double
        public var steps: Double?
        public var ratio: Double?
    }

    /// Fractions of the reference hypervolume every report also gives steps for: 95 % alone can be
    /// reached by one lucky early result of either strategy, the stricter ones tell them apart.
    public static let milestoneFractions = [0.95, 0.97, 0.99, 1.0]

    public struct Summary: Codable, Sendable {
        public var strategy: String
        /// Median steps to each milestone fraction, and the reference's median over it.
        public var milestones: [Milestone]?
        public var medianStepsToTarget: Double?
        /// Reference's median steps to the target / this strategy's (higher is cheaper).
        public var stepsRatio: Double?
        /// The median and the ratio with every run's fine-tuned FP32 reference counted too: the
        /// whole run's cost, where the fixed reference narrows every ratio towards 1.
        public var medianStepsToTargetWithReference: Double?
        public var stepsRatioWithReference: Double?
        public var medianFinalHypervolume: Double
        /// Median hypervolume within the budget's steps: strategies compared at equal QAT steps.
        public var medianHypervolumeWithinBudget: Double
        public var reached: Int
        public var runs: Int
    }

    public struct Report: Codable, Sendable {
        public var config: String
        public var referenceEvaluations: Int
        public var budgetSteps: Int
        /// The fraction of the reference hypervolume a run must reach.
        public var target: Double
        public var referenceHypervolume: Double
        /// The earlier report whose reference runs this one reused (`--reference-report`), else nil.
        public var referenceFrom: String?
        public var runs: [Run]
        public var summary: [Summary]
    }

    /// The benchmark's failures: a run's search process failed, or the config is not a mapping.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public var config: URL
    public var strategies: [Strategy]
    public var seeds: Int
    public var referenceEvaluations: Int
    /// QAT steps the other strategies may spend; nil: a third of the reference's.
    public var budgetSteps: Int?
    public var target: Double
    public var workers: Int
    public var output: URL
    /// The `spikeq` binary that runs each search.
    public var executable: URL
    /// An earlier report of the same config whose reference (nsga2) runs are reused instead of
    /// re-run: the reference is the costliest part and does not change with the strategies compared.
    public var reusedReference: (report: Report, file: URL)?

    public init(config: URL, strategies: [Strategy], seeds: Int, referenceEvaluations: Int, budgetSteps: Int?, target: Double,
                workers: Int, output: URL, executable: URL) {
        (self.config, self.strategies, self.seeds, self.referenceEvaluations) = (config, strategies, seeds, referenceEvaluations)
        (self.budgetSteps, self.target, self.workers, self.output, self.executable) = (budgetSteps, target, workers, output, executable)
    }

    /// Runs the reference and every strategy for every seed, writes OUT/search-quality.json and returns
    /// the report. `progress` gets one line per run as it starts.
    public func run(progress: (String) -> Void = { _ in }) throws -> Report {
        let base = try DerivedSearchConfig(contentsOf: config)
        try FileManager.default.createDirectory(at: output.appendingPathComponent("runs"), withIntermediateDirectories: true)
        let chosen = strategies
        let referenceEvaluations = reusedReference?.report.referenceEvaluations ?? self.referenceEvaluations
        let budget = budgetSteps ?? max(1, referenceEvaluations * base.topRung / 3)

        var runs: [Run] = reusedReference?.report.runs.filter { $0.strategy == Strategy.nsga2.rawValue } ?? []
        if let reused = reusedReference {
            guard !runs.isEmpty else { throw Failure(description: "\(reused.file.path) holds no reference (nsga2) runs to reuse") }
            guard runs.allSatisfy({ $0.quality.referenceSteps != nil }) else {
                throw Failure(description: "\(reused.file.path) was written before the fine-tuned reference's steps were counted apart from the search's; its steps are not comparable, re-run the reference")
            }
            progress("search-quality: reference reused from \(reused.file.path) (\(runs.count) nsga2 runs, \(referenceEvaluations) evaluations each)")
        }
        // The reference first: its hypervolume is every other strategy's target.
        for strategy in (reusedReference == nil ? [Strategy.nsga2] : []) + chosen.filter({ $0 != .nsga2 }) {
            for seed in 0..<seeds {
                let evaluations: Int
                switch strategy {
                case .nsga2: evaluations = referenceEvaluations
                case .nsga2MF, .random: evaluations = base.evaluations(forSteps: budget, multiFidelity: strategy == .nsga2MF)
                // The sweep's derived configurations and the baselines; the run ends when they are evaluated.
                case .gumbel: evaluations = base.lambdas.count + 3
                case .hybrid: evaluations = base.evaluations(forSteps: max(1, budget - base.lambdas.count * base.topRung), multiFidelity: true)
                }
                let name = "\(strategy.rawValue)-\(seed)"
                let derived = try base.derived(name: name, seedOffset: UInt64(seed), evaluations: evaluations, strategy: strategy)
                let configFile = output.appendingPathComponent("runs/\(name).yaml")
                try derived.write(to: configFile, atomically: true, encoding: .utf8)
                let runDirectory = output.appendingPathComponent("runs/\(name)")
                // A run left by an interrupted benchmark is resumed (a finished one ends at once).
                let exists = RunDirectory(runDirectory).holdsRun
                progress("search-quality: \(name), \(evaluations) evaluations\(exists ? " (resumed)" : "")")
                try runSearch(
                    exists ? ["--resume", runDirectory.path] : ["--config", configFile.path, "--run", runDirectory.path],
                    name: name, log: output.appendingPathComponent("runs/\(name).log"))
                let store = try RunStore.open(at: runDirectory, readOnly: true)
                let quality = try SearchQuality.measure(store)
                runs.append(Run(strategy: strategy.rawValue, seed: seed, evaluationBudget: evaluations, quality: quality, stepsToTarget: nil,
                                hypervolumeWithinBudget: quality.hypervolume(within: budget), baseCheckpoint: try store.metadata().checkpointHash))
            }
        }
        if let reused = reusedReference { try Self.checkSameBase(runs, reusedFrom: reused.file, progress: progress) }
        let (referenceHV, summary) = Self.summarize(&runs, strategies: [Strategy.nsga2] + chosen.filter { $0 != .nsga2 }, target: target)
        let report = Report(
            config: config.path, referenceEvaluations: referenceEvaluations, budgetSteps: budget, target: target, referenceHypervolume: referenceHV,
            referenceFrom: reusedReference?.file.path, runs: runs, summary: summary)
        try Self.json(report).write(to: reportFile, options: .atomic)
        return report
    }

    /// Scores measured runs against the reference (the nsga2 runs' median final hypervolume): fills
    /// each run's steps to the target and to the milestones, and summarises each strategy (medians
    /// over seeds, a run that never reached a fraction counting as infinitely many steps).
    public static func summarize(_ runs: inout [Run], strategies: [Strategy], target: Double) -> (referenceHypervolume: Double, summary: [Summary]) {
        let referenceHV = Self.median(runs.filter { $0.strategy == Strategy.nsga2.rawValue }.map(\.quality.finalHypervolume)) ?? 0
        for index in runs.indices {
            runs[index].stepsToTarget = runs[index].quality.steps(toReach: target * referenceHV)
            runs[index].stepsToTargetWithReference = runs[index].quality.stepsWithReference(toReach: target * referenceHV)
            runs[index].milestones = Self.milestoneFractions.map { fraction in
                Milestone(fraction: fraction, steps: runs[index].quality.steps(toReach: fraction * referenceHV).map(Double.init), ratio: nil)
            }
        }
        let scored = runs
        /// A strategy's median steps to `fraction` (never reached: infinitely many), nil if infinite.
        func medianStepsTo(_ strategy: Strategy, _ fraction: Double) -> Double? {
            let steps = scored.filter { $0.strategy == strategy.rawValue }.map { $0.quality.steps(toReach: fraction * referenceHV).map(Double.init) ?? .infinity }
            return Self.median(steps).flatMap { $0.isFinite ? $0 : nil }
        }
        func medianStepsWithReference(_ strategy: Strategy) -> Double? {
            let steps = scored.filter { $0.strategy == strategy.rawValue }.map { $0.stepsToTargetWithReference.map(Double.init) ?? .infinity }
            return Self.median(steps).flatMap { $0.isFinite ? $0 : nil }
        }
        let summary = strategies.map { strategy -> Summary in
            let mine = scored.filter { $0.strategy == strategy.rawValue }
            let medianSteps = medianStepsTo(strategy, target)
            let medianWithReference = medianStepsWithReference(strategy)
            let milestones = Self.milestoneFractions.map { fraction in
                let steps = medianStepsTo(strategy, fraction)
                return Milestone(fraction: fraction, steps: steps, ratio: Self.ratio(medianStepsTo(.nsga2, fraction), steps))
            }
            return Summary(
                strategy: strategy.rawValue, milestones: milestones, medianStepsToTarget: medianSteps,
                stepsRatio: Self.ratio(medianStepsTo(.nsga2, target), medianSteps),
                medianStepsToTargetWithReference: medianWithReference,
                stepsRatioWithReference: Self.ratio(medianStepsWithReference(.nsga2), medianWithReference),
                medianFinalHypervolume: Self.median(mine.map(\.quality.finalHypervolume)) ?? 0,
                medianHypervolumeWithinBudget: Self.median(mine.map(\.hypervolumeWithinBudget)) ?? 0,
                reached: mine.filter { $0.stepsToTarget != nil }.count, runs: mine.count)
        }
        return (referenceHV, summary)
    }

    /// Reads an earlier report for `--reference-report`.
    public static func report(at url: URL) throws -> Report {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { return try decoder.decode(Report.self, from: try Data(contentsOf: url)) } catch {
            throw Failure(description: "\(url.path) is not a search-quality report: \(error)")
        }
    }

    /// Reused reference runs must have fine-tuned from the same base checkpoint as the new runs;
    /// a report written before the base was recorded cannot be checked, which is said.
    public static func checkSameBase(_ runs: [Run], reusedFrom file: URL, progress: (String) -> Void) throws {
        let reference = runs.filter { $0.strategy == Strategy.nsga2.rawValue }
        let new = Set(runs.filter { $0.strategy != Strategy.nsga2.rawValue }.compactMap(\.baseCheckpoint))
        let old = Set(reference.compactMap(\.baseCheckpoint))
        if old.isEmpty || reference.contains(where: { $0.baseCheckpoint == nil }) {
            progress("search-quality: \(file.path) does not record its base checkpoint; that it is the same as this run's is not checked")
        } else if !new.isEmpty, old != new {
            throw Failure(description: "\(file.path)'s reference runs fine-tuned from base checkpoint \(old.sorted().joined(separator: ", ")), these runs from \(new.sorted().joined(separator: ", ")): not comparable")
        }
    }

    /// Where ``run(progress:)`` writes the report.
    public var reportFile: URL { output.appendingPathComponent("search-quality.json") }

    /// The report as written (pretty, sorted keys; infinities as strings).
    public static func json(_ report: Report) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(report)
    }

    private func runSearch(_ what: [String], name: String, log: URL) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = ["search"] + what + ["--bind", "tcp://127.0.0.1:*", "--local-workers", String(workers), "--worker-threads", "1"]
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        defer { try? handle.close() }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "the search for \(name) failed (exit \(process.terminationStatus)); see \(log.path)")
        }
    }

    private static func ratio(_ reference: Double?, _ steps: Double?) -> Double? {
        guard let reference, let steps, steps > 0 else { return nil }
        return reference / steps
    }

    private static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}

/// A search config re-written for one benchmark run: its relative paths made absolute (the copy lives
/// elsewhere), a name, a seed, a budget and a strategy.
struct DerivedSearchConfig {
    var root: [String: Any]
    let directory: URL

    init(contentsOf url: URL) throws {
        let text = try String(contentsOf: url, encoding: .utf8)
        guard let root = try ConfigYAML.load(text, file: url.path) as? [String: Any] else {
            throw SearchQualityBenchmark.Failure(description: "\(url.path): not a YAML mapping")
        }
        self.root = root
        directory = url.deletingLastPathComponent()
        // Paths in the config are relative to its directory.
        for key in ["model", "dataset", "space"] { absolutize(&self.root[key]) }
        if var checkpoint = self.root["checkpoint"] as? [String: Any] {
            absolutize(&checkpoint["path"])
            self.root["checkpoint"] = checkpoint
        }
        if var energy = self.root["energy"] as? [String: Any] {
            for key in energy.keys { absolutize(&energy[key]) }
            self.root["energy"] = energy
        }
        if var search = self.root["search"] as? [String: Any] {
            absolutize(&search["sensitivity"])
            self.root["search"] = search
        }
    }

    private func absolutize(_ value: inout Any?) {
        guard let text = value as? String, !text.hasPrefix("/") else { return }
        value = directory.appendingPathComponent(text).standardizedFileURL.path
    }

    private var fidelity: [String: Any]? { (root["search"] as? [String: Any])?["fidelity"] as? [String: Any] }
    private var rungs: [Int] { (fidelity?["rungs"] as? [Int]) ?? [] }
    private var eta: Int { (fidelity?["eta"] as? Int) ?? 3 }

    /// The λ values of the config's `gumbel:` section, else the default sweep.
    var lambdas: [Double] {
        ((root["gumbel"] as? [String: Any])?["lambdas"] as? [Any])?.compactMap { ($0 as? Double) ?? ($0 as? Int).map(Double.init) }
            ?? GumbelSettings.defaultLambdas
    }

    /// Fine-tune steps of a full-fidelity evaluation: the top rung, else `fine_tune.max_steps`.
    var topRung: Int {
        rungs.last ?? ((root["fine_tune"] as? [String: Any])?["max_steps"] as? Int) ?? 60
    }

    private var search: [String: Any]? { root["search"] as? [String: Any] }

    /// QAT steps of a sensitivity table the run measures when created (a Fisher estimate's batches),
    /// for planning budgets; none when the base checkpoint carries a recorded Fisher, or will (it is
    /// trained by the first run, which records one). Each run's store has the exact figure.
    var sensitivitySteps: Int {
        guard let measure = search?["sensitivity"] as? [String: Any], measure["method"] as? String == "fisher" else { return 0 }
        let batches = (measure["batches"] as? Int) ?? SensitivityMeasurement.defaultBatches
        guard let path = (root["checkpoint"] as? [String: Any])?["path"] as? String else { return batches }
        let checkpoint = URL(fileURLWithPath: path)
        guard FileManager.default.fileExists(atPath: checkpoint.path) else { return 0 }
        guard let hash = try? ContentHash.sha256(fileAt: checkpoint).hex,
            let found = try? RecordedFisher.usable(forCheckpoint: checkpoint, sha256: hash, batches: batches), found.record != nil
        else { return batches }
        return 0
    }

    /// Knapsack seeds that start at the top rung (`fidelity.knapsack_seeds: top`).
    private var seedsAtTop: Int {
        guard fidelity?["knapsack_seeds"] as? String == "top" else { return 0 }
        return (search?["knapsack_seeds"] as? Int) ?? 0
    }

    /// Evaluations that spend about `steps` QAT steps: a measured sensitivity table costs its
    /// batches, a knapsack seed started at the top rung the top rung's steps, every other candidate
    /// the first rung and a 1/eta^k share continues to rung k (continuing from the rung below).
    func evaluations(forSteps steps: Int, multiFidelity: Bool) -> Int {
        let steps = steps - sensitivitySteps
        guard multiFidelity, !rungs.isEmpty else { return max(2, steps / topRung) }
        var perCandidate = Double(rungs[0])
        for k in 1..<rungs.count { perCandidate += Double(rungs[k] - rungs[k - 1]) / pow(Double(eta), Double(k)) }
        let seeds = seedsAtTop
        return max(2, seeds + Int((Double(steps - seeds * topRung) / perCandidate).rounded()))
    }

    func derived(name: String, seedOffset: UInt64, evaluations: Int, strategy: SearchQualityBenchmark.Strategy) throws -> String {
        var copy = root
        copy["name"] = name
        copy["seed"] = Int((UInt64(root["seed"] as? Int ?? 1) &+ seedOffset) % UInt64(Int.max))
        var budget = (copy["budget"] as? [String: Any]) ?? [:]
        budget["evaluations"] = evaluations
        budget["wall_time"] = nil
        copy["budget"] = budget
        var search = (copy["search"] as? [String: Any]) ?? [:]
        var fineTune = (copy["fine_tune"] as? [String: Any]) ?? [:]
        var gumbel = (copy["gumbel"] as? [String: Any]) ?? [:]
        switch strategy {
        case .nsga2MF:
            break
        case .hybrid:
            search["strategy"] = "hybrid"
            gumbel["max_steps"] = topRung
            copy["gumbel"] = gumbel
        case .gumbel:
            search["strategy"] = "gumbel"
            search["fidelity"] = nil
            fineTune["max_steps"] = topRung
            gumbel["max_steps"] = topRung
            copy["gumbel"] = gumbel
        case .nsga2, .random:
            // Plain: full fidelity, no sensitivity table, knapsack seeds or surrogate.
            fineTune["max_steps"] = topRung
            search["fidelity"] = nil
            search["sensitivity"] = nil
            search["knapsack_seeds"] = nil
            search["surrogate"] = nil
            // random: the whole budget is the initial population, uniform samples of the space.
            if strategy == .random { search["population"] = evaluations }
        }
        copy["search"] = search
        copy["fine_tune"] = fineTune
        return "# Derived by spikeq bench search-quality (\(name)).\n" + (try Yams.dump(object: copy))
    }
}
