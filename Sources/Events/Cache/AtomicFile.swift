import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Whole-file writes that readers never see half done: write a temporary file in the same directory,
/// fsync it, then rename it over the target (rename is atomic within a filesystem).
enum AtomicFile {
    static func write(_ bytes: [UInt8], to path: String) throws {
        let writer = try TemporaryFileWriter(finalPath: path)
        try writer.append(bytes)
        try writer.commit()
    }
}

/// Streams bytes into `<final>.tmp.<pid>.<random>` and renames it into place on ``commit()``; the
/// temporary file is removed if the writer is dropped without committing.
final class TemporaryFileWriter {
    let finalPath: String
    let temporaryPath: String
    private var fd: Int32
    private(set) var offset = 0
    private var committed = false

    init(finalPath: String) throws {
        self.finalPath = finalPath
        let directory = (finalPath as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw EventDataError(.unreadable, file: directory, message: "cannot create directory: \(error.localizedDescription)")
        }
        temporaryPath = "\(finalPath).tmp.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw EventDataError(.unreadable, file: temporaryPath, message: "cannot create: \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed { unlink(temporaryPath) }
    }

    func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw EventDataError(.unreadable, file: temporaryPath, message: "write failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        offset += bytes.count
    }

    /// Pads with zeros to a multiple of `alignment`.
    func pad(to alignment: Int) throws {
        let extra = (alignment - offset % alignment) % alignment
        if extra > 0 { try append([UInt8](repeating: 0, count: extra)) }
    }

    /// Overwrites bytes at an earlier position (header fields known only at the end).
    func overwrite(_ bytes: [UInt8], at position: Int) throws {
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(position)) }
        guard n == bytes.count else {
            throw EventDataError(.unreadable, file: temporaryPath, message: "write failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Flushes to disk and renames over the final path.
    func commit() throws {
        guard fsync(fd) == 0 else {
            throw EventDataError(.unreadable, file: temporaryPath, message: "fsync failed: \(String(cString: strerror(errno)))")
        }
        close(fd)
        fd = -1
        guard rename(temporaryPath, finalPath) == 0 else {
            throw EventDataError(.unreadable, file: finalPath, message: "rename failed: \(String(cString: strerror(errno)))")
        }
        committed = true
    }
}

/// An exclusive advisory lock on a file (`flock`), held until ``unlock()`` or deinit. Two local workers
/// preparing the same dataset take turns: the second finds the first one's finished cache.
final class FileLock {
    private var fd: Int32

    /// Takes the lock, calling `waiting` first if another process holds it.
    init(path: String, waiting: () -> Void = {}) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw EventDataError(.unreadable, file: path, message: "cannot open lock file: \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return }
        waiting()
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let reason = String(cString: strerror(errno))
            close(fd)
            throw EventDataError(.unreadable, file: path, message: "cannot lock: \(reason)")
        }
    }

    func unlock() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { unlock() }
}
