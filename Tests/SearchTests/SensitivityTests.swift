import QuantConfig
import Search
import Testing

struct SensitivityTests {
    /// Four free layers: `touchy` loses a lot when narrowed, the others little; equal cost shares.
    let space = try! GenomeSpace(QuantizationSpace(layers: ["touchy", "calm1", "calm2", "calm3"], schemes: [.uniform], bits: [2, 4, 8]))

    var table: SensitivityTable {
        SensitivityTable(
            accuracyDrop: [
                "touchy": ["u8": 0, "u4": 0.08, "u2": 0.4],
                "calm1": ["u8": 0, "u4": 0.001, "u2": 0.01],
                "calm2": ["u8": 0, "u4": 0.002, "u2": 0.02],
                "calm3": ["u8": 0, "u4": 0.003, "u2": 0.03],
            ],
            costShare: ["touchy": 0.25, "calm1": 0.25, "calm2": 0.25, "calm3": 0.25])
    }

    @Test func seedsKeepSensitiveLayersWideAtEachBudget() throws {
        let seeds = table.seeds(in: space, budgets: [0.75, 0.5, 0.45])
        #expect(seeds.allSatisfy { space.contains($0) })
        // 0.75 of 32 bit-units = 24: narrow two calm layers to u4.
        #expect(seeds[0].genes == [.uniform(8), .uniform(4), .uniform(4), .uniform(8)])
        // 0.5 → 16: all calm layers to u4, then calm1 and calm2 on to u2 (smallest extra drop per bit).
        #expect(seeds[1].genes == [.uniform(8), .uniform(2), .uniform(2), .uniform(4)])
        // 0.45 → 14.4: every calm layer at u2 before the sensitive layer gives anything up.
        #expect(seeds[2].genes == [.uniform(8), .uniform(2), .uniform(2), .uniform(2)])
    }

    @Test func sensitivitySeedsFollowTheBaselines() throws {
        var search = try SteadyStateNSGA2(space: space, parameters: NSGA2Parameters(populationSize: 8, sensitivityBudgets: [0.75, 0.5]), seed: 1, sensitivity: table)
        let origins = (0..<6).map { _ in search.ask()!.origin }
        #expect(origins == [.baseline, .baseline, .sensitivity, .sensitivity, .random, .random], "all-p4 is not in this space")
    }

    @Test func weightsFavourHarmlessChoicesAndCostlyLayers() {
        let skewed = SensitivityTable(accuracyDrop: table.accuracyDrop, costShare: ["touchy": 0.1, "calm1": 0.7, "calm2": 0.1, "calm3": 0.1])
        let weights = skewed.mutationWeights(for: space, temperature: 0.02)
        #expect(weights.fits(space))
        #expect(weights.layers[1] > weights.layers[0])
        let touchy = space.choices[0]  // u2, u4, u8
        let w = weights.choices[0]
        #expect(w[touchy.firstIndex(of: .uniform(8))!] > w[touchy.firstIndex(of: .uniform(4))!])
        #expect(w[touchy.firstIndex(of: .uniform(4))!] > w[touchy.firstIndex(of: .uniform(2))!])
    }

    @Test func rejectsTablesThatDoNotFit() {
        #expect(throws: SearchError.self) { try SensitivityTable(accuracyDrop: ["ghost": ["u4": 0.1]]).validate(against: space) }
        #expect(throws: SearchError.self) { try SensitivityTable(accuracyDrop: ["touchy": ["q4": 0.1]]).validate(against: space) }
        #expect(throws: SearchError.self) { try SensitivityTable(accuracyDrop: [:], costShare: ["touchy": -1]).validate(against: space) }
    }
}
