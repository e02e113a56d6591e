/// The `spikeq.artifact` service: a worker without a shared filesystem fetches a content-addressed
/// file (the FP32 base checkpoint) from the broker, one chunk per MDP/Client REQUEST.
///
/// Request body: one JSON frame, ``ArtifactChunkRequest``. Reply: one FINAL whose body is a JSON
/// ``ArtifactChunkReply`` frame followed, when the reply has no error, by one frame of raw bytes
/// (`length` bytes starting at `offset`). The client verifies the SHA-256 of the whole file.
public struct ArtifactChunkRequest: Codable, Hashable, Sendable {
    public static let currentSchema = "spikeq.artifact/1"

    public var schema: String
    /// Lowercase hex SHA-256 of the whole file.
    public var sha256: String
    /// First byte wanted.
    public var offset: Int
    /// Bytes wanted; the broker may return fewer (at the end of the file, or its chunk limit).
    public var length: Int

    public init(sha256: String, offset: Int, length: Int) {
        self.schema = Self.currentSchema
        self.sha256 = sha256
        self.offset = offset
        self.length = length
    }
}

/// The header frame of a chunk reply.
public struct ArtifactChunkReply: Codable, Hashable, Sendable {
    public var schema: String
    public var sha256: String
    public var offset: Int
    /// Bytes in the data frame that follows (0 with an error).
    public var length: Int
    /// Size of the whole file.
    public var totalBytes: Int
    /// Set when the request could not be served; no data frame follows.
    public var error: ServiceError?

    public init(sha256: String, offset: Int, length: Int, totalBytes: Int, error: ServiceError? = nil) {
        self.schema = ArtifactChunkRequest.currentSchema
        self.sha256 = sha256
        self.offset = offset
        self.length = length
        self.totalBytes = totalBytes
        self.error = error
    }
}

/// Why the broker refused an MDP/Client request (for `spikeq.artifact`, or for a service it does not
/// serve, in which case the FINAL body is one JSON frame ``ServiceErrorReply``).
public struct ServiceError: Codable, Hashable, Sendable, Error, CustomStringConvertible {
    /// `.notFound`, `.badRange`, `.badRequest` (undecodable body, unknown schema), `.io`,
    /// `.unknownService`.
    public var kind: FailureKind
    public var message: String

    public init(kind: FailureKind, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind): \(message)" }
}

/// The FINAL body the broker sends a client whose REQUEST named a service it does not serve to clients.
public struct ServiceErrorReply: Codable, Hashable, Sendable {
    public var error: ServiceError

    public init(error: ServiceError) {
        self.error = error
    }
}
