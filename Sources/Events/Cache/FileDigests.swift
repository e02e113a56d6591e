import ContentHash
import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The identity of one input file in the dataset fingerprint.
struct FileDigest: Hashable, Sendable {
    var size: Int64
    /// Lowercase hex SHA-256 of the contents; nil when the file is missing.
    var sha256: String?
}

/// Content hashes of a dataset's files, memoised by (path, size, mtime).
///
/// The fingerprint must be equal on every worker that has the same data, wherever and whenever it was
/// copied, so it is built from content hashes, not modification times. Hashing gigabytes on every start
/// would be slow, so the hashes are remembered in `<cache>/digests/<hash of root>.tsv` together with each
/// file's size and mtime (the way git's index avoids rehashing): a later run stats the files and
/// rehashes only those whose size or mtime changed. A file edited in place within the same
/// nanosecond-resolution mtime and size would go unnoticed; that is the usual trade-off of such indexes.
enum FileDigests {
    struct Stat: Hashable {
        var size: Int64
        var mtimeSeconds: Int64
        var mtimeNanoseconds: Int64
    }

    /// Digests of `files` (relative to `root`), hashing in parallel on `threads` threads.
    static func compute(
        root: String, files: [String], cacheDirectory: String, threads: Int, progress: @escaping @Sendable (Int, Int) -> Void
    ) throws -> [FileDigest] {
        let memoPath = "\(cacheDirectory)/digests/\(ContentHash.sha256(root).prefix(24)).tsv"
        let memo = loadMemo(memoPath)
        let stats = files.map { fileStat("\(root)/\($0)") }
        var results = [FileDigest?](repeating: nil, count: files.count)
        var pending: [Int] = []
        for (i, file) in files.enumerated() {
            guard let s = stats[i] else {
                results[i] = FileDigest(size: -1, sha256: nil)
                continue
            }
            if let known = memo[file], known.stat == s {
                results[i] = FileDigest(size: s.size, sha256: known.sha256)
            } else {
                pending.append(i)
            }
        }
        if !pending.isEmpty {
            let pending = pending
            let counter = ProgressCounter(total: pending.count, report: progress)
            let hashed: [Result<String, any Error>] = Parallel.map(pending.count, threads: threads) { k in
                defer { counter.advance() }
                let path = "\(root)/\(files[pending[k]])"
                return Result { try hashFile(path) }
            }
            for (k, i) in pending.enumerated() {
                switch hashed[k] {
                case .success(let digest): results[i] = FileDigest(size: stats[i]!.size, sha256: digest)
                case .failure: results[i] = FileDigest(size: stats[i]!.size, sha256: nil)
                }
            }
            var updated = memo
            for i in pending {
                if let s = stats[i], let digest = results[i]?.sha256 { updated[files[i]] = (s, digest) }
            }
            saveMemo(updated, to: memoPath)
        }
        return results.map { $0! }
    }

    /// Size and modification time of a regular file (nil if missing or not a regular file).
    static func fileStat(_ path: String) -> Stat? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = Glibc.stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Stat(size: Int64(info.st_size), mtimeSeconds: Int64(info.st_mtim.tv_sec), mtimeNanoseconds: Int64(info.st_mtim.tv_nsec))
    }

    static func hashFile(_ path: String) throws -> String {
        let file = try MappedFile(path: path)
        return file.withBytes { bytes in
            var hasher = SHA256()
            var offset = 0
            while offset < bytes.count {
                let end = min(bytes.count, offset + (8 << 20))
                hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
                offset = end
            }
            return ContentHash.hex(hasher.finalize())
        }
    }

    // MARK: memo file: path \t size \t mtime_s \t mtime_ns \t sha256

    static func loadMemo(_ path: String) -> [String: (stat: Stat, sha256: String)] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var memo: [String: (stat: Stat, sha256: String)] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 5, let size = Int64(fields[1]), let seconds = Int64(fields[2]), let nanos = Int64(fields[3]),
                fields[4].count == 64
            else { continue }
            memo[String(fields[0])] = (Stat(size: size, mtimeSeconds: seconds, mtimeNanoseconds: nanos), String(fields[4]))
        }
        return memo
    }

    /// Best effort: a memo that cannot be written only costs rehashing next time.
    static func saveMemo(_ memo: [String: (stat: Stat, sha256: String)], to path: String) {
        var text = ""
        for key in memo.keys.sorted() {
            let entry = memo[key]!
            text += "\(key)\t\(entry.stat.size)\t\(entry.stat.mtimeSeconds)\t\(entry.stat.mtimeNanoseconds)\t\(entry.sha256)\n"
        }
        try? AtomicFile.write(Array(text.utf8), to: path)
    }
}

