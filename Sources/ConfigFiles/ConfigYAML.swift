public import Yams

/// The YAML parser of every config reader, bounded against alias bombs.
///
/// An alias (`*name`) repeats the node its anchor (`&name`) names. Composing shares that node, but
/// reading the document into values copies it at every use, so ten levels of ten aliases each make
/// a 1 kB file that expands to 10¹⁰ values (the "billion laughs"): a reader would run for hours and
/// exhaust memory. The document's expanded size is counted first, and the count stops at the limit,
/// so checking a good file costs one walk over it.
public enum ConfigYAML {
    /// The most nodes (scalars, sequences, mappings, with every alias expanded) a config document may
    /// have: far above any real config (a quantization config of a 1,000-layer model has ~3,000).
    public static let maxExpandedNodes = 100_000

    /// The document's node tree, or nil for an empty document.
    /// - Throws: ``ConfigError`` (key `(document)`) for text that is not YAML or that expands past
    ///   ``maxExpandedNodes``.
    public static func compose(_ text: String, file: String?) throws(ConfigError) -> Node? {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError(file: file, key: "(document)", message: "not valid YAML: \(shortened(String(describing: error)))")
        }
        guard let node else { return nil }
        let walk = walk(node, limit: maxExpandedNodes)
        if walk.count > maxExpandedNodes {
            throw ConfigError(
                file: file, key: "(document)",
                message: "the document expands to more than \(maxExpandedNodes) values (aliases repeating large parts of it?)")
        }
        if let key = walk.nonScalarKey {
            // Yams reads every key as a string and traps on any other (`[a]: 1`, `? {b: 2}`).
            throw ConfigError(file: file, key: "(document)", line: key.mark?.line, message: "a key that is a list or mapping; keys must be plain names")
        }
        return node
    }

    /// The document as plain values (`[String: Any]`, `[Any]`, `String`, `Int`, …), or nil when empty.
    /// - Throws: as ``compose(_:file:)``.
    public static func load(_ text: String, file: String?) throws(ConfigError) -> Any? {
        try compose(text, file: file).map { Constructor.default.any(from: $0) }
    }

    /// libyaml's message quotes the offending line, which in a crafted file can be megabytes long.
    static func shortened(_ message: String, limit: Int = 600) -> String {
        message.count <= limit ? message : message.prefix(limit) + " …"
    }

    /// One walk over the expanded document: the node count with every alias expanded (counting no
    /// further than `limit + 1`), and the first mapping key that is not a scalar.
    package static func walk(_ root: Node, limit: Int) -> (count: Int, nonScalarKey: Node?) {
        var count = 0
        var nonScalarKey: Node?
        var pending = [root]
        while let node = pending.popLast() {
            count += 1
            if count > limit { break }
            switch node {
            case .mapping(let mapping):
                for (key, value) in mapping {
                    if key.scalar == nil, nonScalarKey == nil { nonScalarKey = key }
                    pending.append(key)
                    pending.append(value)
                }
            case .sequence(let sequence):
                pending.append(contentsOf: sequence)
            default:
                break  // a scalar; parsed documents have no unresolved aliases
            }
        }
        return (count, nonScalarKey)
    }
}
