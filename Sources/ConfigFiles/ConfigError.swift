// ConfigFiles
//
// The one error type of every config file the tool reads (search, dataset, model, energy table,
// quantization config): a user fixing a file wants the same shape of message from all of them.

/// A problem in a config file: the file (when it came from one), the key as a dotted path
/// (`objectives[1].energy`, `(document)` for the whole file), the line and layer where known, and
/// what is wrong.
public struct ConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String?
    public var key: String
    public var line: Int?
    public var layer: String?
    public var message: String

    public init(file: String? = nil, key: String, line: Int? = nil, layer: String? = nil, message: String) {
        self.file = file
        self.key = key
        self.line = line
        self.layer = layer
        self.message = message
    }

    /// `file:line: key: message`; the parts that are not known are left out.
    public var description: String {
        let location = file.map { file in line.map { "\(file):\($0): " } ?? "\(file): " } ?? ""
        return location + "\(key.isEmpty ? "(document)" : key): \(message)"
    }
}
