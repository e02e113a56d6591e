import ConfigFiles
import Foundation

extension QuantizationConfig {
    /// Reads a configuration from YAML or JSON (JSON is read by the same parser).
    ///
    /// Accepted shape:
    ///
    ///     default: u4                 # optional; applies to layers not listed
    ///     layers:
    ///       sps.stages.0.conv: u8     # short form: u<bits>, p<bits>, f32
    ///       head: {scheme: uniform, bits: 8}
    ///
    /// - Parameters:
    ///   - text: the file contents.
    ///   - file: the file name, used in error messages.
    ///   - layerNames: the model's quantizable layers; required when `default` is used, and used
    ///     to reject unknown names.
    public static func parse(_ text: String, file: String? = nil, layerNames: [String]? = nil) throws(ConfigError) -> QuantizationConfig {
        try ConfigError.addingLines(from: text) { () throws(ConfigError) in try parseValues(text, file: file, layerNames: layerNames) }
    }

    private static func parseValues(_ text: String, file: String?, layerNames: [String]?) throws(ConfigError) -> QuantizationConfig {
        let root = try ConfigYAML.load(text, file: file)
        guard let map = root as? [String: Any] else {
            throw ConfigError(file: file, key: "(document)", message: "expected a mapping with a `layers` key")
        }
        for key in map.keys where key != "layers" && key != "default" {
            throw ConfigError(file: file, key: key, message: "unknown key (expected `layers` and optionally `default`)")
        }
        var layers: [String: LayerQuantization] = [:]
        if let raw = map["layers"] {
            guard let entries = raw as? [String: Any] else {
                throw ConfigError(file: file, key: "layers", message: "expected a mapping from layer name to choice")
            }
            for (name, value) in entries {
                layers[name] = try parseChoice(value, file: file, key: "layers.\(name)", layer: name)
            }
        }
        if let raw = map["default"] {
            let choice = try parseChoice(raw, file: file, key: "default", layer: nil)
            guard let layerNames else {
                throw ConfigError(file: file, key: "default", message: "needs the model's layer list to expand")
            }
            for name in layerNames where layers[name] == nil { layers[name] = choice }
        }
        if let layerNames {
            for name in layers.keys.sorted() where !layerNames.contains(name) {
                throw ConfigError(file: file, key: "layers.\(name)", layer: name, message: "not a quantizable layer of this model")
            }
            for name in layerNames where layers[name] == nil {
                throw ConfigError(file: file, key: "layers.\(name)", layer: name, message: "missing (list it or give a `default`)")
            }
        }
        return QuantizationConfig(layers: layers)
    }

    /// Reads a configuration file; see ``parse(_:file:layerNames:)``.
    public static func load(contentsOf url: URL, layerNames: [String]? = nil) throws -> QuantizationConfig {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ConfigError(file: url.path, key: "(file)", message: "cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: url.path, layerNames: layerNames)
    }

    /// The configuration as YAML in model order, short forms, e.g. for `--quant` files.
    public func yaml(order: [String]) -> String {
        var out = "layers:\n"
        let names = order + layers.keys.filter { !order.contains($0) }.sorted()
        for name in names {
            if let choice = layers[name] { out += "  \(name): \(choice)\n" }
        }
        return out
    }

    static func parseChoice(_ value: Any, file: String?, key: String, layer: String?) throws(ConfigError) -> LayerQuantization {
        let choice: LayerQuantization
        if let text = value as? String {
            guard let parsed = LayerQuantization(shortForm: text) else {
                throw ConfigError(file: file, key: key, layer: layer, message: "`\(text)` is not a choice (use u<bits>, p<bits> or f32)")
            }
            choice = parsed
        } else if let map = value as? [String: Any] {
            guard let schemeText = map["scheme"] as? String else {
                throw ConfigError(file: file, key: "\(key).scheme", layer: layer, message: "missing or not a string")
            }
            guard let scheme = QuantScheme(rawValue: schemeText) else {
                throw ConfigError(
                    file: file, key: "\(key).scheme", layer: layer, message: "`\(schemeText)` is not one of uniform, pot, float")
            }
            for extra in map.keys where extra != "scheme" && extra != "bits" {
                throw ConfigError(file: file, key: "\(key).\(extra)", layer: layer, message: "unknown key")
            }
            if scheme == .float {
                choice = .float
            } else {
                guard let bits = map["bits"] as? Int else {
                    throw ConfigError(file: file, key: "\(key).bits", layer: layer, message: "missing or not an integer")
                }
                choice = LayerQuantization(scheme: scheme, bits: bits)
            }
        } else {
            throw ConfigError(file: file, key: key, layer: layer, message: "expected a short form like u4 or a mapping {scheme, bits}")
        }
        try QuantizationSpace.checkWidth(choice, layer: layer ?? key, key: key, file: file)
        return choice
    }
}
