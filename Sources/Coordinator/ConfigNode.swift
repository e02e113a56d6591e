import ConfigFiles
import Foundation
import Yams

/// A YAML node with the file and key path it came from, so every error can name both.
struct ConfigNode {
    let node: Node
    let file: String
    /// Dotted key path from the document root (`budget.wall_time`, `objectives[0]`).
    let key: String

    static func root(_ text: String, file: String) throws(ConfigError) -> ConfigNode {
        guard let node = try ConfigYAML.compose(text, file: file) else { throw ConfigError(file: file, key: "", message: "the file is empty") }
        return ConfigNode(node: node, file: file, key: "")
    }

    var isScalar: Bool { node.scalar != nil }

    /// Whether this is a mapping with the key `name`.
    func hasKey(_ name: String) -> Bool { node.mapping?.keys.contains { $0.string == name } ?? false }
    var line: Int? { node.mark?.line }

    func error(_ message: String) -> ConfigError {
        ConfigError(file: file, key: key, line: node.mark?.line, message: message)
    }

    private func child(_ name: String) -> String { key.isEmpty ? name : "\(key).\(name)" }

    /// The entries of a mapping, refusing keys not in `allowed` and repeated keys.
    func mapping(allowed: [String]) throws(ConfigError) -> [String: ConfigNode] {
        guard let mapping = node.mapping else { throw error("expected a mapping with keys \(allowed.joined(separator: ", "))") }
        var result: [String: ConfigNode] = [:]
        for (keyNode, value) in mapping {
            guard let name = keyNode.string else { throw error("keys must be strings") }
            let entry = ConfigNode(node: value, file: file, key: child(name))
            guard allowed.contains(name) else {
                throw ConfigError(
                    file: file, key: child(name), line: keyNode.mark?.line,
                    message: "unknown key (expected one of: \(allowed.joined(separator: ", ")))")
            }
            guard result[name] == nil else {
                throw ConfigError(file: file, key: child(name), line: keyNode.mark?.line, message: "given twice")
            }
            result[name] = entry
        }
        return result
    }

    /// The entries of a mapping with free-form keys (names), in file order.
    func namedEntries() throws(ConfigError) -> [(name: String, node: ConfigNode)] {
        guard let mapping = node.mapping else { throw error("expected a mapping from name to value") }
        var result: [(String, ConfigNode)] = []
        for (keyNode, value) in mapping {
            guard let name = keyNode.string, !name.isEmpty else { throw error("keys must be non-empty strings") }
            guard !result.contains(where: { $0.0 == name }) else {
                throw ConfigError(file: file, key: child(name), line: keyNode.mark?.line, message: "given twice")
            }
            result.append((name, ConfigNode(node: value, file: file, key: child(name))))
        }
        return result
    }

    func sequence() throws(ConfigError) -> [ConfigNode] {
        guard let sequence = node.sequence else { throw error("expected a list") }
        return sequence.enumerated().map { ConfigNode(node: $1, file: file, key: "\(key)[\($0)]") }
    }

    var isNull: Bool {
        guard let scalar = node.scalar else { return false }
        return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    func string() throws(ConfigError) -> String {
        guard let scalar = node.scalar, !isNull else { throw error("expected a string") }
        return scalar.string
    }

    func bool() throws(ConfigError) -> Bool {
        guard let value = node.bool else { throw error("expected true or false") }
        return value
    }

    func int(_ range: ClosedRange<Int>? = nil) throws(ConfigError) -> Int {
        guard let scalar = node.scalar, scalar.style == .plain, let value = Int(scalar.string.replacingOccurrences(of: "_", with: "")) else {
            throw error("expected an integer")
        }
        if let range, !range.contains(value) { throw error("\(value) is outside \(range.lowerBound)…\(range.upperBound)") }
        return value
    }

    /// A number, e.g. `0.06`, `1e-3`, `1.0e-3`, `16`.
    func double(_ range: ClosedRange<Double>? = nil, exclusiveLower: Bool = false) throws(ConfigError) -> Double {
        guard let scalar = node.scalar, scalar.style == .plain, let value = Double(scalar.string.replacingOccurrences(of: "_", with: "")),
            value.isFinite
        else { throw error("expected a number") }
        if let range {
            let low = exclusiveLower ? value > range.lowerBound : value >= range.lowerBound
            guard low, value <= range.upperBound else {
                throw error("\(value) is outside \(exclusiveLower ? "(" : "[")\(range.lowerBound), \(range.upperBound)]")
            }
        }
        return value
    }

    /// A duration in seconds: a number (seconds) or a number with a unit: `90s`, `15m`, `2h`, `1d`.
    func duration() throws(ConfigError) -> Double {
        guard let scalar = node.scalar, !isNull else { throw error("expected a duration such as 30s, 15m or 2h") }
        let text = scalar.string.trimmingCharacters(in: .whitespaces)
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var number = Substring(text)
        var scale = 1.0
        if let last = text.last, let unit = units[last] {
            number = text.dropLast()
            scale = unit
        }
        guard let value = Double(number.trimmingCharacters(in: .whitespaces)), value.isFinite, value > 0 else {
            throw error("`\(text)` is not a positive duration (seconds, or a number with s, m, h or d)")
        }
        return value * scale
    }

    /// A path, resolved against `base` when relative.
    func path(relativeTo base: URL) throws(ConfigError) -> URL {
        let text = try string()
        guard !text.isEmpty else { throw error("empty path") }
        let expanded = (text as NSString).expandingTildeInPath
        if expanded.hasPrefix("/") { return URL(fileURLWithPath: expanded).standardizedFileURL }
        return base.appendingPathComponent(expanded).standardizedFileURL
    }
}
