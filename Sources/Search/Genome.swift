import ConfigFiles
import QuantConfig
import Seeding

/// One candidate's genes: a (scheme, bits) choice per layer, in the order of the space's layers.
///
/// Genes are typed (a categorical scheme and an integer width), never floats that get rounded, so
/// every operator keeps them inside the space (pymoo#115 and optuna#2371 show what happens otherwise).
public struct Genome: Codable, Hashable, Sendable {
    public var genes: [LayerQuantization]

    public init(genes: [LayerQuantization]) {
        self.genes = genes
    }
}

/// A ``QuantizationSpace`` prepared for the operators: per layer (in model order) the allowed choices,
/// and which layers are free to vary (pinned layers have exactly one choice).
public struct GenomeSpace: Hashable, Sendable {
    public let space: QuantizationSpace
    /// Allowed choices per layer, in the space's stable order (scheme, then bits).
    public let choices: [[LayerQuantization]]
    /// Indices of layers with more than one choice.
    public let freeLayers: [Int]

    /// Prepares `space`; throws when the space itself is invalid.
    public init(_ space: QuantizationSpace) throws(ConfigError) {
        try space.validate()
        self.space = space
        let choices = space.layers.map { space.choices(for: $0) }
        self.choices = choices
        self.freeLayers = choices.indices.filter { choices[$0].count > 1 }
    }

    public var layerCount: Int { choices.count }

    /// The number of distinct configurations, or nil when it exceeds `Int.max`.
    public var size: Int? {
        var total = 1
        for layer in choices {
            let (product, overflow) = total.multipliedReportingOverflow(by: layer.count)
            if overflow { return nil }
            total = product
        }
        return total
    }

    /// The configuration these genes stand for.
    public func config(of genome: Genome) -> QuantizationConfig {
        precondition(genome.genes.count == layerCount, "genome has \(genome.genes.count) genes, space has \(layerCount) layers")
        var layers: [String: LayerQuantization] = [:]
        for (name, gene) in zip(space.layers, genome.genes) { layers[name] = gene }
        return QuantizationConfig(layers: layers)
    }

    /// The genes of `config`; throws (naming the layer) when the config is not in this space.
    public func genome(of config: QuantizationConfig) throws(ConfigError) -> Genome {
        try space.validate(config)
        return Genome(genes: space.layers.map { config.layers[$0]! })
    }

    /// Whether every gene is one of its layer's allowed choices.
    public func contains(_ genome: Genome) -> Bool {
        genome.genes.count == layerCount && zip(genome.genes, choices).allSatisfy { gene, allowed in allowed.contains(gene) }
    }

    /// A configuration drawn uniformly from the space.
    public func randomGenome(using rng: inout SeededGenerator) -> Genome {
        Genome(genes: choices.map { $0[Int.random(in: 0..<$0.count, using: &rng)] })
    }

    /// The configuration at `index` in mixed-radix order (the last layer varies fastest).
    ///
    /// - Precondition: `0 <= index < size`.
    public func genome(atIndex index: Int) -> Genome {
        var rest = index
        var genes = [LayerQuantization](repeating: .float, count: layerCount)
        for layer in stride(from: layerCount - 1, through: 0, by: -1) {
            let radix = choices[layer].count
            genes[layer] = choices[layer][rest % radix]
            rest /= radix
        }
        precondition(rest == 0, "index \(index) is outside the space")
        return Genome(genes: genes)
    }

    /// The position of `gene` among `layer`'s choices.
    func choiceIndex(_ gene: LayerQuantization, layer: Int) -> Int? {
        choices[layer].firstIndex(of: gene)
    }
}

extension GenomeSpace: Codable {
    public init(from decoder: any Decoder) throws {
        let space = try QuantizationSpace(from: decoder)
        do {
            try self.init(space)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        try space.encode(to: encoder)
    }
}
