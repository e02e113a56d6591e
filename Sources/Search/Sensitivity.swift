import Foundation
import QuantConfig

/// How much each layer cares about its quantization, measured by quantizing one layer at a time
/// (the others kept FP32), as in HAWQ-style mixed-precision methods.
///
/// It guides the search in two ways: initial configurations that keep sensitive layers wide and cheap
/// layers narrow at a few cost budgets (``seeds(in:budgets:)``), and mutation weights
/// (``mutationWeights(for:temperature:)``).
///
/// JSON form:
///
///     {"accuracyDrop": {"blocks.0.attn.q.linear": {"u8": 0.0, "u4": 0.004, "p3": 0.03}, …},
///      "costShare":    {"blocks.0.attn.q.linear": 0.06, …},
///      "method": "drop",
///      "energy": {"model": "spikformer-45nm", "picojoules": {"blocks.0.attn.q.linear": {"u8": 310.2, …}, …},
///                 "fixedPicojoules": 1200.5, "referencePicojoules": 20650.0}}
///
/// `method` says what `accuracyDrop` holds: `drop`, the measured validation accuracy drop, or
/// `fisher`, the loss increase predicted from the empirical Fisher information (½ Σ Fᵢ δwᵢ²), which
/// costs a few gradient passes instead of one evaluation per layer and choice. Both rank choices; only
/// `drop` is in accuracy units. `energy` (optional) lets the knapsack seeding work in picojoules.
public enum SensitivityMethod: String, Codable, Hashable, Sendable, CaseIterable {
    /// One layer quantized at a time, validation accuracy measured (no fine-tune).
    case drop
    /// Loss increase predicted from the empirical Fisher information of the FP32 model.
    case fisher
}

public struct SensitivityTable: Codable, Hashable, Sendable {
    /// Per layer and short-form choice (`u4`, `p3`): FP32 accuracy − accuracy, in fractions of 1
    /// (or the predicted loss increase, see ``method``).
    public var accuracyDrop: [String: [String: Double]]
    /// Each layer's share of the model's cost (energy or parameters). Missing layers count 0; an
    /// empty map means equal shares.
    public var costShare: [String: Double]
    /// How ``accuracyDrop`` was obtained; nil means measured drops (tables written before methods).
    public var method: SensitivityMethod?
    /// Per-layer, per-choice energy at the FP32 firing rates, if measured.
    public var energy: LayerCostTable?
    /// Forward and backward passes spent on this table (a measured Fisher estimate's batches; 0 when
    /// it reused the gradients recorded while the base model trained); nil for measured drops and
    /// tables written before this was recorded. A search charges them as QAT steps.
    public var gradientPasses: Int?

    public init(
        accuracyDrop: [String: [String: Double]], costShare: [String: Double] = [:], method: SensitivityMethod? = nil,
        energy: LayerCostTable? = nil, gradientPasses: Int? = nil
    ) {
        self.accuracyDrop = accuracyDrop
        self.costShare = costShare
        self.method = method
        self.energy = energy
        self.gradientPasses = gradientPasses
    }

    /// Checks layer names and short forms against `space`, naming the first bad entry.
    public func validate(against space: GenomeSpace) throws(SearchError) {
        let names = space.space.layers
        for layer in (Array(accuracyDrop.keys) + Array(costShare.keys)).sorted() where !names.contains(layer) {
            throw SearchError.invalidSensitivity("unknown layer `\(layer)`")
        }
        for (layer, entries) in accuracyDrop.sorted(by: { $0.key < $1.key }) {
            for (choice, drop) in entries.sorted(by: { $0.key < $1.key }) {
                guard LayerQuantization(shortForm: choice) != nil else {
                    throw SearchError.invalidSensitivity("layer `\(layer)`: `\(choice)` is not a short form like u4")
                }
                guard drop.isFinite else { throw SearchError.invalidSensitivity("layer `\(layer)` choice `\(choice)`: drop is not finite") }
            }
        }
        for (layer, share) in costShare where !(share.isFinite && share >= 0) {
            throw SearchError.invalidSensitivity("layer `\(layer)`: cost share \(share) is not a non-negative number")
        }
        if let gradientPasses, gradientPasses < 0 { throw SearchError.invalidSensitivity("gradientPasses \(gradientPasses) is negative") }
        try energy?.validate(against: space)
    }

    /// The summed per-layer drop of a configuration (the additive prediction the knapsack minimises);
    /// nil when a free layer's choice was not measured. Pinned layers count 0.
    public func predictedDrop(of genome: Genome, in space: GenomeSpace) -> Double? {
        var total = 0.0
        for layer in space.freeLayers {
            guard let drop = drop(layer: space.space.layers[layer], choice: genome.genes[layer]) else { return nil }
            total += drop
        }
        return total
    }

    /// The measured drop for one layer choice, if the table has it (negative drops count as 0).
    public func drop(layer: String, choice: LayerQuantization) -> Double? {
        accuracyDrop[layer]?[choice.description].map { max(0, $0) }
    }

    /// One configuration per budget: greedily narrows the layer whose next cheaper choice costs the
    /// least accuracy per unit of cost saved, until the cost is within `budget` × the cost of the
    /// widest configuration.
    ///
    /// Cost is Σ share × bits. Choices without a measured drop are never picked, so unmeasured layers
    /// stay at their widest choice. A budget that cannot be met yields the cheapest reachable config.
    ///
    /// - Parameter budgets: fractions of the widest configuration's cost, e.g. `[0.75, 0.5, 0.375]`.
    public func seeds(in space: GenomeSpace, budgets: [Double]) -> [Genome] {
        let names = space.space.layers
        let shares = names.map { costShare.isEmpty ? 1.0 : (costShare[$0] ?? 0) }
        var widest: [LayerQuantization] = []
        for (layer, name) in names.enumerated() {
            let allowed = space.choices[layer]
            let maxBits = allowed.map(\.bits).max()!
            let top = allowed.filter { $0.bits == maxBits }
            widest.append(top.min { (drop(layer: name, choice: $0) ?? .infinity) < (drop(layer: name, choice: $1) ?? .infinity) }!)
        }
        let fullCost = zip(shares, widest).reduce(0) { $0 + $1.0 * Double($1.1.bits) }
        return budgets.map { budget in
            var genes = widest
            var cost = fullCost
            while cost > budget * fullCost {
                guard let move = cheapestMove(genes, shares: shares, in: space) else { break }
                cost -= shares[move.layer] * Double(genes[move.layer].bits - move.choice.bits)
                genes[move.layer] = move.choice
            }
            return Genome(genes: genes)
        }
    }

    private func cheapestMove(_ genes: [LayerQuantization], shares: [Double], in space: GenomeSpace) -> (layer: Int, choice: LayerQuantization)? {
        var best: (layer: Int, choice: LayerQuantization, score: Double)?
        for layer in space.freeLayers where shares[layer] > 0 {
            let name = space.space.layers[layer]
            let currentDrop = drop(layer: name, choice: genes[layer]) ?? 0
            for choice in space.choices[layer] where choice.bits < genes[layer].bits {
                guard let newDrop = drop(layer: name, choice: choice) else { continue }
                let saved = shares[layer] * Double(genes[layer].bits - choice.bits)
                // A tiny floor so that free savings still prefer the larger saving.
                let score = (max(0, newDrop - currentDrop) + 1e-9) / saved
                if best == nil || score < best!.score { best = (layer, choice, score) }
            }
        }
        return best.map { ($0.layer, $0.choice) }
    }

    /// Mutation weights: resampling favours choices that cost little accuracy (weight
    /// exp(−drop / temperature)), and layers with a larger cost share mutate more often
    /// (weight 1 + free layers × share, so an average layer counts about 2 and a negligible one 1).
    ///
    /// Choices without a measured drop get the mean weight of the layer's measured choices (1 when
    /// none are measured).
    public func mutationWeights(for space: GenomeSpace, temperature: Double = 0.02) -> MutationWeights {
        let names = space.space.layers
        let totalShare = costShare.values.reduce(0, +)
        let layerWeights = names.map { name -> Double in
            guard totalShare > 0 else { return 1 }
            return 1 + Double(space.freeLayers.count) * (costShare[name] ?? 0) / totalShare
        }
        let choiceWeights = names.indices.map { layer -> [Double] in
            let measured = space.choices[layer].map { drop(layer: names[layer], choice: $0).map { exp(-$0 / max(temperature, 1e-9)) } }
            let known = measured.compactMap { $0 }
            let fallback = known.isEmpty ? 1 : known.reduce(0, +) / Double(known.count)
            return measured.map { $0 ?? fallback }
        }
        return MutationWeights(layers: layerWeights, choices: choiceWeights)
    }
}
