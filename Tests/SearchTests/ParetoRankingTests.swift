import Search
import Seeding
import Testing

struct ParetoRankingTests {
    @Test func handCheckedFronts() {
        let points: [[Double]] = [[1, 5], [2, 3], [3, 1], [2, 4], [4, 4], [5, 5]]
        #expect(ParetoRanking.fronts(objectives: points) == [[0, 1, 2], [3], [4], [5]])
        // Equal points do not dominate each other.
        #expect(ParetoRanking.fronts(objectives: [[1, 1], [1, 1], [2, 2]]) == [[0, 1], [2]])
    }

    @Test func constrainedDominationFollowsDebsRules() {
        let feasibleBad = Fitness(objectives: [5, 5])
        let infeasibleGood = Fitness(objectives: [1, 1], violation: 0.1)
        let lessInfeasible = Fitness(objectives: [9, 9], violation: 0.05)
        let sameViolation = Fitness(objectives: [0, 0], violation: 0.1)
        #expect(feasibleBad.constrainedDominates(infeasibleGood))
        #expect(!infeasibleGood.constrainedDominates(feasibleBad))
        #expect(lessInfeasible.constrainedDominates(infeasibleGood))
        #expect(!sameViolation.constrainedDominates(infeasibleGood))
        #expect(!infeasibleGood.constrainedDominates(sameViolation))
        #expect(Fitness(objectives: [1, 2]).constrainedDominates(Fitness(objectives: [2, 2])))
        #expect(Fitness(objectives: [0], constraintValues: [-1, 0.25, 0.5]).violation == 0.75)
    }

    @Test func feasibleRankAheadOfInfeasibleAndAllInfeasibleRankByViolation() {
        let mixed = [
            Fitness(objectives: [0, 0], violation: 0.2), Fitness(objectives: [3, 3]), Fitness(objectives: [1, 4]),
            Fitness(objectives: [0, 0], violation: 0.1), Fitness(objectives: [4, 4]),
        ]
        #expect(ParetoRanking.fronts(mixed) == [[1, 2], [4], [3], [0]])
        let allInfeasible = [
            Fitness(objectives: [0, 0], violation: 0.3), Fitness(objectives: [5, 5], violation: 0.1),
            Fitness(objectives: [1, 1], violation: 0.1),
        ]
        #expect(ParetoRanking.fronts(allInfeasible) == [[1, 2], [0]])
    }

    @Test func crowdingDistanceByHand() {
        let three = ParetoRanking.crowdingDistance([[1, 5], [2, 3], [3, 1]])
        #expect(three[0] == .infinity && three[2] == .infinity)
        #expect(three[1] == 2)
        let four = ParetoRanking.crowdingDistance([[0, 4], [1, 2], [3, 1], [4, 0]])
        #expect(four[1] == 1.5)
        #expect(four[2] == 1.25)
        // An objective on which everyone ties adds nothing.
        let flat = ParetoRanking.crowdingDistance([[0, 7], [1, 7], [3, 7]])
        #expect(flat[1] == 1.0)
        #expect(ParetoRanking.crowdingDistance([[1, 1], [2, 0]]) == [.infinity, .infinity])
    }

    @Test(arguments: [2, 3, 4])
    func frontsAreAConsistentLayering(objectives: Int) {
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<20 {
            let points = (0..<40).map { _ in (0..<objectives).map { _ in Double(Int.random(in: 0..<6, using: &rng)) } }
            let fronts = ParetoRanking.fronts(objectives: points)
            #expect(fronts.flatMap { $0 }.sorted() == Array(0..<points.count))
            for (level, front) in fronts.enumerated() {
                for i in front {
                    // Nothing in the same or a later front dominates it …
                    for later in fronts[level...] {
                        #expect(!later.contains { Fitness.dominates(points[$0], points[i]) })
                    }
                    // … and something in the front just before does.
                    if level > 0 { #expect(fronts[level - 1].contains { Fitness.dominates(points[$0], points[i]) }) }
                }
            }
        }
    }
}
