import ArgumentParser
import Benchmarks
import Foundation
import Report

/// `spikeq bench search-quality`: strategies compared as real searches, in QAT steps.
struct BenchSearchQualityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search-quality",
        abstract: "Compare search strategies as real searches: hypervolume against cumulative QAT steps, steps to 95 % of the reference.",
        discussion: """
            Each strategy and seed is a real `spikeq search` of the --config (local workers, real fine-tunes, same \
            data and base checkpoint). The reference is plain NSGA-II at full fidelity (the config's top rung, \
            or fine_tune.max_steps) with --reference-evaluations evaluations; its median final hypervolume over \
            the seeds is the target, and steps_to_95 is the QAT steps a run's search spent until its hypervolume \
            (full-fidelity validation objectives, feasible results, the config's reference point) reached 95 % of \
            it. Search steps are every candidate's fine-tune at every rung, every supernet training and a \
            sensitivity table the run measured; the fine-tuned FP32 reference, which every run pays once whatever \
            its strategy, is counted apart and shown as "with ref". \
            Strategies: nsga2 (the reference), nsga2-mf (multi-fidelity with the config's rungs), random (full \
            fidelity, every candidate sampled at random), gumbel (the seed paper's supernet λ sweep, each supernet \
            trained for the full-fidelity step count, its derived configurations and the uniform baselines \
            evaluated at full fidelity), hybrid (the sweep seeds NSGA-II, multi-fidelity with the config's rungs). \
            A supernet training counts its optimizer steps like a fine-tune. Other strategies get an evaluation \
            budget that spends about --budget-steps steps (hybrid: what the sweep leaves); gumbel spends what its \
            sweep and seeds cost. Runs go to OUT/runs/STRATEGY-SEED; the table and OUT/search-quality.json \
            are written at the end. --reference-report reuses the nsga2 runs of an earlier report of the same \
            config instead of re-running them (its reference evaluations count; runs that recorded their base \
            checkpoint must match the new runs').
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

    @Option(help: "An earlier search-quality.json of the same config whose reference (nsga2) runs are reused, not re-run.")
    var referenceReport: String?

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

    typealias Strategy = SearchQualityBenchmark.Strategy

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

    func run() async throws {
        global.bootstrapLogging()
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        var benchmark = SearchQualityBenchmark(
            config: URL(fileURLWithPath: config, relativeTo: cwd).standardizedFileURL, strategies: parsedStrategies!, seeds: seeds,
            referenceEvaluations: referenceEvaluations, budgetSteps: budgetSteps, target: target, workers: workers,
            output: URL(fileURLWithPath: out, relativeTo: cwd).standardizedFileURL,
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath())
        if let referenceReport {
            let file = URL(fileURLWithPath: referenceReport, relativeTo: cwd).standardizedFileURL
            benchmark.reusedReference = (try SearchQualityBenchmark.report(at: file), file)
        }
        let report = try benchmark.run { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        if json {
            print(String(decoding: try SearchQualityBenchmark.json(report), as: UTF8.self))
            return
        }
        let (runs, summary, referenceHV) = (report.runs, report.summary, report.referenceHypervolume)
        let label = String(format: "steps_to_%.0f", target * 100)
        print(String(format: "Reference: nsga2 at full fidelity, %d evaluations; median final hypervolume %.5f; budget %d steps; target %.0f %%",
                     report.referenceEvaluations, referenceHV, report.budgetSteps, target * 100)
            + (report.referenceFrom.map { " (reference runs reused from \($0))" } ?? ""))
        print("strategy   seed  results  steps  ref steps  final HV  HV@budget  \(label)  with ref  best front test")
        func column(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
        for r in runs {
            print(column(r.strategy, 9) + String(format: "  %4d  %7d  %5d  %9d  %8.5f  %9.5f  ", r.seed, r.quality.fullFidelityResults + r.quality.lowerRungResults,
                                                 r.quality.totalSteps, r.quality.referenceSteps ?? 0, r.quality.finalHypervolume, r.hypervolumeWithinBudget)
                + column(r.stepsToTarget.map(String.init) ?? "never", 11) + "  "
                + column(r.stepsToTargetWithReference.map(String.init) ?? "never", 8) + "  "
                + (r.quality.frontTestAccuracies.max().map { String(format: "%.2f%%", $0 * 100) } ?? "-"))
        }
        print("strategy   median \(label)  ratio vs reference  with ref (ratio)  median final HV  median HV@budget  reached")
        for s in summary {
            print(column(s.strategy, 9) + "  " + column(s.medianStepsToTarget.map { String(format: "%.0f", $0) } ?? "never", 18) + "  "
                + column(s.stepsRatio.map { String(format: "%.2f×", $0) } ?? "-", 18) + "  "
                + column((s.medianStepsToTargetWithReference.map { String(format: "%.0f", $0) } ?? "never")
                         + (s.stepsRatioWithReference.map { String(format: " (%.2f×)", $0) } ?? ""), 16)
                + String(format: "  %15.5f  %16.5f  %d/%d", s.medianFinalHypervolume, s.medianHypervolumeWithinBudget, s.reached, s.runs))
        }
        print("median steps to a fraction of the reference hypervolume (ratio vs reference):")
        print("strategy " + SearchQualityBenchmark.milestoneFractions.map { column(String(format: "  %.0f %%", $0 * 100), 18) }.joined())
        for s in summary {
            print(column(s.strategy, 9) + (s.milestones ?? []).map { m in
                column("  " + (m.steps.map { String(format: "%.0f", $0) } ?? "never") + (m.ratio.map { String(format: " (%.2f×)", $0) } ?? ""), 18)
            }.joined())
        }
        print("JSON: \(benchmark.reportFile.path)")
    }
}
