import QuantConfig

extension SteadyStateNSGA2 {
    /// The uniform choices every search starts from, when the space allows them.
    public static let baselineChoices: [LayerQuantization] = [.uniform(8), .uniform(4), .pot(4)]

    /// Knapsack-optimal configurations (when asked for and the table has energies), then the uniform
    /// baselines, then the greedy sensitivity-guided configurations that no knapsack seed beats on both
    /// predicted drop and predicted cost; without duplicates. Random configurations fill the rest of
    /// the first μ proposals (see ``ask()``).
    static func initialSeeds(space: GenomeSpace, sensitivity: SensitivityTable?, budgets: [Double], knapsack: Int = 0) -> [Proposal] {
        var seeds: [Proposal] = []
        func add(_ genome: Genome, origin: CandidateOrigin) {
            let config = space.config(of: genome)
            let hash = config.hash
            if !seeds.contains(where: { $0.hash == hash }) {
                seeds.append(Proposal(hash: hash, genome: genome, config: config, origin: origin, parents: []))
            }
        }
        let knapsackGenomes = sensitivity?.knapsackSeeds(in: space, count: knapsack) ?? []
        for genome in knapsackGenomes { add(genome, origin: .knapsack) }
        for choice in baselineChoices {
            if let genome = baseline(choice, in: space) { add(genome, origin: .baseline) }
        }
        if let sensitivity {
            for genome in sensitivity.seeds(in: space, budgets: budgets) {
                let beaten = knapsackGenomes.contains { sensitivity.predictedBetterOrEqual($0, than: genome, in: space) }
                if !beaten { add(genome, origin: .sensitivity) }
            }
        }
        return seeds
    }

    /// `choice` on every free layer (pins kept). Where the width is not allowed the nearest allowed
    /// width of the same scheme is used; nil when the scheme is allowed on no free layer, or not on all.
    public static func baseline(_ choice: LayerQuantization, in space: GenomeSpace) -> Genome? {
        var genes: [LayerQuantization] = []
        for (layer, allowed) in space.choices.enumerated() {
            if !space.freeLayers.contains(layer) {
                genes.append(allowed[0])
                continue
            }
            let sameScheme = allowed.filter { $0.scheme == choice.scheme }
            guard let nearest = sameScheme.min(by: { abs($0.bits - choice.bits) < abs($1.bits - choice.bits) }) else { return nil }
            genes.append(nearest)
        }
        return space.freeLayers.isEmpty ? nil : Genome(genes: genes)
    }
}
