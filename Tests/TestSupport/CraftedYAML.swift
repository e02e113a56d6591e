/// YAML texts built to trap config readers.
public enum CraftedYAML {
    /// An alias bomb under `key`: `levels` anchored sequences, each of ten aliases of the one before,
    /// so a few hundred bytes expand to 10^`levels` scalars when read into values.
    public static func aliasBomb(levels: Int, key: String = "bomb") -> String {
        var lines = ["\(key)0: &\(key)0 [x, x, x, x, x, x, x, x, x, x]"]
        for level in 1..<levels {
            let previous = Array(repeating: "*\(key)\(level - 1)", count: 10).joined(separator: ", ")
            lines.append("\(key)\(level): &\(key)\(level) [\(previous)]")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
