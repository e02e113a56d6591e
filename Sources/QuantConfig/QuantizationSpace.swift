import ConfigFiles
/// What a search may choose per layer: the layers (in model order), the allowed schemes and bit
/// widths, and layers pinned to a fixed choice.
public struct QuantizationSpace: Codable, Hashable, Sendable {
    /// Quantizable layer names in model order.
    public var layers: [String]
    /// Schemes the search may pick (the default excludes `float`).
    public var schemes: [QuantScheme]
    /// Bit widths the search may pick for `uniform` and `pot`.
    public var bits: [Int]
    /// Layers held at one choice, e.g. `head: u8`.
    public var fixed: [String: LayerQuantization]

    public static let defaultBits = [2, 3, 4, 5, 6, 8]
    /// Widths a packed model can store (2 to 8 bits per code).
    public static let supportedBits = 2...8

    public init(
        layers: [String], schemes: [QuantScheme] = [.uniform, .pot], bits: [Int] = defaultBits,
        fixed: [String: LayerQuantization] = [:]
    ) {
        self.layers = layers
        self.schemes = schemes
        self.bits = bits.sorted()
        self.fixed = fixed
    }

    /// Every choice allowed for `layer`, in a stable order (scheme, then bits).
    public func choices(for layer: String) -> [LayerQuantization] {
        if let pinned = fixed[layer] { return [pinned] }
        var result: [LayerQuantization] = []
        for scheme in schemes.sorted() {
            if scheme == .float {
                result.append(.float)
            } else {
                result += bits.map { LayerQuantization(scheme: scheme, bits: $0) }
            }
        }
        return result
    }

    /// Checks the space itself: known widths, at least one scheme, pins on known layers.
    public func validate() throws(ConfigError) {
        guard !layers.isEmpty else { throw ConfigError(key: "layers", message: "no quantizable layers") }
        guard !schemes.isEmpty else { throw ConfigError(key: "schemes", message: "no schemes allowed") }
        if schemes.contains(where: { $0 != .float }) && bits.isEmpty {
            throw ConfigError(key: "bits", message: "no bit widths allowed")
        }
        for b in bits where !Self.supportedBits.contains(b) {
            throw ConfigError(key: "bits", message: "width \(b) is outside \(Self.supportedBits)")
        }
        for (name, choice) in fixed {
            guard layers.contains(name) else {
                throw ConfigError(key: "fixed.\(name)", layer: name, message: "not a quantizable layer of this model")
            }
            try Self.checkWidth(choice, layer: name, key: "fixed.\(name)")
        }
    }

    /// Checks that `config` names exactly this space's layers, each with an allowed choice.
    public func validate(_ config: QuantizationConfig) throws(ConfigError) {
        for name in config.layers.keys.sorted() where !layers.contains(name) {
            throw ConfigError(key: "layers.\(name)", layer: name, message: "unknown layer (expected one of: \(layers.joined(separator: ", ")))")
        }
        for name in layers {
            guard let choice = config.layers[name] else {
                throw ConfigError(key: "layers.\(name)", layer: name, message: "missing")
            }
            guard choices(for: name).contains(choice) else {
                let allowed = choices(for: name).map(\.description).joined(separator: " ")
                throw ConfigError(
                    key: "layers.\(name)", layer: name, message: "\(choice) is not allowed here (allowed: \(allowed))")
            }
        }
    }

    /// Checks that a single choice is storable (width 2…8 unless float).
    public static func checkChoice(_ choice: LayerQuantization, layer: String) throws(ConfigError) {
        try checkWidth(choice, layer: layer, key: "layers.\(layer)")
    }

    static func checkWidth(_ choice: LayerQuantization, layer: String, key: String, file: String? = nil) throws(ConfigError) {
        if choice.scheme != .float && !supportedBits.contains(choice.bits) {
            throw ConfigError(
                file: file, key: key, layer: layer, message: "bits \(choice.bits) is outside \(supportedBits) for scheme \(choice.scheme.rawValue)")
        }
    }
}

