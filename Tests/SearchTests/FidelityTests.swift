import Foundation
import QuantConfig
import Search
import Seeding
import Testing

struct RungLadderTests {
    func fitness(_ error: Double, _ energy: Double) -> Fitness { Fitness(objectives: [error, energy]) }

    @Test func nothingIsPromotedUntilARungHoldsEtaResults() {
        var ladder = RungLadder(schedule: FidelitySchedule(rungs: [15, 60], eta: 3))
        ladder.record("a", rung: 0, fitness: fitness(0.2, 0.5))
        ladder.record("b", rung: 0, fitness: fitness(0.3, 0.6))
        #expect(ladder.nextPromotion() == nil)
        ladder.record("c", rung: 0, fitness: fitness(0.4, 0.7))
        let promotion = ladder.nextPromotion()
        #expect(promotion?.hash == "a" && promotion?.toRung == 1, "a dominates b and c")
        #expect(ladder.nextPromotion() == nil, "quota ⌊3/3⌋ = 1 is used up")
        #expect(ladder.wasPromoted("a", from: 0))
    }

    /// The quota grows with the rung; the order is non-domination level, then crowding distance.
    @Test func promotionsFollowTheNSGAIIOrder() {
        var ladder = RungLadder(schedule: FidelitySchedule(rungs: [5, 15, 45], eta: 2))
        // Front 0: p (0.1, 0.9), q (0.5, 0.5), r (0.9, 0.1): r and p are the extremes (∞ crowding), q in
        // the middle. s and t are dominated.
        for (hash, f) in [("q", fitness(0.5, 0.5)), ("s", fitness(0.6, 0.6)), ("p", fitness(0.1, 0.9)), ("t", fitness(0.95, 0.95)), ("r", fitness(0.9, 0.1))] {
            ladder.record(hash, rung: 0, fitness: f)
        }
        #expect(ladder.promotable(at: 0) == ["p", "r"], "⌊5/2⌋ = 2: the two extremes, in arrival order")
        #expect(ladder.nextPromotion()?.hash == "p")
        #expect(ladder.nextPromotion()?.hash == "r")
        #expect(ladder.nextPromotion() == nil)
        ladder.record("u", rung: 0, fitness: fitness(0.7, 0.8))
        #expect(ladder.promotable(at: 0) == ["q"], "⌊6/2⌋ = 3 now admits the crowded middle point")
    }

    /// Results whose crowding order churns with every arrival (a low-discrepancy scatter on the
    /// plane): draining the promotions after each one moves exactly ⌊n/η⌋ of n up, never more.
    @Test func promotionsNeverExceedTheQuotaWhenTheTopChurns() {
        for eta in [2, 3] {
            var ladder = RungLadder(schedule: FidelitySchedule(rungs: [5, 20], eta: eta))
            var promotedCount = 0
            for i in 1...40 {
                let x = (Double(i) * 0.618_033_988_75).truncatingRemainder(dividingBy: 1)
                let y = (Double(i) * 0.414_213_562_37).truncatingRemainder(dividingBy: 1)
                ladder.record("c\(i)", rung: 0, fitness: fitness(x, y))
                while ladder.nextPromotion() != nil { promotedCount += 1 }
                #expect(promotedCount == i / eta, "after \(i) results at η = \(eta)")
            }
        }
    }

    @Test func higherRungsAreServedFirstAndRungsAreNeverMixed() {
        var ladder = RungLadder(schedule: FidelitySchedule(rungs: [5, 15, 45], eta: 2))
        for (hash, error) in [("a", 0.1), ("b", 0.2), ("c", 0.3), ("d", 0.4)] { ladder.record(hash, rung: 0, fitness: fitness(error, 0.5)) }
        #expect(ladder.nextPromotion()! == ("a", 1))
        #expect(ladder.nextPromotion()! == ("b", 1))
        // At rung 1, b turns out worse than a; a is promoted to rung 2 before c would be from rung 0.
        ladder.record("b", rung: 1, fitness: fitness(0.9, 0.5))
        ladder.record("a", rung: 1, fitness: fitness(0.05, 0.5))
        #expect(ladder.nextPromotion()! == ("a", 2))
        #expect(ladder.highestRung(of: "a") == 1)
        ladder.record("a", rung: 2, fitness: fitness(0.04, 0.5))
        #expect(ladder.highestRung(of: "a") == 2)
        // b's poor rung-1 result does not change rung 0, where it remains among the best.
        #expect(ladder.result(of: "b", at: 0) == fitness(0.2, 0.5))
    }

    @Test func feasibleResultsOutrankInfeasibleOnes() {
        var ladder = RungLadder(schedule: FidelitySchedule(rungs: [1, 2], eta: 2))
        ladder.record("infeasible", rung: 0, fitness: Fitness(objectives: [0.0, 0.0], violation: 0.1))
        ladder.record("feasible", rung: 0, fitness: fitness(0.9, 0.9))
        #expect(ladder.nextPromotion()?.hash == "feasible")
    }

    @Test func schedulesAreValidated() {
        #expect(throws: SearchError.self) { try FidelitySchedule(rungs: [15, 15]).validate() }
        #expect(throws: SearchError.self) { try FidelitySchedule(rungs: []).validate() }
        #expect(throws: SearchError.self) { try FidelitySchedule(rungs: [5, 15], eta: 1).validate() }
        #expect(throws: Never.self) { try FidelitySchedule(rungs: [0, 15, 60]).validate() }
    }

    /// The ladder is saved with the search state: a decoded copy makes the same decisions.
    @Test func ladderRoundTripsThroughJSON() throws {
        var ladder = RungLadder(schedule: FidelitySchedule(rungs: [5, 15], eta: 2))
        ladder.record("a", rung: 0, fitness: fitness(0.1, 0.5))
        ladder.record("b", rung: 0, fitness: fitness(0.2, 0.6))
        _ = ladder.nextPromotion()
        let copy = try JSONDecoder().decode(RungLadder.self, from: JSONEncoder().encode(ladder))
        #expect(copy == ladder)
    }
}

struct PromotedResultTests {
    /// A lower-rung result steers selection but never enters the front; the full-fidelity result of
    /// the same candidate does, and replaces the population member's fitness.
    @Test func onlyFullFidelityResultsReachTheFront() throws {
        let space = Fixtures.tinySpace()
        var search = try SteadyStateNSGA2(space: space, parameters: NSGA2Parameters(populationSize: 4), seed: 5)
        let proposal = search.ask()!
        try search.tell(proposal.hash, fitness: Fitness(objectives: [0.3, 0.4]), onFront: false)
        #expect(search.front.isEmpty && search.hypervolume == 0)
        #expect(search.population.map(\.hash) == [proposal.hash])
        try search.tellPromoted(proposal.hash, config: proposal.config, fitness: Fitness(objectives: [0.2, 0.4]), onFront: true)
        #expect(search.front.map(\.hash) == [proposal.hash])
        #expect(search.population.first?.fitness == Fitness(objectives: [0.2, 0.4]))
        #expect(abs(search.hypervolume - 0.8 * 0.6) < 1e-12)
        #expect(search.statistics.evaluations == 1 && search.statistics.promotions == 1)
        // A candidate without a first result cannot be promoted.
        let other = search.ask()!
        #expect(throws: SearchError.self) { try search.tellPromoted(other.hash, config: other.config, fitness: Fitness(objectives: [0.1, 0.1]), onFront: true) }
    }

    @Test func seedsAddedLaterAreProposedFirst() throws {
        let space = Fixtures.tinySpace()
        var search = try SteadyStateNSGA2(space: space, parameters: NSGA2Parameters(populationSize: 8), seed: 5)
        let derived = [space.config(of: space.genome(atIndex: 7)), space.config(of: space.genome(atIndex: 9))]
        #expect(search.addSeeds(derived + [derived[0]], origin: .supernet) == 2)
        #expect(search.ask()?.hash == derived[0].hash)
        #expect(search.ask()?.origin == .supernet)
    }
}
