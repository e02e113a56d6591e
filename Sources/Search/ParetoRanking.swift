/// Non-dominated sorting and crowding distance, the two halves of NSGA-II's ranking.
public enum ParetoRanking {
    /// Splits `fitness` into fronts under constrained domination (``Fitness/constrainedDominates(_:)``).
    ///
    /// Front 0 holds the candidates nothing dominates; front k those dominated only by fronts < k.
    /// Feasible candidates always rank ahead of infeasible ones; infeasible ones rank by violation.
    ///
    /// - Returns: Fronts of indices into `fitness`, each in ascending index order.
    /// - Complexity: O(*m n*²) for *n* candidates and *m* objectives (Deb's fast non-dominated sort).
    public static func fronts(_ fitness: [Fitness]) -> [[Int]] {
        fronts(count: fitness.count) { fitness[$0].constrainedDominates(fitness[$1]) }
    }

    /// Splits unconstrained objective vectors (all minimised) into Pareto fronts.
    public static func fronts(objectives: [[Double]]) -> [[Int]] {
        fronts(count: objectives.count) { Fitness.dominates(objectives[$0], objectives[$1]) }
    }

    /// The front index of each candidate (0 = non-dominated).
    public static func ranks(of fronts: [[Int]], count: Int) -> [Int] {
        var rank = [Int](repeating: 0, count: count)
        for (level, front) in fronts.enumerated() {
            for index in front { rank[index] = level }
        }
        return rank
    }

    private static func fronts(count: Int, dominates: (Int, Int) -> Bool) -> [[Int]] {
        var dominatedBy = [Int](repeating: 0, count: count)  // how many dominate i
        var dominating = [[Int]](repeating: [], count: count)  // whom i dominates
        for i in 0..<count {
            for j in (i + 1)..<max(i + 1, count) {
                if dominates(i, j) {
                    dominating[i].append(j)
                    dominatedBy[j] += 1
                } else if dominates(j, i) {
                    dominating[j].append(i)
                    dominatedBy[i] += 1
                }
            }
        }
        var result: [[Int]] = []
        var current = (0..<count).filter { dominatedBy[$0] == 0 }
        while !current.isEmpty {
            result.append(current)
            var next: [Int] = []
            for i in current {
                for j in dominating[i] {
                    dominatedBy[j] -= 1
                    if dominatedBy[j] == 0 { next.append(j) }
                }
            }
            current = next.sorted()
        }
        return result
    }

    /// Crowding distance of each point of one front (Deb et al. 2002).
    ///
    /// For each objective the points are sorted; the two extremes get +∞ and every other point adds
    /// (next − previous) / (max − min) of its neighbours. An objective on which all points are equal
    /// adds nothing. Larger means less crowded.
    ///
    /// - Parameter objectives: the front's objective vectors, all of the same length.
    /// - Returns: one distance per point, in input order.
    public static func crowdingDistance(_ objectives: [[Double]]) -> [Double] {
        let count = objectives.count
        guard count > 2 else { return Array(repeating: .infinity, count: count) }
        var distance = [Double](repeating: 0, count: count)
        for m in 0..<objectives[0].count {
            // Ties keep input order, so the result does not depend on the sort's stability.
            let order = (0..<count).sorted { objectives[$0][m] != objectives[$1][m] ? objectives[$0][m] < objectives[$1][m] : $0 < $1 }
            let low = objectives[order.first!][m]
            let high = objectives[order.last!][m]
            distance[order.first!] = .infinity
            distance[order.last!] = .infinity
            guard high > low else { continue }
            for k in 1..<(count - 1) {
                distance[order[k]] += (objectives[order[k + 1]][m] - objectives[order[k - 1]][m]) / (high - low)
            }
        }
        return distance
    }
}
