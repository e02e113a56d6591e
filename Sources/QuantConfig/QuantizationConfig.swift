import ContentHash
import Foundation

/// How one layer's weights are represented.
///
/// - `uniform`: symmetric signed integer levels times a learned step (LSQ).
/// - `pot`: sign and a power-of-two magnitude (or zero) times a scale α.
/// - `float`: left in 32-bit floating point (the FP32 reference).
public enum QuantScheme: String, Codable, CaseIterable, Hashable, Sendable, Comparable {
    case uniform, pot, float

    public static func < (a: QuantScheme, b: QuantScheme) -> Bool { a.order < b.order }
    private var order: Int {
        switch self {
        case .uniform: 0
        case .pot: 1
        case .float: 2
        }
    }
}

/// One layer's choice: a scheme and a bit width. `float` layers always have 32 bits.
public struct LayerQuantization: Codable, Hashable, Sendable, CustomStringConvertible {
    public var scheme: QuantScheme
    public var bits: Int

    public init(scheme: QuantScheme, bits: Int) {
        self.scheme = scheme
        self.bits = scheme == .float ? 32 : bits
    }

    public static let float = LayerQuantization(scheme: .float, bits: 32)
    public static func uniform(_ bits: Int) -> LayerQuantization { .init(scheme: .uniform, bits: bits) }
    public static func pot(_ bits: Int) -> LayerQuantization { .init(scheme: .pot, bits: bits) }

    /// Short form used in tables and heat maps: `u4`, `p3`, `f32`.
    public var description: String {
        switch scheme {
        case .uniform: "u\(bits)"
        case .pot: "p\(bits)"
        case .float: "f32"
        }
    }

    /// Parses the short form (`u4`, `p3`, `f32`).
    public init?(shortForm text: String) {
        guard let first = text.first, let bits = Int(text.dropFirst()) else { return nil }
        switch first {
        case "u": self.init(scheme: .uniform, bits: bits)
        case "p": self.init(scheme: .pot, bits: bits)
        case "f" where bits == 32: self = .float
        default: return nil
        }
    }
}

/// A per-layer quantization configuration: for each quantizable layer (named as in the checkpoint,
/// without the `.weight` suffix) its scheme and bit width.
///
/// Its canonical form is compact JSON with sorted keys,
/// `{"layers":{"blocks.0.attn.k.linear":{"bits":4,"scheme":"uniform"},…}}`, and its hash is the
/// lowercase hex SHA-256 of those bytes. Any tool can recompute it (in Python:
/// `json.dumps(cfg, sort_keys=True, separators=(",", ":"))`). The search's duplicate cache, the
/// run database and exported manifests all key configurations by this hash.
public struct QuantizationConfig: Codable, Hashable, Sendable {
    public var layers: [String: LayerQuantization]

    public init(layers: [String: LayerQuantization]) {
        self.layers = layers.mapValues { LayerQuantization(scheme: $0.scheme, bits: $0.bits) }
    }

    /// The same choice for every layer in `names`.
    public static func uniformChoice(_ choice: LayerQuantization, layers names: [String]) -> QuantizationConfig {
        QuantizationConfig(layers: Dictionary(uniqueKeysWithValues: names.map { ($0, choice) }))
    }

    public subscript(layer: String) -> LayerQuantization? {
        get { layers[layer] }
        set { layers[layer] = newValue }
    }

    /// The canonical JSON bytes (sorted keys, no whitespace).
    public var canonicalJSON: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a struct of strings and integers cannot fail.
        return (try? encoder.encode(self)) ?? Data()
    }

    /// Lowercase hex SHA-256 of ``canonicalJSON``.
    public var hash: String {
        ContentHash.sha256(canonicalJSON)
    }

    /// The first 12 hex digits of ``hash``, for tables and file names.
    public var shortHash: String { String(hash.prefix(12)) }

    /// Parameter-weighted average bit width; float layers count as 32 bits.
    ///
    /// - Parameter parameterCounts: weight elements per layer name. Layers missing from the config
    ///   are counted as float.
    public func averageBits(parameterCounts: [String: Int]) -> Double {
        var weighted = 0.0
        var total = 0.0
        for (name, count) in parameterCounts {
            let bits = layers[name]?.bits ?? 32
            weighted += Double(bits) * Double(count)
            total += Double(count)
        }
        return total > 0 ? weighted / total : 32
    }

    /// The layers in `order` as short forms, e.g. `u8 u4 p3 …`, for one-line summaries.
    public func summary(order: [String]) -> String {
        order.map { layers[$0]?.description ?? "-" }.joined(separator: " ")
    }
}
