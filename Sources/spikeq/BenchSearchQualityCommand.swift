import ArgumentParser
import Coordinator
import Foundation
import Report
import RunStore
import Yams

/// `spikeq bench search-quality`: strategies compared as real searches, in QAT steps.
struct BenchSearchQualityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search-quality",
        abstract: "Compare search strategies as real searches: hypervolume against cumulative QAT steps, steps to 95 % of the reference.",
        discussion: """
            Each strategy and seed is a real `spikeq search` of the --config (local workers, real fine-tunes, same \
            data and base checkpoint). The reference is plain NSGA-II at full fidelity (the config's top rung, \
            or fine_tune.max_steps) with --reference-evaluations evaluations; its median final hypervolume over \
            the seeds is the target, and steps_to_95 is the QAT steps a run spent until its hypervolume (full-\
            fidelity validation objectives, feasible results, the config's reference point) reached 95 % of it. \
            Strategies: nsga2 (the reference), nsga2-mf (multi-fidelity with the config's rungs), random (full \
            fidelity, every candidate sampled at random), gumbel (the seed paper's supernet λ sweep, each supernet \
            trained for the full-fidelity step count, its derived configurations and the uniform baselines \
            evaluated at full fidelity), hybrid (the sweep seeds NSGA-II, multi-fidelity with the config's rungs). \
            A supernet training counts its optimizer steps like a fine-tune. Other strategies get an evaluation \
            budget that spends about --budget-steps steps (hybrid: what the sweep leaves); gumbel spends what its \
            sweep and seeds cost. Runs go to OUT/runs/STRATEGY-SEED; the table and OUT/search-quality.json \
            are written at the end.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "Search config to derive the runs from (its fidelity, space, budget recipe and data).")
    var config: String

    @Option(help: "Strategies, comma-separated: nsga2, nsga2-mf, random, gumbel, hybrid.")
    var strategies: String = "nsga2,nsga2-mf"

    @Option(help: "Seeds per strategy (seed s uses the config's seed + s).")
    var seeds: Int = 3

    @Option(help: "Evaluations of the reference (nsga2 at full fidelity).")
    var referenceEvaluations: Int = 60

    @Option(help: "QAT steps the other strategies may spend (default: a third of the reference's).")
    var budgetSteps: Int?

    @Option(help: "Fraction of the reference hypervolume a run must reach (steps_to_95 at 0.95).")
    var target: Double = 0.95

    @Option(help: "Local workers per run.")
    var workers: Int = 2

    @Option(help: "Output directory.")
    var out: String = "runs/bench-search-quality"

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    enum Strategy: String, CaseIterable {
        case nsga2, nsga2MF = "nsga2-mf", random, gumbel, hybrid
    }

    var parsedStrategies: [Strategy]? {
        let parts = strategies.split(separator: ",").map { Strategy(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
        return parts.contains(nil) || parts.isEmpty ? nil : parts.compactMap { $0 }
    }

    func validate() throws {
        guard parsedStrategies != nil else {
            throw ValidationError("--strategies takes \(Strategy.allCases.map(\.rawValue).joined(separator: ", ")), comma-separated.")
        }
        guard target > 0, target <= 1 else { throw ValidationError("--target is a fraction in (0, 1].") }
        guard seeds >= 1, referenceEvaluations >= 2, workers >= 1, (budgetSteps ?? 1) >= 1 else {
            throw ValidationError("--seeds, --workers ≥ 1, --reference-evaluations ≥ 2 and --budget-steps ≥ 1.")
        }
    }

    struct Run: Codable {
        var strategy: String
        var seed: Int
        var evaluationBudget: Int
        var quality: SearchQuality
        /// Steps until `target` × the reference hypervolume; nil if never reached.
        var stepsToTarget: Int?
        var hypervolumeWithinBudget: Double
    }

    struct Summary: Codable {
        var strategy: String
        var medianStepsToTarget: Double?
        /// Reference's median steps to the target / this strategy's (higher is cheaper).
        var stepsRatio: Double?
        var medianFinalHypervolume: Double
        /// Median hypervolume within the budget's steps: strategies compared at equal QAT steps.
        var medianHypervolumeWithinBudget: Double
        var reached: Int
        var runs: Int
    }

    struct QualityReport: Codable {
        var config: String
        var referenceEvaluations: Int
        var budgetSteps: Int
        /// The fraction of the reference hypervolume a run must reach.
        var target: Double
        var referenceHypervolume: Double
        var runs: [Run]
        var summary: [Summary]
    }

    func run() async throws {
        global.bootstrapLogging()
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let configURL = URL(fileURLWithPath: config, relativeTo: cwd).standardizedFileURL
        let base = try DerivedSearchConfig(contentsOf: configURL)
        let output = URL(fileURLWithPath: out, relativeTo: cwd).standardizedFileURL
        try FileManager.default.createDirectory(at: output.appendingPathComponent("runs"), withIntermediateDirectories: true)
        let chosen = parsedStrategies!
        let budget = budgetSteps ?? max(1, referenceEvaluations * base.topRung / 3)

        var runs: [Run] = []
        // The reference first: its hypervolume is every other strategy's target.
        for strategy in [Strategy.nsga2] + chosen.filter({ $0 != .nsga2 }) {
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
                FileHandle.standardError.write(Data("search-quality: \(name), \(evaluations) evaluations\(exists ? " (resumed)" : "")\n".utf8))
                try runSearch(
                    exists ? ["--resume", runDirectory.path] : ["--config", configFile.path, "--run", runDirectory.path],
                    name: name, log: output.appendingPathComponent("runs/\(name).log"))
                let quality = try SearchQuality.measure(try RunStore.open(at: runDirectory, readOnly: true))
                runs.append(Run(strategy: strategy.rawValue, seed: seed, evaluationBudget: evaluations, quality: quality, stepsToTarget: nil,
                                hypervolumeWithinBudget: quality.hypervolume(within: budget)))
            }
        }
        let referenceHV = median(runs.filter { $0.strategy == Strategy.nsga2.rawValue }.map(\.quality.finalHypervolume)) ?? 0
        for index in runs.indices { runs[index].stepsToTarget = runs[index].quality.steps(toReach: target * referenceHV) }
        let referenceSteps = median(runs.filter { $0.strategy == Strategy.nsga2.rawValue }.map { $0.stepsToTarget.map(Double.init) ?? .infinity })
        let summary = ([Strategy.nsga2] + chosen.filter { $0 != .nsga2 }).map { strategy -> Summary in
            let mine = runs.filter { $0.strategy == strategy.rawValue }
            // A run that never reached the target counts as infinitely many steps (median over all seeds).
            let steps = mine.map { $0.stepsToTarget.map(Double.init) ?? .infinity }
            let medianSteps = median(steps).flatMap { $0.isFinite ? $0 : nil }
            return Summary(
                strategy: strategy.rawValue, medianStepsToTarget: medianSteps,
                stepsRatio: ratio(referenceSteps.flatMap { $0.isFinite ? $0 : nil }, medianSteps),
                medianFinalHypervolume: median(mine.map(\.quality.finalHypervolume)) ?? 0,
                medianHypervolumeWithinBudget: median(mine.map(\.hypervolumeWithinBudget)) ?? 0,
                reached: mine.filter { $0.stepsToTarget != nil }.count, runs: mine.count)
        }
        let report = QualityReport(
            config: configURL.path, referenceEvaluations: referenceEvaluations, budgetSteps: budget, target: target, referenceHypervolume: referenceHV,
            runs: runs, summary: summary)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let data: Data = try encoder.encode(report)
        try data.write(to: output.appendingPathComponent("search-quality.json"), options: .atomic)
        if json {
            print(String(decoding: data, as: UTF8.self))
            return
        }
        let label = String(format: "steps_to_%.0f", target * 100)
        print(String(format: "Reference: nsga2 at full fidelity, %d evaluations; median final hypervolume %.5f; budget %d steps; target %.0f %%",
                     referenceEvaluations, referenceHV, budget, target * 100))
        print("strategy   seed  results  steps  final HV  HV@budget  \(label)  best front test")
        func column(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
        for r in runs {
            print(column(r.strategy, 9) + String(format: "  %4d  %7d  %5d  %8.5f  %9.5f  ", r.seed, r.quality.fullFidelityResults + r.quality.lowerRungResults,
                                                 r.quality.totalSteps, r.quality.finalHypervolume, r.hypervolumeWithinBudget)
                + column(r.stepsToTarget.map(String.init) ?? "never", 11) + "  "
                + (r.quality.frontTestAccuracies.max().map { String(format: "%.2f%%", $0 * 100) } ?? "-"))
        }
        print("strategy   median \(label)  ratio vs reference  median final HV  median HV@budget  reached")
        for s in summary {
            print(column(s.strategy, 9) + "  " + column(s.medianStepsToTarget.map { String(format: "%.0f", $0) } ?? "never", 18) + "  "
                + column(s.stepsRatio.map { String(format: "%.2f×", $0) } ?? "-", 18)
                + String(format: "  %15.5f  %16.5f  %d/%d", s.medianFinalHypervolume, s.medianHypervolumeWithinBudget, s.reached, s.runs))
        }
        print("JSON: \(output.appendingPathComponent("search-quality.json").path)")
    }

    private func runSearch(_ what: [String], name: String, log: URL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["search"] + what + ["--bind", "tcp://127.0.0.1:*", "--local-workers", String(workers), "--worker-threads", "1"]
        if !FileManager.default.fileExists(atPath: log.path) { FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        defer { try? handle.close() }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CommandFailure("the search for \(name) failed (exit \(process.terminationStatus)); see \(log.path)")
        }
    }

    private func ratio(_ reference: Double?, _ steps: Double?) -> Double? {
        guard let reference, let steps, steps > 0 else { return nil }
        return reference / steps
    }

    private func median(_ values: [Double]) -> Double? {
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
        guard let root = try Yams.load(yaml: text) as? [String: Any] else {
            throw CommandFailure("\(url.path): not a YAML mapping")
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

    /// Evaluations that spend about `steps` QAT steps: each candidate pays the first rung, and a
    /// 1/eta^k share continues to rung k (continuing from the rung below).
    func evaluations(forSteps steps: Int, multiFidelity: Bool) -> Int {
        guard multiFidelity, !rungs.isEmpty else { return max(2, steps / topRung) }
        var perCandidate = Double(rungs[0])
        for k in 1..<rungs.count { perCandidate += Double(rungs[k] - rungs[k - 1]) / pow(Double(eta), Double(k)) }
        return max(2, Int((Double(steps) / perCandidate).rounded()))
    }

    func derived(name: String, seedOffset: UInt64, evaluations: Int, strategy: BenchSearchQualityCommand.Strategy) throws -> String {
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
            fineTune["max_steps"] = topRung
            search["fidelity"] = nil
            if strategy == .random {
                // The whole budget is the initial population: uniform samples of the space.
                search["population"] = evaluations
                search["knapsack_seeds"] = 0
                search["surrogate"] = nil
            }
        }
        copy["search"] = search
        copy["fine_tune"] = fineTune
        return "# Derived by spikeq bench search-quality (\(name)).\n" + (try Yams.dump(object: copy))
    }
}
