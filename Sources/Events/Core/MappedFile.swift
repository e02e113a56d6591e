#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file.
///
/// Readers decode straight from the mapped bytes, so a file is never copied into a buffer first, and
/// the frame cache is shared between processes through the page cache.
///
/// - Important: The bytes are valid only while this object lives; never let a pointer from
///   ``withBytes(_:)`` escape.
// @unchecked Sendable: the mapping is read-only (PROT_READ) and `base`/`count` never change after
// init, so concurrent readers cannot race; munmap happens only in deinit, when no reader is left.
public final class MappedFile: @unchecked Sendable {
    private let base: UnsafeMutableRawPointer?
    /// Size of the file in bytes.
    public let count: Int
    /// The path the file was opened from (for error messages).
    public let path: String

    /// Maps `path` read-only.
    ///
    /// - Throws: ``EventDataError`` with code `.unreadable` or `.missingFile`.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code: EventDataError.Code = errno == ENOENT ? .missingFile : .unreadable
            throw EventDataError(code, file: path, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw EventDataError(.unreadable, file: path, message: "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw EventDataError(.unreadable, file: path, message: "not a regular file")
        }
        count = Int(info.st_size)
        if count == 0 {
            base = nil
            return
        }
        let mapped = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw EventDataError(.unreadable, file: path, message: "cannot map: \(String(cString: strerror(errno)))")
        }
        #if canImport(Glibc)
        _ = madvise(mapped, count, MADV_WILLNEED)
        #endif
        base = mapped
    }

    deinit {
        if let base { munmap(base, count) }
    }

    /// Calls `body` with the file's bytes.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base.map { UnsafeRawPointer($0) }, count: count))
    }
}
