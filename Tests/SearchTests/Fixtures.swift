import QuantConfig
import Search
import Seeding

/// Small spaces and synthetic objectives shared by the search tests.
enum Fixtures {
    /// The paper-sized space: 18 Spikformer layers, uniform and power-of-two, widths 2–8, head pinned.
    static func spikformerSpace() -> GenomeSpace {
        let layers = SpikformerLayers.quantizable(depth: 2)
        return try! GenomeSpace(QuantizationSpace(layers: layers, fixed: ["head": .uniform(8)]))
    }

    /// 3 free layers × {u2, u4, p2, p4} = 64 configurations, small enough to exhaust.
    static func tinySpace() -> GenomeSpace {
        try! GenomeSpace(QuantizationSpace(layers: ["a", "b", "c"], schemes: [.uniform, .pot], bits: [2, 4]))
    }

    /// A synthetic two-objective problem on the space: error grows as layers get narrower (weighted by
    /// a per-layer sensitivity), energy is the share-weighted bit width. Power-of-two is a little
    /// cheaper and a little less accurate.
    static func syntheticFitness(_ genome: Genome) -> Fitness {
        var error = 0.05
        var energy = 0.0
        for (index, gene) in genome.genes.enumerated() {
            let sensitivity = 0.02 + 0.1 * Double((index * 7) % 5) / 4
            let share = 1.0 / Double(genome.genes.count)
            let penalty = gene.scheme == .pot ? 1.3 : 1.0
            error += sensitivity * penalty * pow2(-Double(gene.bits) + 1)
            energy += share * Double(gene.bits) / 8 * (gene.scheme == .pot ? 0.8 : 1.0)
        }
        return Fitness(objectives: [min(error, 1), energy])
    }

    static func pow2(_ x: Double) -> Double {
        var result = 1.0
        var exponent = x
        while exponent < 0 { result /= 2; exponent += 1 }
        while exponent > 0 { result *= 2; exponent -= 1 }
        return result
    }

    /// Exact hypervolume by brute force: compress each axis to the points' coordinates plus the
    /// reference, then add up the grid cells whose lower corner some point weakly dominates.
    static func bruteForceHypervolume(_ points: [[Double]], reference: [Double]) -> Double {
        let d = reference.count
        let inside = points.filter { zip($0, reference).allSatisfy { $0 < $1 } }
        guard !inside.isEmpty else { return 0 }
        let axes = (0..<d).map { m in Array(Set(inside.map { $0[m] } + [reference[m]])).sorted() }
        var total = 0.0
        var index = [Int](repeating: 0, count: d)
        while true {
            let corner = (0..<d).map { axes[$0][index[$0]] }
            if inside.contains(where: { p in zip(p, corner).allSatisfy { $0 <= $1 } }) {
                total += (0..<d).reduce(1.0) { $0 * (axes[$1][index[$1] + 1] - axes[$1][index[$1]]) }
            }
            var m = 0
            while m < d {
                index[m] += 1
                if index[m] < axes[m].count - 1 { break }
                index[m] = 0
                m += 1
            }
            if m == d { break }
        }
        return total
    }
}
