import QuantConfig
import Search
import Seeding
import Testing
import TestSupport

struct KnapsackTests {
    /// Every assignment enumerated: the least value within the budget (ties: the least cost).
    static func bruteForce(values: [[Double]], costs: [[Int]], budget: Int) -> (value: Double, cost: Int)? {
        var best: (value: Double, cost: Int)?
        var picks = [Int](repeating: 0, count: values.count)
        while true {
            let cost = picks.enumerated().reduce(0) { $0 + costs[$1.offset][$1.element] }
            let value = picks.enumerated().reduce(0.0) { $0 + values[$1.offset][$1.element] }
            if cost <= budget, best == nil || value < best!.value || (value == best!.value && cost < best!.cost) {
                best = (value, cost)
            }
            var g = 0
            while g < picks.count {
                picks[g] += 1
                if picks[g] < values[g].count { break }
                picks[g] = 0
                g += 1
            }
            if g == picks.count { return best }
        }
    }

    @Test func matchesBruteForceOnRandomInstances() {
        var rng = SeededGenerator(seed: 11)
        for trial in 0..<300 {
            let groups = 1 + trial % 5
            let values = (0..<groups).map { _ in (0..<(1 + Int.random(in: 0..<4, using: &rng))).map { _ in Double(Int.random(in: 0..<20, using: &rng)) / 4 } }
            let costs = values.map { group in group.map { _ in Int.random(in: 0..<12, using: &rng) } }
            let budget = Int.random(in: 0..<(groups * 10), using: &rng)
            let expected = Self.bruteForce(values: values, costs: costs, budget: budget)
            let solution = MultipleChoiceKnapsack.minimize(values: values, costs: costs, budget: budget)
            guard let expected else {
                #expect(solution == nil, "trial \(trial): should be infeasible")
                continue
            }
            guard let solution else {
                Issue.record("trial \(trial): no solution, expected value \(expected.value)")
                continue
            }
            let cost = solution.enumerated().reduce(0) { $0 + costs[$1.offset][$1.element] }
            let value = solution.enumerated().reduce(0.0) { $0 + values[$1.offset][$1.element] }
            #expect(cost <= budget)
            #expect(value == expected.value, "trial \(trial)")
            #expect(cost == expected.cost, "trial \(trial): ties go to the cheaper solution")
        }
    }

    @Test func spreadFractionsCoverTheRangeInAnyPrefix() {
        let five = SensitivityTable.spreadFractions(5)
        #expect(five == [0, 0.5, 0.25, 0.75, 1], "cheapest first, the widest last")
        #expect(SensitivityTable.spreadFractions(1) == [0.5])
        #expect(SensitivityTable.spreadFractions(2) == [0, 1])
        for count in 2...17 {
            let fractions = SensitivityTable.spreadFractions(count)
            #expect(fractions.count == count && Set(fractions).count == count, "\(count): every grid point once")
            #expect(fractions.first == 0 && fractions.last == 1)
        }
    }

    /// Three free layers; `touchy` costs the most accuracy, `big` the most energy.
    let space = try! GenomeSpace(QuantizationSpace(layers: ["touchy", "big", "small"], schemes: [.uniform, .pot], bits: [2, 4, 8]))

    var table: SensitivityTable {
        func drops(_ scale: Double) -> [String: Double] {
            ["u8": 0, "u4": 0.01 * scale, "u2": 0.05 * scale, "p8": 0.002 * scale, "p4": 0.015 * scale, "p2": 0.08 * scale]
        }
        func energy(_ size: Double) -> [String: Double] {
            ["u8": 8 * size, "u4": 4 * size, "u2": 2 * size, "p8": 6 * size, "p4": 3 * size, "p2": 1.5 * size]
        }
        return SensitivityTable(
            accuracyDrop: ["touchy": drops(10), "big": drops(1), "small": drops(1)], method: .drop,
            energy: LayerCostTable(
                model: "toy", picojoules: ["touchy": energy(1), "big": energy(10), "small": energy(1)], fixedPicojoules: 5, referencePicojoules: 400))
    }

    /// Each seed is the brute-force optimum of predicted drop under its own energy budget, and the
    /// seeds reach from the cheapest configuration to all-u8.
    @Test func seedsAreOptimalAtTheirBudgetsAndSpanTheRange() throws {
        let seeds = table.knapsackSeeds(in: space, count: 6)
        #expect(seeds.count >= 4)
        let energies = seeds.map { table.energy!.picojoules(of: $0, in: space)! }
        let allU8 = table.energy!.picojoules(of: SteadyStateNSGA2.baseline(.uniform(8), in: space)!, in: space)!
        let cheapest = 5 + 1.5 * 12
        #expect(energies.min()! == cheapest)
        #expect(energies.max()! <= allU8)
        // The knee first, then the cheapest.
        #expect(energies.dropFirst().first == cheapest)
        // Brute force over the 216 configurations: nothing is cheaper (by more than the rounding of
        // three layers to 1/4000 of all-u8's 96 pJ) and better than a seed.
        let tolerance = 3 * 0.5 * 96 / 4000
        let all = (0..<space.size!).map { space.genome(atIndex: $0) }
        for seed in seeds {
            let cost = table.energy!.picojoules(of: seed, in: space)!
            let drop = table.predictedDrop(of: seed, in: space)!
            let better = all.filter {
                table.energy!.picojoules(of: $0, in: space)! <= cost - tolerance && table.predictedDrop(of: $0, in: space)! < drop - 1e-12
            }
            #expect(better.isEmpty, "\(seed) is beaten by \(better.first.map { "\($0)" } ?? "")")
        }
        // The sensitive layer stays wider than the cheap-to-narrow big layer in the middle seeds.
        for seed in seeds where seed.genes[0].bits < 8 { #expect(seed.genes[1].bits <= seed.genes[0].bits) }
    }

    /// The first seed is the knee of the predicted front: of all 216 configurations, none that is
    /// predicted Pareto-optimal lies farther below the line from the cheapest to all-u8 (both axes
    /// scaled to [0, 1]). With one seed, the knee is the only one; with two, the cheapest follows.
    @Test func firstSeedIsTheKneeOfThePredictedFront() throws {
        func cost(_ g: Genome) -> Double { table.energy!.picojoules(of: g, in: space)! }
        func drop(_ g: Genome) -> Double { table.predictedDrop(of: g, in: space)! }
        let all = (0..<space.size!).map { space.genome(atIndex: $0) }
        let front = all.filter { g in !all.contains { cost($0) <= cost(g) && drop($0) <= drop(g) && (cost($0) < cost(g) || drop($0) < drop(g)) } }
        let cheapest = front.min { cost($0) < cost($1) }!, widest = SteadyStateNSGA2.baseline(.uniform(8), in: space)!
        func belowChord(_ g: Genome) -> Double {
            1 - (cost(g) - cost(cheapest)) / (cost(widest) - cost(cheapest)) - (drop(g) - drop(widest)) / (drop(cheapest) - drop(widest))
        }
        let knee = try #require(table.knapsackSeeds(in: space, count: 1).first)
        let best = front.map(belowChord).max()!
        #expect(best > 0.1, "the toy front bends")
        #expect(abs(belowChord(knee) - best) < 0.01, "knee \(knee): \(belowChord(knee)), best on the front \(best)")
        #expect(cost(knee) > cost(cheapest) && cost(knee) < cost(widest))
        let two = table.knapsackSeeds(in: space, count: 2)
        #expect(two.first == knee && two.count == 2 && cost(two[1]) == cost(cheapest))
    }

    @Test func knapsackSeedsComeFirstAndReplaceBeatenGreedyOnes() throws {
        var search = try SteadyStateNSGA2(
            space: space, parameters: NSGA2Parameters(populationSize: 12, sensitivityBudgets: [0.75, 0.5], knapsackSeeds: 4), seed: 3,
            sensitivity: table)
        var proposals: [Proposal] = []
        while let proposal = search.ask(), proposal.origin != .random { proposals.append(proposal) }
        #expect(proposals.prefix(4).allSatisfy { $0.origin == .knapsack })
        let knapsack = proposals.filter { $0.origin == .knapsack }.map(\.genome)
        // A greedy seed is kept only if no knapsack seed is predicted at least as good on both axes.
        func cost(_ g: Genome) -> Double { table.energy!.picojoules(of: g, in: space)! }
        func drop(_ g: Genome) -> Double { table.predictedDrop(of: g, in: space)! }
        let greedy = table.seeds(in: space, budgets: [0.75, 0.5])
        let survivors = greedy.filter { g in !knapsack.contains { drop($0) <= drop(g) && cost($0) <= cost(g) } }
        #expect(survivors.count < greedy.count, "at least one greedy seed is beaten on this table")
        #expect(proposals.filter { $0.origin == .sensitivity }.map(\.genome) == survivors.filter { !knapsack.contains($0) })
    }
}
