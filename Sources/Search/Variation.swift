import QuantConfig
import Seeding

/// How a mutated gene changes, as relative probabilities.
///
/// - `neighbour`: the next lower or higher allowed width of the same scheme (u4 → u3 or u5).
/// - `flipScheme`: another allowed scheme at the same width, or the nearest allowed width (u4 → p4).
/// - `resample`: any other allowed choice, drawn by ``MutationWeights/choices`` when given.
///
/// A kind that cannot apply to a layer (a single width, a single scheme) falls back to `resample`.
public struct MutationMix: Codable, Hashable, Sendable {
    public var neighbour: Double
    public var flipScheme: Double
    public var resample: Double

    public init(neighbour: Double = 0.5, flipScheme: Double = 0.25, resample: Double = 0.25) {
        self.neighbour = neighbour
        self.flipScheme = flipScheme
        self.resample = resample
    }
}

/// Relative mutation weights, e.g. derived from a sensitivity sweep (``SensitivityTable``).
///
/// `layers[l]` scales how often layer `l` mutates (the expected number of mutated layers per child
/// stays at `mutationRate × free layers`); `choices[l][c]` is the relative probability that resampling
/// layer `l` picks its choice `c` (indices as in ``GenomeSpace/choices``).
public struct MutationWeights: Codable, Hashable, Sendable {
    public var layers: [Double]
    public var choices: [[Double]]

    public init(layers: [Double], choices: [[Double]]) {
        self.layers = layers
        self.choices = choices
    }

    /// Equal weights everywhere (plain uniform mutation).
    public static func uniform(for space: GenomeSpace) -> MutationWeights {
        MutationWeights(layers: Array(repeating: 1, count: space.layerCount), choices: space.choices.map { Array(repeating: 1, count: $0.count) })
    }

    /// Whether the shape matches `space` and every weight is finite and non-negative.
    public func fits(_ space: GenomeSpace) -> Bool {
        layers.count == space.layerCount && choices.count == space.layerCount
            && zip(choices, space.choices).allSatisfy { $0.count == $1.count }
            && (layers + choices.flatMap { $0 }).allSatisfy { $0.isFinite && $0 >= 0 }
    }
}

/// Crossover and mutation over typed genes; every child they make is inside the space.
public struct Variation: Codable, Hashable, Sendable {
    /// Probability that a child is a uniform crossover of its two parents (otherwise a copy of the first).
    public var crossoverRate: Double
    /// Per-layer mutation probability; nil means 1 / (number of free layers), one mutation per child
    /// on average.
    public var mutationRate: Double?
    public var mix: MutationMix
    /// Optional sensitivity-guided weights; nil means uniform.
    public var weights: MutationWeights?

    public init(crossoverRate: Double = 0.9, mutationRate: Double? = nil, mix: MutationMix = MutationMix(), weights: MutationWeights? = nil) {
        self.crossoverRate = crossoverRate
        self.mutationRate = mutationRate
        self.mix = mix
        self.weights = weights
    }

    /// A child of `first` and `second`: crossover with probability ``crossoverRate``, then mutation.
    /// If the result equals a parent, one more layer is mutated so that a child is never a clone.
    public func child(of first: Genome, and second: Genome, in space: GenomeSpace, using rng: inout SeededGenerator) -> Genome {
        var child = rng.nextUnitDouble() < crossoverRate ? crossover(first, second, in: space, using: &rng) : first
        mutate(&child, in: space, using: &rng)
        if (child == first || child == second), !space.freeLayers.isEmpty {
            let layer = pickLayer(in: space, using: &rng)
            child.genes[layer] = mutatedGene(child.genes[layer], layer: layer, in: space, using: &rng)
        }
        return child
    }

    /// Uniform crossover: each free layer's gene comes from either parent with probability ½.
    public func crossover(_ first: Genome, _ second: Genome, in space: GenomeSpace, using rng: inout SeededGenerator) -> Genome {
        var child = first
        for layer in space.freeLayers where rng.next() & 1 == 1 {
            child.genes[layer] = second.genes[layer]
        }
        return child
    }

    /// Mutates each free layer independently with its per-layer probability.
    ///
    /// - Returns: how many layers changed.
    @discardableResult
    public func mutate(_ genome: inout Genome, in space: GenomeSpace, using rng: inout SeededGenerator) -> Int {
        let probabilities = layerProbabilities(in: space)
        var changed = 0
        for (layer, probability) in zip(space.freeLayers, probabilities) where rng.nextUnitDouble() < probability {
            genome.genes[layer] = mutatedGene(genome.genes[layer], layer: layer, in: space, using: &rng)
            changed += 1
        }
        return changed
    }

    /// Per free layer (in ``GenomeSpace/freeLayers`` order), the probability that it mutates.
    public func layerProbabilities(in space: GenomeSpace) -> [Double] {
        let free = space.freeLayers
        guard !free.isEmpty else { return [] }
        let base = mutationRate ?? 1 / Double(free.count)
        guard let weights, weights.fits(space) else { return Array(repeating: min(1, base), count: free.count) }
        let total = free.reduce(0) { $0 + weights.layers[$1] }
        guard total > 0 else { return Array(repeating: min(1, base), count: free.count) }
        return free.map { min(1, base * Double(free.count) * weights.layers[$0] / total) }
    }

    /// A different allowed choice for `layer`, by the ``MutationMix``.
    ///
    /// - Precondition: `layer` is free (has at least two choices) and `gene` is one of its choices.
    public func mutatedGene(_ gene: LayerQuantization, layer: Int, in space: GenomeSpace, using rng: inout SeededGenerator) -> LayerQuantization {
        let allowed = space.choices[layer]
        precondition(allowed.count > 1, "layer \(space.space.layers[layer]) is pinned")
        let kind = pickIndex([mix.neighbour, mix.flipScheme, mix.resample], using: &rng)
        if kind == 0, let neighbour = neighbourWidth(of: gene, among: allowed, using: &rng) { return neighbour }
        if kind == 1, let flipped = flippedScheme(of: gene, among: allowed, using: &rng) { return flipped }
        return resampled(gene, layer: layer, in: space, using: &rng)
    }

    private func neighbourWidth(of gene: LayerQuantization, among allowed: [LayerQuantization], using rng: inout SeededGenerator) -> LayerQuantization? {
        let sameScheme = allowed.filter { $0.scheme == gene.scheme }.sorted { $0.bits < $1.bits }
        guard let position = sameScheme.firstIndex(of: gene) else { return nil }
        var neighbours: [LayerQuantization] = []
        if position > 0 { neighbours.append(sameScheme[position - 1]) }
        if position + 1 < sameScheme.count { neighbours.append(sameScheme[position + 1]) }
        guard !neighbours.isEmpty else { return nil }
        return neighbours[Int.random(in: 0..<neighbours.count, using: &rng)]
    }

    private func flippedScheme(of gene: LayerQuantization, among allowed: [LayerQuantization], using rng: inout SeededGenerator) -> LayerQuantization? {
        var schemes: [QuantScheme] = []
        for choice in allowed where choice.scheme != gene.scheme && !schemes.contains(choice.scheme) { schemes.append(choice.scheme) }
        guard !schemes.isEmpty else { return nil }
        let target = schemes[Int.random(in: 0..<schemes.count, using: &rng)]
        // Same width if allowed, else the nearest width (the lower one on a tie).
        return allowed.filter { $0.scheme == target }.min { a, b in
            let da = abs(a.bits - gene.bits)
            let db = abs(b.bits - gene.bits)
            return da != db ? da < db : a.bits < b.bits
        }
    }

    private func resampled(_ gene: LayerQuantization, layer: Int, in space: GenomeSpace, using rng: inout SeededGenerator) -> LayerQuantization {
        let allowed = space.choices[layer]
        var weights = (self.weights?.fits(space) == true) ? self.weights!.choices[layer] : Array(repeating: 1.0, count: allowed.count)
        if let current = allowed.firstIndex(of: gene) { weights[current] = 0 }
        if !weights.contains(where: { $0 > 0 }) {
            weights = allowed.map { $0 == gene ? 0 : 1 }
        }
        return allowed[pickIndex(weights, using: &rng)]
    }

    /// A free layer drawn in proportion to its mutation probability.
    private func pickLayer(in space: GenomeSpace, using rng: inout SeededGenerator) -> Int {
        space.freeLayers[pickIndex(layerProbabilities(in: space), using: &rng)]
    }
}

/// An index drawn with probability proportional to `weights` (uniformly if none is positive).
func pickIndex(_ weights: [Double], using rng: inout SeededGenerator) -> Int {
    precondition(!weights.isEmpty, "nothing to pick from")
    let total = weights.reduce(0) { $0 + max(0, $1) }
    guard total > 0, total.isFinite else { return Int.random(in: 0..<weights.count, using: &rng) }
    var target = rng.nextUnitDouble() * total
    for (index, weight) in weights.enumerated() where weight > 0 {
        target -= weight
        if target < 0 { return index }
    }
    return weights.lastIndex { $0 > 0 }!
}
