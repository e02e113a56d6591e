import QuantConfig

extension SensitivityTable {
    /// `count` configurations that minimise the predicted drop (Σ per-layer sensitivity) under an
    /// energy budget: the knee of that predicted front, then budgets spread evenly from the cheapest
    /// configuration to the all-widest-uniform one (all-u8 in the usual space), each solved exactly as
    /// a multiple-choice knapsack over the layers.
    ///
    /// Costs are the measured per-layer energies (``energy``) in units of 1/`resolution` of the widest
    /// configuration's cost, rounded to the nearest unit: solutions are optimal for those costs, so a
    /// configuration within (layers / 2) units of a seed's cost may be slightly better. The budgets are
    /// spaced in the same units, so the two ends are exactly the cheapest and the widest
    /// configurations. A free layer's choice is eligible when both its drop and its energy were
    /// measured; pinned layers keep their choice. The result starts with the knee of the predicted
    /// front (``knee(of:)``: the one configuration most likely to cover the hypervolume on its own),
    /// then the cheapest, the midpoints of the widest gaps and the widest configuration (0, ½, ¼, ¾,
    /// …, 1), duplicates removed, at most `count` in all: the front's hypervolume (reference point at
    /// FP32 energy) is built from the low-energy end, while the widest configuration (all-u8, a
    /// baseline anyway) is nearly always matched by cheaper ones of about its accuracy, so it is the
    /// seed that can wait (and the one left out when the knee takes a place).
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
        /// The knapsack optimum within `fraction` of the range from the cheapest to the widest cost.
        func solve(_ fraction: Double) -> (genome: Genome, cost: Int, drop: Double)? {
            let budget = low + Int((fraction * Double(high - low)).rounded(.down))
            guard let picks = MultipleChoiceKnapsack.minimize(values: values, costs: units, budget: budget) else { return nil }
            let genome = Genome(genes: picks.enumerated().map { layer, pick in space.choices[layer][eligible[layer][pick]] })
            let cost = picks.enumerated().reduce(0) { $0 + units[$1.offset][$1.element] }
            let drop = picks.enumerated().reduce(0.0) { $0 + values[$1.offset][$1.element] }
            return (genome, cost, drop)
        }
        var seeds: [Genome] = []
        if let knee = Self.knee(of: (0...Self.kneeGrid).compactMap { solve(Double($0) / Double(Self.kneeGrid)) }) { seeds.append(knee) }
        for fraction in Self.spreadFractions(count) {
            guard seeds.count < count, let genome = solve(fraction)?.genome else { continue }
            if !seeds.contains(genome) { seeds.append(genome) }
        }
        return seeds
    }

    /// Budgets (evenly spaced over the cost range) on which the predicted front is traced to find its knee.
    static let kneeGrid = 40

    /// The knee of a predicted front (cheapest first): the point farthest below the line joining its
    /// two ends, both axes scaled to [0, 1]. It is where one configuration buys the most predicted
    /// drop for the least energy, so it is the single seed most likely to cover the hypervolume well
    /// on its own. Nil when the front is a straight line or a single point.
    static func knee(of front: [(genome: Genome, cost: Int, drop: Double)]) -> Genome? {
        guard let first = front.first, let last = front.last, last.cost > first.cost, first.drop > last.drop else { return nil }
        func belowChord(_ point: (genome: Genome, cost: Int, drop: Double)) -> Double {
            let x = Double(point.cost - first.cost) / Double(last.cost - first.cost)
            let y = (point.drop - last.drop) / (first.drop - last.drop)
            return 1 - x - y
        }
        // `max(by:)` keeps the first of equal maxima: among equally good points the cheaper one.
        guard let best = front.max(by: { belowChord($0) < belowChord($1) }), belowChord(best) > 1e-9 else { return nil }
        return best.genome
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
