/// Exact hypervolume of a set of minimised objective vectors against a fixed reference point.
///
/// The hypervolume is the Lebesgue measure of ⋃ₚ [p, r) (the region dominated by the points and
/// bounded by the reference point r). Only the part of each box below r counts, so a point that is
/// not strictly better than r in every objective contributes nothing. Dominated points and
/// duplicates are allowed and change nothing.
///
/// Two objectives use the O(*n* log *n*) sweep; more objectives slice along the last objective and
/// recurse (HSO), O(*n*² log *n*) in 3-D, which is exact and fast for fronts of a few hundred points.
public enum Hypervolume {
    /// - Parameters:
    ///   - points: objective vectors, each with `reference.count` entries.
    ///   - reference: the reference point (worse than any interesting point in every objective).
    public static func of(_ points: [[Double]], reference: [Double]) -> Double {
        precondition(!reference.isEmpty, "hypervolume needs at least one objective")
        precondition(points.allSatisfy { $0.count == reference.count }, "point dimension differs from the reference point's")
        let inside = points.filter { zip($0, reference).allSatisfy { $0 < $1 } }
        return slice(inside, reference: reference)
    }

    private static func slice(_ points: [[Double]], reference: [Double]) -> Double {
        guard !points.isEmpty else { return 0 }
        let d = reference.count
        if d == 1 { return reference[0] - points.map { $0[0] }.min()! }
        if d == 2 { return sweep(points, reference: reference) }
        // Slabs between consecutive values of the last objective: within a slab, the dominated region's
        // cross-section is the (d−1)-dimensional hypervolume of the points already below it.
        let sorted = points.sorted { $0[d - 1] < $1[d - 1] }
        let lower = Array(reference.dropLast())
        var volume = 0.0
        var active: [[Double]] = []
        for (k, point) in sorted.enumerated() {
            active.append(Array(point.dropLast()))
            let top = k + 1 < sorted.count ? sorted[k + 1][d - 1] : reference[d - 1]
            let depth = top - point[d - 1]
            if depth > 0 { volume += depth * slice(active, reference: lower) }
        }
        return volume
    }

    private static func sweep(_ points: [[Double]], reference: [Double]) -> Double {
        let sorted = points.sorted { $0[0] != $1[0] ? $0[0] < $1[0] : $0[1] < $1[1] }
        var area = 0.0
        var ceiling = reference[1]
        for point in sorted where point[1] < ceiling {
            area += (reference[0] - point[0]) * (ceiling - point[1])
            ceiling = point[1]
        }
        return area
    }
}

/// The hypervolume after a number of evaluations, for the convergence plot.
public struct HypervolumeSample: Codable, Hashable, Sendable {
    public var evaluations: Int
    public var value: Double

    public init(evaluations: Int, value: Double) {
        self.evaluations = evaluations
        self.value = value
    }
}
