/// What the search knows about an evaluated candidate: its objective vector (every entry minimised)
/// and its total constraint violation.
public struct Fitness: Codable, Hashable, Sendable {
    /// Objective values, all minimised (see ``ObjectiveSpec`` for how metrics are turned into these).
    public var objectives: [Double]
    /// Σ max(0, gᵢ) over the constraint values gᵢ (gᵢ > 0 means constraint i is violated); 0 when feasible.
    public var violation: Double

    public init(objectives: [Double], violation: Double = 0) {
        self.objectives = objectives
        self.violation = violation
    }

    /// Builds a fitness from per-constraint values, where a positive value is the amount of violation.
    public init(objectives: [Double], constraintValues: [Double]) {
        self.init(objectives: objectives, violation: constraintValues.reduce(0) { $0 + max(0, $1) })
    }

    public var isFeasible: Bool { violation <= 0 }
}

extension Fitness {
    /// Pareto dominance on minimised objectives: `a` is no worse everywhere and strictly better somewhere.
    ///
    /// - Precondition: both vectors have the same length.
    public static func dominates(_ a: [Double], _ b: [Double]) -> Bool {
        precondition(a.count == b.count, "objective vectors of different lengths: \(a.count) vs \(b.count)")
        var strictlyBetter = false
        for (x, y) in zip(a, b) {
            if x > y { return false }
            if x < y { strictlyBetter = true }
        }
        return strictlyBetter
    }

    /// Constrained domination (Deb's rules): `self` constrained-dominates `other` when
    /// - `self` is feasible and `other` is not, or
    /// - both are infeasible and `self` has the smaller total violation, or
    /// - both are feasible and `self` Pareto-dominates `other`.
    ///
    /// Two infeasible candidates with equal violation do not dominate each other, so when nothing is
    /// feasible the first front holds the least-violating candidates.
    public func constrainedDominates(_ other: Fitness) -> Bool {
        switch (isFeasible, other.isFeasible) {
        case (true, false): true
        case (false, true): false
        case (false, false): violation < other.violation
        case (true, true): Self.dominates(objectives, other.objectives)
        }
    }
}
