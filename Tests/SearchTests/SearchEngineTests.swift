import Foundation
import QuantConfig
import Search
import Seeding
import Testing

struct SearchEngineTests {
    /// The synthetic problem seen through a fidelity: lower rungs add seeded noise to the error.
    static func observed(_ genome: Genome, rung: Int, rng: inout SeededGenerator) -> Fitness {
        let truth = Fixtures.syntheticFitness(genome)
        let noise = (rng.nextUnitDouble() - 0.5) * 0.08 / Double(rung + 1)
        return Fitness(objectives: [min(1, max(0, truth.objectives[0] + noise)), truth.objectives[1]])
    }

    /// Asynchronous MO-ASHA over the NSGA-II with rungs [1, 3, 9] and η = 3: every candidate starts at
    /// rung 0, each promotion is of a candidate in the top ⌊n/η⌋ of its rung at that moment, and only
    /// top-rung results reach the front. (As in ASHA, the total promoted can exceed n/η: candidates
    /// promoted earlier may later drop out of the top set, which then admits new ones.)
    @Test func multiFidelityRunKeepsItsInvariants() throws {
        let space = Fixtures.spikformerSpace()
        var engine = try SearchEngine(
            nsga2: try SteadyStateNSGA2(space: space, parameters: NSGA2Parameters(populationSize: 12), seed: 4),
            fidelity: FidelitySchedule(rungs: [1, 3, 9], eta: 3))
        var rng = SeededGenerator(seed: 99)
        var configs: [String: QuantizationConfig] = [:]
        var genomes: [String: Genome] = [:]
        var rungs: [String: [Int]] = [:]
        var steps = 0
        // Three workers: each free slot takes the next unit of work; results arrive in dispatch order
        // shifted by one, so the search always has work in flight.
        var inFlight: [(String, Int)] = []
        for _ in 0..<120 {
            while inFlight.count < 3, let work = engine.next() {
                switch work {
                case .evaluate(let proposal):
                    configs[proposal.hash] = proposal.config
                    genomes[proposal.hash] = proposal.genome
                    inFlight.append((proposal.hash, 0))
                case .promote(let hash, let rung):
                    #expect(rungs[hash]?.last == rung - 1, "promoted from the rung below")
                    let entries = engine.ladder.results[rung - 1]
                    let quota = entries.count / 3
                    let fronts = ParetoRanking.fronts(entries.map(\.fitness))
                    let position = fronts.firstIndex { $0.contains { entries[$0].hash == hash } }!
                    let ahead = fronts.prefix(position).reduce(0) { $0 + $1.count }
                    #expect(ahead < quota, "\(hash) was behind \(ahead) results with a quota of \(quota)")
                    inFlight.append((hash, rung))
                }
            }
            let (hash, rung) = inFlight.removeFirst()
            steps += engine.fidelity.rungs[rung] - (rung > 0 ? engine.fidelity.rungs[rung - 1] : 0)
            try engine.record(hash, config: configs[hash]!, rung: rung, fitness: Self.observed(genomes[hash]!, rung: rung, rng: &rng))
            rungs[hash, default: []].append(rung)
        }
        let atTop = rungs.values.filter { $0.contains(2) }.count
        let atMiddle = rungs.values.filter { $0.contains(1) }.count
        let started = rungs.count
        #expect(atMiddle >= started / 3 - 3 && atMiddle < started, "η = 3 promotes at least about a third: \(atMiddle) of \(started)")
        #expect(atTop >= atMiddle / 3 - 3 && atTop < atMiddle, "\(atTop) of \(atMiddle)")
        #expect(engine.front.allSatisfy { rungs[$0.hash]!.contains(2) }, "only full-fidelity results on the front")
        #expect(engine.hypervolume > 0)
        #expect(engine.nsga2.statistics.promotions == atTop + atMiddle)
        // Promotions continue the lower rung: paying the increments costs far less than full fidelity.
        #expect(steps < started * 9 / 2)
        // The whole state survives a save and gives the same next decision.
        let data = try JSONEncoder().encode(engine)
        var copy = try JSONDecoder().decode(SearchEngine.self, from: data)
        #expect(copy.next() == engine.next())
    }

    @Test func seedsOnlyProposesItsSeedsAndStops() throws {
        let space = Fixtures.tinySpace()
        var engine = try SearchEngine(
            nsga2: try SteadyStateNSGA2(space: space, parameters: NSGA2Parameters(populationSize: 4), seed: 1), fidelity: .single(steps: 60),
            proposals: .seedsOnly)
        // The baselines are the initial seeds; add two derived configurations on top.
        let derived = [space.config(of: space.genome(atIndex: 5)), space.config(of: space.genome(atIndex: 6))]
        engine.addSeeds(derived, origin: .supernet)
        var proposed: [Proposal] = []
        while case .evaluate(let proposal)? = engine.next() { proposed.append(proposal) }
        #expect(proposed.prefix(2).map(\.hash) == derived.map(\.hash))
        #expect(proposed.allSatisfy { $0.origin != .random && $0.origin != .offspring })
        #expect(engine.isExhausted)
    }

    @Test func randomProposalsAreUnseenAndNeverOffspring() throws {
        let space = Fixtures.tinySpace()
        var engine = try SearchEngine(
            nsga2: try SteadyStateNSGA2(space: space, parameters: NSGA2Parameters(populationSize: 4), seed: 2), fidelity: .single(steps: 10),
            proposals: .random)
        var hashes = Set<String>()
        while case .evaluate(let proposal)? = engine.next() {
            #expect(proposal.origin == .random)
            #expect(hashes.insert(proposal.hash).inserted)
            try engine.record(proposal.hash, config: proposal.config, rung: 0, fitness: Fixtures.syntheticFitness(proposal.genome))
        }
        #expect(hashes.count == space.size!)
    }

    @Test func aLateSensitivityTableQueuesKnapsackSeeds() throws {
        let knapsack = KnapsackTests()
        var engine = try SearchEngine(
            nsga2: try SteadyStateNSGA2(space: knapsack.space, parameters: NSGA2Parameters(populationSize: 8), seed: 2), fidelity: .single(steps: 10))
        guard case .evaluate(let first)? = engine.next() else { Issue.record("no work"); return }
        #expect(first.origin == .baseline)
        let added = engine.adopt(knapsack.table, knapsackSeeds: 3)
        #expect(added >= 2)
        guard case .evaluate(let next)? = engine.next() else { Issue.record("no work"); return }
        #expect(next.origin == .knapsack)
        #expect(engine.nsga2.sensitivity == knapsack.table)
    }
}
