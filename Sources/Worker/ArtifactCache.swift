import Threading
import ContentHash
import Foundation
import Transport
public import Wire

/// A disk cache of content-addressed artifacts: `<directory>/artifacts/sha256/<hash>`.
///
/// A cached file is trusted only after its SHA-256 matched once in this process (remembered with its
/// size and modification time); a file that fails the check is deleted, so it is fetched again.
/// Files are written under a temporary name and renamed into place, so concurrent workers sharing a
/// cache never see a partial file.
public final class ArtifactCache: Sendable {
    public let directory: URL
    private let verified = Locked<[String: String]>([:])

    public init(directory: URL) {
        self.directory = directory.appendingPathComponent("artifacts/sha256", isDirectory: true)
    }

    /// Where the artifact lives when cached.
    public func path(for reference: ArtifactReference) -> URL {
        directory.appendingPathComponent(reference.sha256)
    }

    /// The cached file if present and intact; deletes a corrupt one.
    ///
    /// - Returns: The path, or nil when the artifact must be fetched.
    public func cachedFile(for reference: ArtifactReference) throws -> URL? {
        let url = path(for: reference)
        guard let stamp = Self.stamp(of: url) else { return nil }
        if verified.withLock({ $0[reference.sha256] == stamp }) { return url }
        let (hex, bytes) = try ContentHash.sha256(fileAt: url)
        guard hex == reference.sha256, bytes == reference.bytes else {
            try? FileManager.default.removeItem(at: url)
            throw CorruptCacheEntry(path: url.path, expected: reference.sha256, actual: hex)
        }
        verified.withLock { $0[reference.sha256] = stamp }
        return url
    }

    /// A cached file whose hash did not match; it has been deleted.
    public struct CorruptCacheEntry: Error, CustomStringConvertible {
        public var path: String
        public var expected: String
        public var actual: String
        public var description: String { "cached \(path) has SHA-256 \(actual), expected \(expected); deleted" }
    }

    /// A fresh temporary file in the cache directory, for a download in progress.
    func temporaryFile(for reference: ArtifactReference) throws -> URL {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let name = ".\(reference.sha256).\(ProcessInfo.processInfo.processIdentifier).\(UInt32.random(in: 0...UInt32.max)).partial"
        let url = directory.appendingPathComponent(name)
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw EvaluationFailure(kind: .checkpoint, message: "cannot create \(url.path)")
        }
        return url
    }

    /// Moves a verified download into place.
    func commit(_ temporary: URL, for reference: ArtifactReference) throws -> URL {
        let destination = path(for: reference)
        if rename(temporary.path, destination.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw EvaluationFailure(kind: .checkpoint, message: "cannot move the download to \(destination.path): \(reason)")
        }
        if let stamp = Self.stamp(of: destination) { verified.withLock { $0[reference.sha256] = stamp } }
        return destination
    }

    private static func stamp(of url: URL) -> String? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path) else { return nil }
        let size = (attributes[.size] as? NSNumber)?.intValue ?? -1
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "\(size)|\(modified)"
    }
}
