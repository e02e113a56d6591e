public import Crypto
public import Foundation

/// Lowercase hex SHA-256: SpikeQuant's one content hash (configurations, checkpoints, packed models,
/// cache keys, supernet jobs). One formatter, so every hash in a run directory, on the wire and in the
/// logs has the same form, and ``isSHA256(_:)`` is the one check of a hash that came from outside.
public enum ContentHash {
    /// The hash of `data`.
    public static func sha256(_ data: some DataProtocol) -> String {
        hex(SHA256.hash(data: data))
    }

    /// The hash of `text`'s UTF-8 bytes.
    public static func sha256(_ text: String) -> String {
        sha256(Data(text.utf8))
    }

    /// The hash of a file's bytes and its size, read in chunks so a large checkpoint is never held in
    /// memory whole.
    public static func sha256(fileAt url: URL, chunkBytes: Int = 4 << 20) throws -> (hex: String, bytes: Int) {
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

    /// Lowercase hex of any bytes (a digest, or a prefix of one).
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `text` is a lowercase hex SHA-256 (64 characters of 0-9a-f), the only form used as a name.
    public static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}
