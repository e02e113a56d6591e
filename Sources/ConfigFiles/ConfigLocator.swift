import Yams

/// Finds the line of a dotted key path (`frames.steps`, `synthetic.speed[1]`,
/// `layers.blocks.0.attn.q.linear`) in a YAML text, so that config readers that work on plain
/// values can still name the line in their ``ConfigError``s.
///
/// Keys may themselves contain dots (layer names do): at each mapping the longest key that matches
/// the rest of the path wins. A path that does not lead anywhere (a missing key) has no line.
public struct ConfigLocator {
    private let root: Node?

    /// Composes `text` once; a text that is not YAML gives a locator that knows no lines.
    public init(_ text: String) {
        root = (try? Yams.compose(yaml: text)) ?? nil
    }

    /// The 1-based line where `key` starts, or nil.
    public func line(of key: String) -> Int? {
        guard var node = root, !key.isEmpty, !key.hasPrefix("(") else { return nil }
        var rest = Substring(key)
        var line: Int?
        while !rest.isEmpty {
            if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]"), let index = Int(rest[rest.index(after: rest.startIndex)..<close]),
                    let sequence = node.sequence, sequence.indices.contains(index)
                else { return nil }
                node = sequence[index]
                line = node.mark?.line
                rest = rest[rest.index(after: close)...]
            } else {
                if rest.hasPrefix(".") { rest = rest.dropFirst() }
                guard let mapping = node.mapping else { return nil }
                var best: (length: Int, key: Node, value: Node)?
                for (keyNode, value) in mapping {
                    guard let name = keyNode.string, rest.hasPrefix(name) else { continue }
                    let after = rest.dropFirst(name.count)
                    guard after.isEmpty || after.hasPrefix(".") || after.hasPrefix("[") else { continue }
                    if name.count > (best?.length ?? -1) { best = (name.count, keyNode, value) }
                }
                guard let best else { return nil }
                node = best.value
                line = best.key.mark?.line
                rest = rest.dropFirst(best.length)
            }
        }
        return line
    }
}

extension ConfigError {
    /// Runs a reader of `text` and fills in the line of any ``ConfigError`` it throws (the text is
    /// composed again only then, so a good file costs nothing extra).
    public static func addingLines<T, E: Error>(from text: String, _ read: () throws(E) -> T) throws(E) -> T {
        do {
            return try read()
        } catch {
            if let configError = error as? ConfigError, let located = configError.locating(in: ConfigLocator(text)) as? E { throw located }
            throw error
        }
    }

    /// The same error with its line filled in from `text` when the reader did not know it.
    public func locating(in locator: ConfigLocator) -> ConfigError {
        guard line == nil, let found = locator.line(of: key) else { return self }
        var copy = self
        copy.line = found
        return copy
    }
}
