import Crypto
import Foundation

/// SHA-256 of files, read in chunks so large checkpoints are never held in memory whole.
public enum FileDigest {
    /// Lowercase hex SHA-256 of the file's bytes, and its size.
    public static func sha256(of url: URL, chunkBytes: Int = 4 << 20) throws -> (hex: String, bytes: Int) {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = SHA256()
        var total = 0
        while let chunk = try handle.read(upToCount: chunkBytes), !chunk.isEmpty {
            hasher.update(data: chunk)
            total += chunk.count
        }
        return (hex(hasher.finalize()), total)
    }

    static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `text` is a lowercase hex SHA-256 (64 characters of 0-9a-f), the only form used as a name.
    public static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}
