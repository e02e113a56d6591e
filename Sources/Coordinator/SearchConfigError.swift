/// A problem in a search config file, naming the file, the key (dotted path, `objectives[1].energy`)
/// and the line where known.
public struct SearchConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var key: String
    public var line: Int?
    public var message: String

    public init(file: String, key: String, line: Int? = nil, message: String) {
        self.file = file
        self.key = key
        self.line = line
        self.message = message
    }

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return "\(location): \(key.isEmpty ? "(document)" : key): \(message)"
    }
}
