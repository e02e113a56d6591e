import Foundation
import QuantConfig
import Search
import Seeding
import Testing
import TestSupport

struct SteadyStateNSGA2Tests {
    let space = Fixtures.spikformerSpace()

    func makeSearch(seed: UInt64 = 42, population: Int = 16, sensitivity: SensitivityTable? = nil) throws -> SteadyStateNSGA2 {
        try SteadyStateNSGA2(space: space, parameters: NSGA2Parameters(populationSize: population), seed: seed, sensitivity: sensitivity)
    }

    /// Runs `count` ask/tell rounds with `inFlight` candidates outstanding, telling the synthetic fitness
    /// in a scrambled order; returns the proposals' hashes in ask order.
    @discardableResult
    func drive(_ search: inout SteadyStateNSGA2, count: Int, inFlight: Int = 4) throws -> [String] {
        var asked: [String] = []
        var outstanding: [Proposal] = []
        var order = SeededGenerator(seed: 99)
        while asked.count < count || !outstanding.isEmpty {
            while asked.count < count && outstanding.count < inFlight, let proposal = search.ask() {
                asked.append(proposal.hash)
                outstanding.append(proposal)
            }
            let done = outstanding.remove(at: Int.random(in: 0..<outstanding.count, using: &order))
            try search.tell(done.hash, fitness: Fixtures.syntheticFitness(done.genome))
        }
        return asked
    }

    @Test func startsWithTheUniformBaselinesThenRandomFill() throws {
        var search = try makeSearch()
        let names = space.space.layers
        let first = (0..<3).map { _ in search.ask()! }
        #expect(first.map(\.origin) == [.baseline, .baseline, .baseline])
        #expect(first[0].config.summary(order: names) == Array(repeating: "u8", count: 18).joined(separator: " "))
        #expect(first[1].config.summary(order: names) == (Array(repeating: "u4", count: 17) + ["u8"]).joined(separator: " "))
        #expect(first[2].config.summary(order: names) == (Array(repeating: "p4", count: 17) + ["u8"]).joined(separator: " "))
        let rest = (3..<16).map { _ in search.ask()! }
        #expect(rest.allSatisfy { $0.origin == .random })
        // With no results yet there are no parents: still random.
        #expect(search.ask()!.origin == .random)
    }

    @Test func offspringOnceThePopulationHasMembers() throws {
        var search = try makeSearch(population: 8)
        try drive(&search, count: 8, inFlight: 8)
        let child = search.ask()!
        #expect(child.origin == .offspring)
        #expect(child.parents.count == 2)
        #expect(child.parents.allSatisfy { parent in search.population.contains { $0.hash == parent } })
        #expect(space.contains(child.genome))
        #expect(child.hash == child.config.hash)
    }

    @Test func neverProposesTheSameConfigurationTwice() throws {
        var search = try makeSearch(population: 8)
        let asked = try drive(&search, count: 600, inFlight: 6)
        #expect(Set(asked).count == asked.count)
        #expect(search.statistics.evaluations == 600)
        #expect(search.population.count == 8)
    }

    @Test func exhaustsASmallSpaceWithoutRepeats() throws {
        let tiny = Fixtures.tinySpace()
        #expect(tiny.size == 64)
        var search = try SteadyStateNSGA2(space: tiny, parameters: NSGA2Parameters(populationSize: 4), seed: 3)
        var seen: Set<String> = []
        var outstanding: [Proposal] = []
        while true {
            // Keep three in flight, so duplicates of in-flight configurations must be avoided too.
            while outstanding.count < 3, let proposal = search.ask() {
                #expect(seen.insert(proposal.hash).inserted, "proposed twice: \(proposal.config.summary(order: tiny.space.layers))")
                outstanding.append(proposal)
            }
            guard !outstanding.isEmpty else { break }
            let done = outstanding.removeFirst()
            try search.tell(done.hash, fitness: Fixtures.syntheticFitness(done.genome))
        }
        #expect(seen.count == 64)
        #expect(search.isExhausted)
        #expect(search.ask() == nil)
        #expect(search.statistics.randomFallbacks > 0)
    }

    @Test func insertsAtOnceAndTruncatesTheMostCrowdedOfTheLastFront() throws {
        let tiny = Fixtures.tinySpace()
        var search = try SteadyStateNSGA2(space: tiny, parameters: NSGA2Parameters(populationSize: 3), seed: 1)
        let p = (0..<6).map { _ in search.ask()! }
        try search.tell(p[0].hash, fitness: Fitness(objectives: [0, 4]))
        #expect(search.population.count == 1, "inserted immediately")
        try search.tell(p[1].hash, fitness: Fitness(objectives: [1, 2]))
        try search.tell(p[2].hash, fitness: Fitness(objectives: [4, 0]))
        // A dominated newcomer is the whole last front, so it goes.
        let dominated = try search.tell(p[3].hash, fitness: Fitness(objectives: [4, 4]))
        #expect(!dominated.keptInPopulation)
        #expect(Set(search.population.map(\.hash)) == Set([p[0], p[1], p[2]].map(\.hash)))
        // Four mutually non-dominated points: crowding (1,2) = 1.5, (3,1) = 1.25, so (3,1) goes.
        let report = try search.tell(p[4].hash, fitness: Fitness(objectives: [3, 1]))
        #expect(!report.keptInPopulation)
        #expect(Set(search.population.map(\.hash)) == Set([p[0], p[1], p[2]].map(\.hash)))
        // A newcomer that dominates (1,2) pushes it to the last front.
        let better = try search.tell(p[5].hash, fitness: Fitness(objectives: [0.5, 1.5]))
        #expect(better.keptInPopulation)
        #expect(Set(search.population.map(\.hash)) == Set([p[0], p[5], p[2]].map(\.hash)))
        #expect(search.population.allSatisfy { $0.rank == 0 })
    }

    @Test func hypervolumeTracksTheFeasibleFrontOfEveryEvaluation() throws {
        var search = try SteadyStateNSGA2(
            space: space, parameters: NSGA2Parameters(populationSize: 4, referencePoint: [1, 1]), seed: 5)
        var told: [[Double]] = []
        var rng = SeededGenerator(seed: 8)
        for i in 0..<60 {
            let proposal = search.ask()!
            let objectives = [rng.nextUnitDouble(), rng.nextUnitDouble()]
            // Every third candidate breaks a constraint: it never counts towards the hypervolume.
            let violation = i % 3 == 0 ? 0.5 : 0
            try search.tell(proposal.hash, fitness: Fitness(objectives: objectives, violation: violation))
            if violation == 0 { told.append(objectives) }
            #expect(isClose(search.hypervolume, Fixtures.bruteForceHypervolume(told, reference: [1, 1]), relative: 1e-12))
        }
        #expect(search.history.count == 60)
        #expect(zip(search.history, search.history.dropFirst()).allSatisfy { $0.value <= $1.value })
        #expect(search.history.last!.evaluations == 60)
        #expect(search.front.allSatisfy { point in !search.front.contains { Fitness.dominates($0.objectives, point.objectives) } })
    }

    @Test func allInfeasibleRanksByViolationAndHasNoHypervolume() throws {
        var search = try makeSearch(population: 4)
        for violation in [0.4, 0.1, 0.3, 0.2, 0.05] {
            let proposal = search.ask()!
            try search.tell(proposal.hash, fitness: Fitness(objectives: [0, 0], violation: violation))
        }
        #expect(search.hypervolume == 0)
        #expect(search.front.isEmpty)
        let ranked = search.population.sorted { $0.rank < $1.rank }.map(\.fitness.violation)
        #expect(ranked == [0.05, 0.1, 0.2, 0.3], "least violation first; the worst was truncated")
    }

    @Test func failuresAreNeverReproposedButALateResultIsWelcome() throws {
        let tiny = Fixtures.tinySpace()
        var search = try SteadyStateNSGA2(space: tiny, parameters: NSGA2Parameters(populationSize: 4), seed: 9)
        let doomed = search.ask()!
        try search.tellFailure(doomed.hash)
        #expect(search.statistics.failures == 1)
        var hashes: [String] = []
        while let proposal = search.ask() {
            hashes.append(proposal.hash)
            try search.tell(proposal.hash, fitness: Fixtures.syntheticFitness(proposal.genome))
        }
        #expect(!hashes.contains(doomed.hash))
        #expect(hashes.count == 63)
        try search.tell(doomed.hash, fitness: Fitness(objectives: [0.1, 0.1]))
        #expect(search.statistics.failures == 0)
        #expect(search.statistics.evaluations == 64)
    }

    @Test func rejectsBadTells() throws {
        var search = try makeSearch()
        let proposal = search.ask()!
        #expect(throws: SearchError.unknownCandidate(hash: "nope")) { try search.tell("nope", fitness: Fitness(objectives: [0, 0])) }
        #expect(throws: SearchError.self) { try search.tell(proposal.hash, fitness: Fitness(objectives: [0])) }
        #expect(throws: SearchError.self) { try search.tell(proposal.hash, fitness: Fitness(objectives: [.nan, 0])) }
        try search.tell(proposal.hash, fitness: Fitness(objectives: [0.5, 0.5]))
        #expect(throws: SearchError.alreadyEvaluated(hash: proposal.hash)) { try search.tell(proposal.hash, fitness: Fitness(objectives: [0, 0])) }
        #expect(throws: SearchError.self) { try SteadyStateNSGA2(space: space, parameters: NSGA2Parameters(populationSize: 1), seed: 0) }
        #expect(throws: SearchError.self) {
            try SteadyStateNSGA2(space: space, parameters: NSGA2Parameters(objectiveCount: 3, referencePoint: [1, 1]), seed: 0)
        }
    }

    @Test func sameSeedSameRunDifferentSeedDifferentRun() throws {
        var a = try makeSearch(seed: 11)
        var b = try makeSearch(seed: 11)
        var c = try makeSearch(seed: 12)
        let runA = try drive(&a, count: 120)
        let runB = try drive(&b, count: 120)
        let runC = try drive(&c, count: 120)
        #expect(runA == runB)
        #expect(runA != runC)
        #expect(a.hypervolume == b.hypervolume)
    }

    @Test func stateRoundTripsThroughCodableAndResumesExactly() throws {
        var original = try makeSearch(seed: 21)
        try drive(&original, count: 50)
        // Leave two in flight, as a crash would.
        _ = original.ask()
        _ = original.ask()
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(original)
        var restored = try JSONDecoder().decode(SteadyStateNSGA2.self, from: data)
        #expect(try encoder.encode(restored) == data)
        #expect(restored.inFlight == original.inFlight)
        #expect(restored.population == original.population)
        #expect(restored.rng == original.rng)
        for proposal in original.inFlight {
            try original.tell(proposal.hash, fitness: Fixtures.syntheticFitness(proposal.genome))
            try restored.tell(proposal.hash, fitness: Fixtures.syntheticFitness(proposal.genome))
        }
        #expect(try drive(&original, count: 60) == drive(&restored, count: 60))
        #expect(original.history == restored.history)
    }

    @Test func beatsRandomSearchOnASyntheticProblem() throws {
        var evolved = try SteadyStateNSGA2(space: space, parameters: NSGA2Parameters(populationSize: 24), seed: 31)
        try drive(&evolved, count: 400)
        var rng = SeededGenerator(seed: 31)
        var randomFront: [[Double]] = []
        for _ in 0..<400 { randomFront.append(Fixtures.syntheticFitness(space.randomGenome(using: &rng)).objectives) }
        let randomVolume = Hypervolume.of(randomFront, reference: [1, 1])
        #expect(evolved.hypervolume > randomVolume * 1.02, "NSGA-II \(evolved.hypervolume) vs random \(randomVolume)")
    }
}

/// Cost of the search itself, without evaluations. Prints timings when SPIKEQ_PRINT_TIMINGS=1
/// (run it in release); asserts only behaviour, never time.
struct SearchCostTests {
    @Test func thousandsOfAsksAndTellsStayDistinct() throws {
        let space = Fixtures.spikformerSpace()
        var search = try SteadyStateNSGA2(space: space, parameters: NSGA2Parameters(populationSize: 32), seed: 77)
        let count = 3000
        var asked = Set<String>()
        var askTime = Duration.zero
        var tellTime = Duration.zero
        let clock = ContinuousClock()
        var outstanding: [Proposal] = []
        for _ in 0..<count {
            var proposal: Proposal?
            askTime += clock.measure { proposal = search.ask() }
            outstanding.append(proposal!)
            #expect(asked.insert(proposal!.hash).inserted)
            if outstanding.count >= 8 {
                let done = outstanding.removeFirst()
                let fitness = Fixtures.syntheticFitness(done.genome)
                try tellTime += clock.measure { try search.tell(done.hash, fitness: fitness) }
            }
        }
        #expect(search.statistics.proposals == count)
        if TestEnvironment.variable("SPIKEQ_PRINT_TIMINGS") == "1" {
            var rngForTiming = SeededGenerator(seed: 1)
            var encoded = 0
            let encodeTime = try clock.measure { encoded = try JSONEncoder().encode(search).count }
            let config = space.config(of: space.randomGenome(using: &rngForTiming))
            var digest = ""
            let hashTime = clock.measure { for _ in 0..<1000 { digest = config.hash } }
            print("config.hash: \(hashTime / 1000) per call (\(digest.prefix(8)))")
            print("search cost: ask \(askTime / count) per call, tell \(tellTime / (count - 7)) per call (μ = 32, 18 layers, \(count) proposals); state \(encoded) bytes encoded in \(encodeTime)")
        }
    }
}
