import QuantConfig

extension SensitivityTable {
    /// Configurations that minimise the predicted drop (Σ per-layer sensitivity) at `count` energy
    /// budgets spread evenly from the cheapest configuration to the all-widest-uniform one (all-u8 in
    /// the usual space), each solved exactly as a multiple-choice knapsack over the layers.
    ///
    /// Costs are the measured per-layer energies (``energy``) in units of 1/`resolution` of the widest
    /// configuration's cost, rounded to the nearest unit: solutions are optimal for those costs, so a
    /// configuration within (layers / 2) units of a seed's cost may be slightly better. The budgets are
    /// spaced in the same units, so the two ends are exactly the cheapest and the widest
    /// configurations. A free layer's choice is eligible when both its drop and its energy were
    /// measured; pinned layers keep their choice. The result is ordered cheapest first, then the
    /// midpoints of the widest gaps, the widest configuration last (0, ½, ¼, ¾, …, 1), duplicates
    /// removed: the front's hypervolume (reference point at FP32 energy) is built from the low-energy
    /// end, while the widest configuration (all-u8, a baseline anyway) is nearly always matched by
    /// cheaper ones of about its accuracy, so it is the seed that can wait.
    ///
    /// - Returns: an empty list when there is no energy table or a layer has no eligible choice.
    public func knapsackSeeds(in space: GenomeSpace, count: Int, resolution: Int = 4000) -> [Genome] {
        guard count > 0, resolution > 0, let energy else { return [] }
        let names = space.space.layers
        var eligible: [[Int]] = []  // per layer: indices into space.choices[layer]
        for (layer, allowed) in space.choices.enumerated() {
            let name = names[layer]
            let indices = allowed.indices.filter { k in
                energy.cost(layer: name, choice: allowed[k]) != nil
                    && (!space.freeLayers.contains(layer) || drop(layer: name, choice: allowed[k]) != nil)
            }
            guard !indices.isEmpty else { return [] }
            eligible.append(indices)
        }
        let costs = eligible.enumerated().map { layer, indices in indices.map { energy.cost(layer: names[layer], choice: space.choices[layer][$0])! } }
        let values = eligible.enumerated().map { layer, indices in
            indices.map { space.freeLayers.contains(layer) ? drop(layer: names[layer], choice: space.choices[layer][$0])! : 0 }
        }
        // The top of the range: the widest uniform configuration if every layer can take it, else the
        // most expensive eligible choice everywhere.
        let widestGenome = SteadyStateNSGA2.baseline(.uniform(32), in: space)
        let widestPicks: [Int] = eligible.enumerated().map { layer, indices in
            if let gene = widestGenome?.genes[layer], let pick = indices.firstIndex(where: { space.choices[layer][$0] == gene }) { return pick }
            return costs[layer].indices.max { costs[layer][$0] < costs[layer][$1] }!
        }
        let widest = zip(costs, widestPicks).reduce(0) { $0 + $1.0[$1.1] }
        guard widest > 0 else { return [] }
        let scale = Double(resolution) / widest
        let units = costs.map { layer in layer.map { Int(($0 * scale).rounded()) } }
        let low = units.reduce(0) { $0 + $1.min()! }
        let high = max(low, zip(units, widestPicks).reduce(0) { $0 + $1.0[$1.1] })
        var seeds: [Genome] = []
        for fraction in Self.spreadFractions(count) {
            let budget = low + Int((fraction * Double(high - low)).rounded(.down))
            guard let picks = MultipleChoiceKnapsack.minimize(values: values, costs: units, budget: budget) else { continue }
            let genome = Genome(genes: picks.enumerated().map { layer, pick in space.choices[layer][eligible[layer][pick]] })
            if !seeds.contains(genome) { seeds.append(genome) }
        }
        return seeds
    }

    /// Whether `a` is predicted at least as good as `b` on both the summed drop and the energy.
    func predictedBetterOrEqual(_ a: Genome, than b: Genome, in space: GenomeSpace) -> Bool {
        guard let dropA = predictedDrop(of: a, in: space), let dropB = predictedDrop(of: b, in: space),
            let costA = energy?.picojoules(of: a, in: space), let costB = energy?.picojoules(of: b, in: space)
        else { return false }
        return dropA <= dropB && costA <= costB
    }

    /// `count` fractions of [0, 1]: 0, then the midpoints of the widest gaps (½, ¼, ¾, …), then 1,
    /// so every prefix but the last spreads from the cheapest end as evenly as its length allows.
    /// One fraction: the middle.
    public static func spreadFractions(_ count: Int) -> [Double] {
        guard count > 1 else { return count == 1 ? [0.5] : [] }
        let grid = (0..<count).map { Double($0) / Double(count - 1) }
        var order = [0]
        var gaps = [(0, count - 1)]
        while !gaps.isEmpty {
            var next: [(Int, Int)] = []
            for (low, high) in gaps where high - low > 1 {
                let mid = (low + high) / 2
                order.append(mid)
                next += [(low, mid), (mid, high)]
            }
            gaps = next
        }
        return (order + [count - 1]).map { grid[$0] }
    }
}
