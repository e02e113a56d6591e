import Foundation
import QuantConfig
import Search
import Seeding
import Testing

struct SurrogateTests {
    /// On a problem whose objectives are additive over layers (what the surrogate assumes), screening
    /// finds better children than plain NSGA-II with the same number of evaluations, and its held-back
    /// predictions rank the results almost perfectly.
    @Test func screeningHelpsOnAnAdditiveProblem() throws {
        let space = Fixtures.spikformerSpace()
        func additive(_ genome: Genome) -> Fitness {
            var error = 0.05
            var energy = 0.0
            for (layer, gene) in genome.genes.enumerated() {
                let sensitivity = 0.004 + 0.02 * Double((layer * 7) % 5) / 4
                error += sensitivity * Fixtures.pow2(-Double(gene.bits) + 2) * (gene.scheme == .pot ? 1.5 : 1)
                energy += Double(gene.bits) / 8 / Double(genome.genes.count) * (gene.scheme == .pot ? 0.7 : 1)
            }
            return Fitness(objectives: [min(error, 1), energy])
        }
        func run(screening: SurrogateScreening?, seed: UInt64) throws -> (hypervolume: Double, correlation: [Double?]) {
            var search = try SteadyStateNSGA2(
                space: space, parameters: NSGA2Parameters(populationSize: 16, screening: screening), seed: seed)
            for _ in 0..<80 {
                let proposal = search.ask()!
                try search.tell(proposal.hash, fitness: additive(proposal.genome))
            }
            return (search.hypervolume, search.surrogate?.heldBackCorrelation ?? [])
        }
        var wins = 0
        for seed in UInt64(1)...5 {
            let plain = try run(screening: nil, seed: seed)
            let screened = try run(screening: SurrogateScreening(candidates: 16, minimumResults: 16), seed: seed)
            if screened.hypervolume > plain.hypervolume { wins += 1 }
            // Energy is exactly linear in the one-hot genes; error nearly so.
            #expect(screened.correlation.count == 2)
            #expect((screened.correlation[1] ?? 0) > 0.99, "energy ρ \(screened.correlation[1] ?? .nan)")
            #expect((screened.correlation[0] ?? 0) > 0.8, "error ρ \(screened.correlation[0] ?? .nan)")
        }
        #expect(wins == 5, "screening won \(wins) of 5 seeds")
    }

    @Test func screeningParametersAreValidated() {
        #expect(throws: SearchError.self) { try SurrogateScreening(candidates: 0).validate() }
        #expect(throws: SearchError.self) { try SurrogateScreening(ridge: 0).validate() }
    }

    /// The surrogate's observations and held-back log survive the saved state; the fit is rebuilt.
    @Test func surrogateStateRoundTrips() throws {
        let space = Fixtures.tinySpace()
        var search = try SteadyStateNSGA2(
            space: space, parameters: NSGA2Parameters(populationSize: 4, screening: SurrogateScreening(candidates: 4, minimumResults: 2)), seed: 9)
        for _ in 0..<10 {
            let proposal = search.ask()!
            try search.tell(proposal.hash, fitness: Fixtures.syntheticFitness(proposal.genome))
        }
        let data = try JSONEncoder().encode(search)
        var copy = try JSONDecoder().decode(SteadyStateNSGA2.self, from: data)
        #expect(copy.surrogate?.heldBack == search.surrogate?.heldBack)
        #expect(copy.ask()?.hash == search.ask()?.hash, "the resumed search makes the same next choice")
    }
}
