import Threading
import Foundation
import Transport
import Wire
import ContentHash

/// The content-addressed files the broker serves through `spikeq.artifact` (the FP32 base checkpoint),
/// keyed by SHA-256. Thread-safe: the owner adds files while the broker thread serves them.
public final class ArtifactCatalog: Sendable {
    private let files = Locked<[String: (url: URL, bytes: Int)]>([:])

    public init() {}

    /// Hashes the file and makes it available under its SHA-256.
    ///
    /// - Returns: The reference to put in ``EvaluationRequest/baseCheckpoint``.
    @discardableResult
    public func add(fileAt url: URL, name: String? = nil) throws -> ArtifactReference {
        let (hex, bytes) = try ContentHash.sha256(fileAt: url)
        files.withLock { $0[hex] = (url, bytes) }
        return ArtifactReference(sha256: hex, bytes: bytes, name: name ?? url.lastPathComponent)
    }

    /// Makes a file available under a hash the caller already verified (a run directory's checkpoint
    /// whose hash is recorded), without re-reading it.
    public func register(_ reference: ArtifactReference, at url: URL) {
        files.withLock { $0[reference.sha256] = (url, reference.bytes) }
    }

    func lookup(_ sha256: String) -> (url: URL, bytes: Int)? {
        files.withLock { $0[sha256] }
    }

    public var count: Int { files.withLock { $0.count } }
}
