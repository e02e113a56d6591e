import QuantConfig

/// Energy per inference of each quantizable layer under each of its choices, measured at the FP32
/// model's firing rates with one energy table, plus what does not depend on the choices.
///
/// Energy is additive over layers, so a configuration's energy is predicted as
/// `fixed + Σ_layers picojoules[layer][choice]` before anything is fine-tuned; firing rates move a
/// little under quantization, so evaluations still measure it. The knapsack seeding and the
/// surrogate use it as the cost axis.
public struct LayerCostTable: Codable, Hashable, Sendable {
    /// The energy table's name (e.g. `spikformer-45nm`).
    public var model: String
    /// Per layer and short-form choice (`u4`, `p3`, `f32`): picojoules per inference.
    public var picojoules: [String: [String: Double]]
    /// Picojoules of everything whose cost no choice changes (the attention's spike products).
    public var fixedPicojoules: Double
    /// The FP32 model's total, for the relative energy the search minimises.
    public var referencePicojoules: Double

    public init(model: String, picojoules: [String: [String: Double]], fixedPicojoules: Double, referencePicojoules: Double) {
        self.model = model
        self.picojoules = picojoules
        self.fixedPicojoules = fixedPicojoules
        self.referencePicojoules = referencePicojoules
    }

    /// The cost of one layer's choice, if measured.
    public func cost(layer: String, choice: LayerQuantization) -> Double? {
        picojoules[layer]?[choice.description]
    }

    /// Predicted picojoules of a configuration; nil when a layer's choice was not measured.
    public func picojoules(of genome: Genome, in space: GenomeSpace) -> Double? {
        var total = fixedPicojoules
        for (name, gene) in zip(space.space.layers, genome.genes) {
            guard let cost = cost(layer: name, choice: gene) else { return nil }
            total += cost
        }
        return total
    }

    /// Predicted energy relative to FP32 (the energy objective's internal value).
    public func relativeEnergy(of genome: Genome, in space: GenomeSpace) -> Double? {
        guard referencePicojoules > 0, let total = picojoules(of: genome, in: space) else { return nil }
        return total / referencePicojoules
    }

    /// Checks names, short forms and values against `space`.
    public func validate(against space: GenomeSpace) throws(SearchError) {
        let names = space.space.layers
        for layer in picojoules.keys.sorted() where !names.contains(layer) {
            throw SearchError.invalidSensitivity("energy table: unknown layer `\(layer)`")
        }
        for (layer, entries) in picojoules.sorted(by: { $0.key < $1.key }) {
            for (choice, value) in entries.sorted(by: { $0.key < $1.key }) {
                guard LayerQuantization(shortForm: choice) != nil else {
                    throw SearchError.invalidSensitivity("energy table: layer `\(layer)`: `\(choice)` is not a short form like u4")
                }
                guard value.isFinite, value >= 0 else {
                    throw SearchError.invalidSensitivity("energy table: layer `\(layer)` choice `\(choice)`: \(value) pJ is not a non-negative number")
                }
            }
        }
        guard fixedPicojoules.isFinite, fixedPicojoules >= 0, referencePicojoules.isFinite, referencePicojoules > 0 else {
            throw SearchError.invalidSensitivity("energy table: fixed and reference energies must be finite, the reference positive")
        }
    }
}
