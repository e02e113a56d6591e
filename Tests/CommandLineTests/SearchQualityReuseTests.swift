import Benchmarks
import Foundation
import Testing

/// `bench search-quality --reference-report`: an earlier report is read back (including one written
/// before runs recorded their base checkpoint), and reused reference runs must share the new runs'
/// base checkpoint.
struct SearchQualityReuseTests {
    typealias Benchmark = SearchQualityBenchmark

    func run(_ strategy: String, seed: Int, base: String?) throws -> Benchmark.Run {
        let base = base.map { #", "baseCheckpoint": "\#($0)""# } ?? ""
        return try JSONDecoder().decode(Benchmark.Run.self, from: Data("""
            {"strategy": "\(strategy)", "seed": \(seed), "evaluationBudget": 2, "hypervolumeWithinBudget": 0.5\(base),
             "quality": {"finalHypervolume": 0.5, "frontTestAccuracies": [0.7], "fullFidelityResults": 1, "lowerRungResults": 0,
                         "totalSteps": 40, "trajectory": [{"hypervolume": 0.5, "steps": 40}]}}
            """.utf8))
    }

    /// The shape `bench search-quality` wrote on 2026-12-02: no baseCheckpoint, no referenceFrom,
    /// no referenceSteps (its steps include the fine-tuned reference's).
    static let reportOf20261202 = """
        {"budgetSteps": 400, "config": "/tmp/c.yaml", "referenceEvaluations": 60, "referenceHypervolume": 0.66,
         "runs": [{"evaluationBudget": 60, "hypervolumeWithinBudget": 0.63, "seed": 0, "strategy": "nsga2", "stepsToTarget": 160,
                   "quality": {"finalHypervolume": 0.64, "frontTestAccuracies": [0.77], "fullFidelityResults": 60,
                               "lowerRungResults": 0, "totalSteps": 1220, "trajectory": [{"hypervolume": 0.5, "steps": 40}]}}],
         "summary": [{"medianFinalHypervolume": 0.64, "medianHypervolumeWithinBudget": 0.63, "medianStepsToTarget": "inf",
                      "reached": 0, "runs": 1, "strategy": "nsga2"}],
         "target": 0.95}
        """

    func file(_ text: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sq-\(UUID().uuidString).json")
        try Data(text.utf8).write(to: url)
        return url
    }

    @Test func readsAReportWrittenBeforeBaseCheckpointsWereRecorded() throws {
        let url = try file(Self.reportOf20261202)
        let report = try Benchmark.report(at: url)
        #expect(report.referenceEvaluations == 60)
        #expect(report.runs.count == 1 && report.runs[0].baseCheckpoint == nil)
        #expect(report.referenceFrom == nil)
        #expect(report.summary[0].medianStepsToTarget == .infinity)
    }

    @Test func aReferenceWhoseStepsIncludeTheFP32ReferenceIsNotReused() throws {
        // Written before the reference's steps were counted apart: its trajectory counts them.
        let url = try file(Self.reportOf20261202)
        var benchmark = Benchmark(
            config: ConfigFuzzTests.root.appendingPathComponent("configs/search/synthetic-gestures-quick.yaml"), strategies: [.nsga2MF], seeds: 1,
            referenceEvaluations: 60, budgetSteps: nil, target: 0.95, workers: 1,
            output: FileManager.default.temporaryDirectory.appendingPathComponent("sq-\(UUID().uuidString)"),
            executable: URL(fileURLWithPath: "/nonexistent/spikeq"))
        defer { try? FileManager.default.removeItem(at: benchmark.output) }
        benchmark.reusedReference = (try Benchmark.report(at: url), url)
        #expect { try benchmark.run() } throws: { error in
            "\(error)".contains(url.path) && "\(error)".contains("re-run the reference")
        }
    }

    @Test func aFileThatIsNotAReportIsNamed() throws {
        let url = try file(#"{"runs": 3}"#)
        #expect { try Benchmark.report(at: url) } throws: { error in
            "\(error)".contains(url.path) && "\(error)".contains("not a search-quality report")
        }
    }

    @Test func reusedReferenceMustShareTheBaseCheckpoint() throws {
        let source = URL(fileURLWithPath: "/earlier/search-quality.json")
        var notes: [String] = []
        // Same base: accepted silently.
        try Benchmark.checkSameBase([try run("nsga2", seed: 0, base: "aa"), try run("nsga2-mf", seed: 0, base: "aa")], reusedFrom: source) { notes.append($0) }
        #expect(notes.isEmpty)
        // Another base: refused, naming both.
        #expect { try Benchmark.checkSameBase([try run("nsga2", seed: 0, base: "aa"), try run("nsga2-mf", seed: 0, base: "bb")], reusedFrom: source) { _ in } }
            throws: { error in "\(error)".contains("aa") && "\(error)".contains("bb") && "\(error)".contains(source.path) }
        // Not recorded in the earlier report: accepted, and said.
        try Benchmark.checkSameBase([try run("nsga2", seed: 0, base: nil), try run("nsga2-mf", seed: 0, base: "bb")], reusedFrom: source) { notes.append($0) }
        #expect(notes.count == 1 && notes[0].contains("not checked"))
    }
}

/// The benchmark's scoring against known answers: the reference is the nsga2 runs' median final
/// hypervolume; steps to a fraction are medians over seeds with "never" counted as infinite.
struct SearchQualityScoringTests {
    typealias Benchmark = SearchQualityBenchmark

    /// A run with this (steps, hypervolume) trajectory; its final hypervolume is the last point's.
    func run(_ strategy: String, seed: Int, _ trajectory: [(Int, Double)], referenceSteps: Int = 60) throws -> Benchmark.Run {
        let points = trajectory.map { #"{"steps": \#($0.0), "hypervolume": \#($0.1)}"# }.joined(separator: ", ")
        return try JSONDecoder().decode(Benchmark.Run.self, from: Data("""
            {"strategy": "\(strategy)", "seed": \(seed), "evaluationBudget": 2, "hypervolumeWithinBudget": 0.5,
             "quality": {"finalHypervolume": \(trajectory.last!.1), "frontTestAccuracies": [], "fullFidelityResults": 1, "lowerRungResults": 0,
                         "totalSteps": \(trajectory.last!.0), "referenceSteps": \(referenceSteps), "trajectory": [\(points)]}}
            """.utf8))
    }

    @Test func milestonesAreMediansOverSeedsWithNeverAsInfinite() throws {
        var runs = [
            try run("nsga2", seed: 0, [(40, 0.5), (100, 0.96), (400, 1.0)]),
            try run("nsga2", seed: 1, [(40, 0.5), (200, 0.98), (500, 1.0)]),
            try run("nsga2", seed: 2, [(40, 0.96), (300, 0.99)]),  // final 0.99: the median final is 1.0
            try run("nsga2-mf", seed: 0, [(48, 0.97), (90, 1.0)]),
            try run("nsga2-mf", seed: 1, [(48, 0.95)]),  // never reaches 97 %
            try run("nsga2-mf", seed: 2, [(48, 0.99), (70, 1.01)]),
        ]
        let (reference, summary) = Benchmark.summarize(&runs, strategies: [.nsga2, .nsga2MF], target: 0.95)
        #expect(reference == 1.0)
        #expect(runs[0].stepsToTarget == 100 && runs[4].stepsToTarget == 48)
        let mf = try #require(summary.last?.milestones)
        #expect(mf.map(\.fraction) == Benchmark.milestoneFractions)
        // 95 %: reference seeds 100, 200, 40 → 100; ours 48, 48, 48 → 48.
        #expect(mf[0].steps == 48 && mf[0].ratio == 100.0 / 48)
        #expect(summary.last?.medianStepsToTarget == 48 && summary.last?.stepsRatio == 100.0 / 48, "the target's figures are its milestone's")
        // 97 %: reference 400, 200, 300 → 300; ours 48, never, 48 → 48.
        #expect(mf[1].steps == 48 && mf[1].ratio == 300.0 / 48)
        // 100 %: reference 400, 500, never → 500; ours 90, never, 70 → 90.
        #expect(mf[3].steps == 90 && mf[3].ratio == 500.0 / 90)
        #expect(runs[4].milestones?[1].steps == nil)
        // With each run's 60-step fine-tuned reference counted: reference 160, 260, 100 → 160; ours
        // 108 each, so the fixed cost narrows the ratio.
        #expect(runs[0].stepsToTargetWithReference == 160 && runs[4].stepsToTargetWithReference == 108)
        #expect(summary.last?.medianStepsToTargetWithReference == 108 && summary.last?.stepsRatioWithReference == 160.0 / 108)
        #expect(summary.first?.milestones?.allSatisfy { $0.ratio == 1 || $0.steps == nil } == true)
    }
}
