import Foundation
import Report
import Statistics
import Testing
import Wire

/// `final.reseeds` in the report: each re-tuned model's mean ± sd over seeds, and the drop against
/// the fine-tuned reference taken seed by seed.
struct ReseedReportTests {
    /// The sample run with #4 (search's seed: test 86.5 %) and the reference (test 88 %) re-tuned
    /// with two more seeds.
    static func input() -> ReportInput {
        var input = ReportTests.sampleInput()
        input.referenceIsFineTuned = true
        input.reseeds[4] = SeedAccuracies(bySeed: [
            0: ["validation": 0.87, "test": 0.865], 1: ["validation": 0.85, "test": 0.845], 2: ["validation": 0.86, "test": 0.855],
        ])
        input.referenceReseeds = SeedAccuracies(bySeed: [
            0: ["validation": 0.90, "test": 0.88], 1: ["validation": 0.89, "test": 0.87], 2: ["validation": 0.91, "test": 0.89],
        ])
        return input
    }

    @Test func spreadsAndPairedDropsHaveKnownValues() throws {
        let input = Self.input()
        let test = try #require(input.reseeds[4]?.spread("test"))
        #expect(test.count == 3 && abs(test.mean - 0.855) < 1e-12 && abs(test.standardDeviation - 0.01) < 1e-12)
        // Drops seed by seed: 1.5, 2.5, 3.5 pp → mean 2.5, sd 1.0.
        let drop = try #require(input.reseeds[4]?.drop(against: input.referenceReseeds!, split: "test"))
        #expect(drop.count == 3 && abs(drop.mean - 0.025) < 1e-12 && abs(drop.standardDeviation - 0.01) < 1e-12)
        // Only seeds both sides have are paired.
        var partial = input.referenceReseeds!
        partial.bySeed[2] = nil
        #expect(input.reseeds[4]?.drop(against: partial, split: "test")?.count == 2)
    }

    @Test func theClaimCheckShowsTheChosenModelUnderMoreSeeds() {
        let findings = ReportInput.claimFindings(Self.input())
        let line = findings.first { $0.hasPrefix("Fine-tuned with 3 seeds in all, #4 scores 85.50% ± 1.00 (n = 3) on test") }
        #expect(line != nil, "\(findings)")
        #expect(line?.contains("the search's seed: 86.50%") == true)
        #expect(line?.contains("the fine-tuned FP32 reference 88.00% ± 1.00 (n = 3), a drop of 2.50 ± 1.00 pp seed by seed") == true, "\(findings)")
        // Without re-fine-tunes, no such line.
        #expect(!ReportInput.claimFindings(ReportTests.sampleInput()).contains { $0.hasPrefix("Fine-tuned with") })
    }

    @Test func thePageAndDataCarryTheReseedTable() throws {
        let dir = try ReportTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let html = try String(contentsOf: try ReportWriter.write(Self.input(), to: dir), encoding: .utf8)
        #expect(html.contains("<h2>Front under more seeds</h2>"))
        let rows = try String(contentsOf: dir.appendingPathComponent("data/reseeds.csv"), encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(rows.count == 3, "\(rows)")
        #expect(
            rows[0]
                == "id,origin,seeds,validation_search_seed_%,validation_mean_%,validation_sd_pp,test_search_seed_%,test_mean_%,test_sd_pp,test_drop_vs_fp32_mean_pp,test_drop_vs_fp32_sd_pp"
        )
        #expect(rows[1].hasPrefix("-,fp32-reference,3,90,90,1,88,88,1,0,0"), "\(rows[1])")
        #expect(rows[2].hasPrefix("4,offspring,3,87,86,1,86.5,85.5,1,2.5,1"), "\(rows[2])")
        let plain = try String(contentsOf: try ReportWriter.write(ReportTests.sampleInput(), to: dir.appendingPathComponent("plain")), encoding: .utf8)
        #expect(!plain.contains("Front under more seeds"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("plain/data/reseeds.csv").path))
    }
}
