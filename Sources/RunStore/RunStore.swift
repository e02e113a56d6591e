// RunStore
//
// The run directory and its SQLite database (GRDB): candidates, attempts, results, events, hypervolume
// history and RNG state, written transactionally.
//
// Files:
//   RunDirectory.swift       the file names of a run directory
//   RunStore.swift           the store: create, open (with checks), transactions
//   RunStore+Schema.swift    tables (the schema is documented there), application id, version
//   RunRecords.swift         the public record types
//   RunWriter.swift          typed writes, valid inside one transaction
//   RunStore+Reads.swift     typed reads
//   RunStore+Summary.swift   the Pareto front and the status summary
//   RunStoreError.swift      errors naming the file and what is wrong
import Foundation
import GRDB

/// A run's directory (`runs/NAME/`) and its database `run.sqlite`.
///
/// The database is in WAL mode, so `spikeq status` and `spikeq pareto` can read while a coordinator
/// writes. Every change the coordinator makes goes through ``write(_:)``, one SQLite transaction, so a
/// crash (even `kill -9`) leaves the database at the last completed step.
///
/// - Important: One writing process per run. Readers may be many.
public final class RunStore: Sendable {
    public let directory: URL
    public let databaseURL: URL
    let queue: DatabaseQueue

    private init(directory: URL, queue: DatabaseQueue) {
        self.directory = directory
        self.databaseURL = RunDirectory(directory).database
        self.queue = queue
    }

    /// Creates a new run: the directory (if needed), `search.yaml` and `run.sqlite` with its metadata.
    ///
    /// - Throws: ``RunStoreError`` with code `exists` when the directory already holds a run.
    public static func create(at directory: URL, metadata: RunMetadata) throws -> RunStore {
        let database = RunDirectory(directory).database
        if FileManager.default.fileExists(atPath: database.path) {
            throw RunStoreError(.exists, path: database.path, "a run already exists here (resume it, or choose another name)")
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(metadata.configYAML.utf8).write(to: RunDirectory(directory).config, options: .atomic)
        } catch {
            throw RunStoreError(.io, path: directory.path, "cannot create the run directory: \(error.localizedDescription)")
        }
        let queue = try openQueue(database, readOnly: false)
        let store = RunStore(directory: directory, queue: queue)
        try store.guarded {
            try Self.migrator.migrate(queue)
            try queue.write { db in try RunWriter(db: db, path: database.path).insertMetadata(metadata) }
        }
        return store
    }

    /// Opens an existing run.
    ///
    /// - Parameters:
    ///   - directory: the run directory (holding `run.sqlite`).
    ///   - readOnly: for inspection commands; never writes, not even a migration.
    /// - Throws: ``RunStoreError``: `missing` (no database), `notRunDatabase` (not SQLite, or SQLite
    ///   from another tool), `newerSchema` (written by a newer SpikeQuant), `corrupt`.
    public static func open(at directory: URL, readOnly: Bool = false) throws -> RunStore {
        let database = RunDirectory(directory).database
        guard FileManager.default.fileExists(atPath: database.path) else {
            throw RunStoreError(.missing, path: database.path, "no run database (is this a run directory?)")
        }
        try checkIdentity(database)
        let queue = try openQueue(database, readOnly: readOnly)
        let store = RunStore(directory: directory, queue: queue)
        if !readOnly {
            try store.guarded { try Self.migrator.migrate(queue) }
        }
        _ = try store.metadata()
        return store
    }

    /// Runs `body` in one transaction: everything it writes is committed together or not at all.
    ///
    /// - Warning: The ``RunWriter`` is valid only inside `body`; do not let it escape.
    @discardableResult
    public func write<T>(_ body: (RunWriter) throws -> T) throws -> T {
        try guarded { try queue.write { db in try body(RunWriter(db: db, path: databaseURL.path)) } }
    }

    /// Runs `body` with a consistent read view.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try guarded { try queue.read(body) }
    }

    /// Maps GRDB's errors to ``RunStoreError`` naming this database; lets ours through.
    func guarded<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as RunStoreError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            throw RunStoreError(.notRunDatabase, path: databaseURL.path, "not an SQLite database")
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CORRUPT {
            throw RunStoreError(.corrupt, path: databaseURL.path, "the database is damaged: \(error.message ?? "\(error)")")
        } catch let error as DatabaseError {
            throw RunStoreError(.database, path: databaseURL.path, "\(error.message ?? "\(error)") [\(error.sql ?? "")]")
        } catch let error as RowDecodingError {
            // GRDB's message quotes the whole row, which can hold megabytes of JSON.
            let message = "\(error)"
            throw RunStoreError(.corrupt, path: databaseURL.path, "a value of the wrong type: \(message.prefix(300))\(message.count > 300 ? " …" : "")")
        }
    }

    private static func openQueue(_ url: URL, readOnly: Bool) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.journalMode = .wal
        // Readers in other processes (status, pareto) may briefly hold locks.
        configuration.busyMode = .timeout(10)
        configuration.label = "spikeq.run"
        do {
            return try DatabaseQueue(path: url.path, configuration: configuration)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            throw RunStoreError(.notRunDatabase, path: url.path, "not an SQLite database")
        } catch let error as DatabaseError {
            throw RunStoreError(.database, path: url.path, "cannot open: \(error.message ?? "\(error)")")
        }
    }
}
