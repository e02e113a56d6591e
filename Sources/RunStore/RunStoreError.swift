/// A problem with a run directory or its database, naming the file.
public struct RunStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        /// There is no run database at the path.
        case missing
        /// `create` found an existing run.
        case exists
        /// The file is not SQLite, or SQLite from another tool.
        case notRunDatabase
        /// The schema is newer than this build understands.
        case newerSchema
        /// The file is damaged, or a row does not decode.
        case corrupt
        /// A file-system problem around the database.
        case io
        /// Any other SQLite error.
        case database
        /// A row the caller named does not exist.
        case notFound
    }

    public var code: Code
    public var path: String
    public var message: String

    public init(_ code: Code, path: String, _ message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
