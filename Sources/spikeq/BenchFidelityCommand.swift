import ArgumentParser
import Coordinator
import Evaluation
import Foundation
import QuantConfig
import SpikingNN
import Statistics

/// `spikeq bench fidelity`: how well short fine-tunes rank configurations on your task, and how much
/// the fine-tune seed alone moves them (what to base `search.fidelity.rungs` on).
struct BenchFidelityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fidelity",
        abstract: "Rank agreement of short and full fine-tunes, and seed-to-seed noise, on random configurations.",
        discussion: """
            Draws --configurations random configurations from the space (--space: a search config or a space file; \
            default: uniform and pot at 2–8 bits on every layer) and fine-tunes each once per seed, measuring \
            validation accuracy after each of --steps (one fine-tune continued, so a short measurement is exactly \
            the start of the long one, as the search's rungs are). Prints, per step count, the mean accuracy, \
            Spearman's ρ against the last step count (how well that rung ranks), ρ between seeds and the mean \
            seed-to-seed gap (how much of any ranking is noise), and one binomial standard error of the split. \
            A rung is worth its steps when its ρ against the full budget is close to the seeds' ρ at the full \
            budget; when seeds disagree as much as budgets, a larger validation split helps more than more steps.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: ModelDataOptions
    @Option(help: "A search config or space file whose `space` to draw from.") var space: String?
    @Option(help: "Random configurations to measure.") var configurations: Int = 10
    @Option(help: "Step counts to measure at, ascending, comma-separated (the last is the full fine-tune).") var steps: String = "15,60"
    @Option(help: "Fine-tune seeds per configuration.") var seeds: Int = 2
    @Option(help: "First fine-tune seed; also seeds the draw of configurations.") var seed: UInt64 = 0
    @Option(name: .customLong("lr"), help: "Fine-tuning learning rate.") var learningRate: Double = 1e-4
    @Option var batch: Int = 16
    @Flag(help: "Print the report as JSON.") var json = false

    var settings: FidelityMeasurement.Settings {
        get throws {
            let counts = try steps.split(separator: ",").map { part in
                guard let count = Int(part.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--steps: `\(part)` is not a number.") }
                return count
            }
            return FidelityMeasurement.Settings(
                configurations: configurations, steps: counts, seeds: (0..<UInt64(max(0, seeds))).map { seed + $0 }, drawSeed: seed,
                learningRate: learningRate, batchSize: batch)
        }
    }

    func validate() throws {
        if let problem = try settings.problem { throw ValidationError("\(problem).") }
    }

    func run() async throws {
        global.bootstrapLogging()
        let evaluator = try options.makeEvaluator()
        let quantizationSpace = try evaluator.quantizationSpace(file: space)
        let bar = ProgressBar(label: "fidelity")
        let report = try FidelityMeasurement.run(evaluator: evaluator, space: quantizationSpace, settings: try settings) { done, total in
            bar.update(done, total, stage: "configurations")
        }
        bar.finish()
        if json {
            print(try jsonText(report))
            return
        }
        print("\(report.configurations.count) configurations × \(report.seeds.count) seed(s), \(report.validationSamples) validation samples "
            + String(format: "(one standard error ≈ %.1f pt), %d QAT steps in %.0f s", report.standardErrorPoints, report.totalSteps, report.seconds))
        print("steps  mean val acc  ρ vs full [95 % CI]     ρ between seeds [95 % CI]  seed gap")
        for level in report.levels {
            print(String(format: "%5d  %11.2f%%", level.steps, 100 * level.meanValidation)
                + "  " + Self.format(level.rankAgainstFull, level.rankAgainstFullInterval).padding(toLength: 22, withPad: " ", startingAt: 0)
                + "  " + Self.format(level.rankBetweenSeeds, level.rankBetweenSeedsInterval).padding(toLength: 25, withPad: " ", startingAt: 0)
                + "  " + (level.meanSeedGapPoints.map { String(format: "%.2f pt", $0) } ?? "—").leftPadded(8))
        }
        print("(intervals: one seed's ρ over \(report.configurations.count) configurations; close ρ with overlapping intervals are not different)")
    }

    static func format(_ value: Double?, _ interval: Interval?) -> String {
        guard let value else { return "—" }
        return String(format: "%.2f", value) + (interval.map { String(format: " [%.2f, %.2f]", $0.lower, $0.upper) } ?? "")
    }
}
