import Foundation
import GRDB

/// The schema of `run.sqlite` (version 5; older files are migrated when opened). Times are Unix seconds (REAL); JSON columns hold compact
/// JSON with sorted keys; seeds are decimal TEXT (SQLite integers are signed 64-bit).
///
/// | table          | one row per                   | key columns                                                       |
/// |----------------|-------------------------------|-------------------------------------------------------------------|
/// | `run`          | the run (id = 1)              | name, config_yaml, settings_json, seed, tool_version,             |
/// |                |                               | dataset_fingerprint, checkpoint_hash, created_at, study_json      |
/// | `session`      | coordinator process lifetime  | started_at, last_active_at (active wall time = Σ of the spans)    |
/// | `candidate`    | proposed configuration        | id, config_hash UNIQUE, config_json, origin, parents_json (ids),  |
/// |                |                               | status pending/running/done/failed/stale, attempts, reason        |
/// | `attempt`      | dispatch of a candidate       | (candidate_id, number), worker, seed, dispatched_at, finished_at, |
/// |                |                               | state running/done/failed/stale/rejected/interrupted, error,      |
/// |                |                               | progress_json (latest PARTIAL), rung (v2)                         |
/// | `result`       | accepted full-fidelity result | candidate_id, attempt, result_json (EvaluationResult),            |
/// |                |                               | objectives_json (minimised), violations_json, violation           |
/// | `rung_result`  | accepted lower-rung result    | (candidate_id, rung), attempt, steps, result_json, objectives,    |
/// |                | (v2)                          | violations_json, violation, received_at                           |
/// | `reference_result` | the fine-tuned FP32 model (v2) | candidate_id, attempt, result_json, received_at                |
/// | `supernet_result` | a supernet training job's derived configuration (v4) | candidate_id, attempt, lambda, result_json (SupernetResult), received_at |
/// | `reseed_result` | a final re-fine-tune of a front member or the reference (v5) | candidate_id, attempt, of_candidate, replicate, result_json, received_at |
/// | `event`        | thing that happened           | time, kind, candidate_id, attempt, worker, payload_json           |
/// | `hypervolume`  | accepted result               | evaluations, wall_seconds, value                                  |
/// | `search_state` | latest + every 100th snapshot | evaluations, saved_at, milestone, state_json (incl. RNG state)    |
/// | `worker`       | worker seen                   | name, first_seen, last_seen, connects, lost, quarantined,         |
/// |                |                               | last_lost (v3)                                                    |
/// | `worker_busy`  | attempt on a worker           | worker, candidate_id, attempt, started_at, ended_at               |
///
/// The file is marked with `PRAGMA application_id` = 0x53514E54 ("SQNT") and `PRAGMA user_version`
/// = the schema version, so foreign or newer databases are refused with a clear message.
extension RunStore {
    public static let applicationID: Int32 = 0x5351_4E54
    public static let schemaVersion = 5

    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE run (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    name TEXT NOT NULL,
                    config_yaml TEXT NOT NULL,
                    settings_json TEXT NOT NULL,
                    seed TEXT NOT NULL,
                    tool_version TEXT NOT NULL,
                    dataset_fingerprint TEXT NOT NULL,
                    checkpoint_hash TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    study_json TEXT NOT NULL DEFAULT '{}'
                );
                CREATE TABLE session (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    started_at REAL NOT NULL,
                    last_active_at REAL NOT NULL,
                    tool_version TEXT NOT NULL
                );
                CREATE TABLE candidate (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    config_hash TEXT NOT NULL UNIQUE,
                    config_json TEXT NOT NULL,
                    origin TEXT NOT NULL CHECK (origin IN ('baseline', 'sensitivity', 'offspring', 'random')),
                    parents_json TEXT NOT NULL DEFAULT '[]',
                    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'stale')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    created_at REAL NOT NULL,
                    finished_at REAL,
                    reason TEXT
                );
                CREATE INDEX candidate_by_status ON candidate(status);
                CREATE TABLE attempt (
                    candidate_id INTEGER NOT NULL REFERENCES candidate(id),
                    number INTEGER NOT NULL CHECK (number >= 1),
                    worker TEXT NOT NULL,
                    seed TEXT NOT NULL,
                    dispatched_at REAL NOT NULL,
                    finished_at REAL,
                    state TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed', 'stale', 'rejected', 'interrupted')),
                    error TEXT,
                    progress_json TEXT,
                    PRIMARY KEY (candidate_id, number)
                );
                CREATE INDEX attempt_by_state ON attempt(state);
                CREATE TABLE result (
                    candidate_id INTEGER PRIMARY KEY REFERENCES candidate(id),
                    attempt INTEGER NOT NULL,
                    result_json TEXT NOT NULL,
                    objectives_json TEXT NOT NULL,
                    violations_json TEXT NOT NULL,
                    violation REAL NOT NULL CHECK (violation >= 0),
                    received_at REAL NOT NULL,
                    FOREIGN KEY (candidate_id, attempt) REFERENCES attempt(candidate_id, number)
                );
                CREATE TABLE event (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    time REAL NOT NULL,
                    kind TEXT NOT NULL,
                    candidate_id INTEGER,
                    attempt INTEGER,
                    worker TEXT,
                    payload_json TEXT NOT NULL DEFAULT '{}'
                );
                CREATE INDEX event_by_kind ON event(kind);
                CREATE TABLE hypervolume (
                    evaluations INTEGER PRIMARY KEY,
                    wall_seconds REAL NOT NULL,
                    value REAL NOT NULL
                );
                CREATE TABLE search_state (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    evaluations INTEGER NOT NULL,
                    saved_at REAL NOT NULL,
                    milestone INTEGER NOT NULL,
                    state_json BLOB NOT NULL
                );
                CREATE TABLE worker (
                    name TEXT PRIMARY KEY,
                    first_seen REAL NOT NULL,
                    last_seen REAL NOT NULL,
                    connects INTEGER NOT NULL DEFAULT 0,
                    lost INTEGER NOT NULL DEFAULT 0,
                    quarantined TEXT
                );
                CREATE TABLE worker_busy (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    worker TEXT NOT NULL,
                    candidate_id INTEGER NOT NULL REFERENCES candidate(id),
                    attempt INTEGER NOT NULL,
                    started_at REAL NOT NULL,
                    ended_at REAL
                );
                CREATE INDEX worker_busy_open ON worker_busy(worker, candidate_id, attempt);
                """)
            try db.execute(sql: "PRAGMA application_id = \(applicationID)")
            try db.execute(sql: "PRAGMA user_version = 1")
        }
        // v2: multi-fidelity runs. Candidates of any origin (knapsack and supernet seeds, the FP32
        // reference; the origin is checked in Swift); attempts carry their rung; results at rungs
        // below full fidelity live in `rung_result` (`result` keeps full-fidelity results only, so the
        // front, the report and export read full-fidelity results without a filter).
        migrator.registerMigration("v2") { db in
            try db.execute(sql: """
                CREATE TABLE candidate_v2 (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    config_hash TEXT NOT NULL UNIQUE,
                    config_json TEXT NOT NULL,
                    origin TEXT NOT NULL,
                    parents_json TEXT NOT NULL DEFAULT '[]',
                    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'stale')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    created_at REAL NOT NULL,
                    finished_at REAL,
                    reason TEXT
                );
                INSERT INTO candidate_v2 SELECT id, config_hash, config_json, origin, parents_json, status, attempts, created_at, finished_at, reason FROM candidate;
                DROP TABLE candidate;
                ALTER TABLE candidate_v2 RENAME TO candidate;
                CREATE INDEX candidate_by_status ON candidate(status);
                ALTER TABLE attempt ADD COLUMN rung INTEGER NOT NULL DEFAULT 0 CHECK (rung >= 0);
                CREATE TABLE rung_result (
                    candidate_id INTEGER NOT NULL REFERENCES candidate(id),
                    rung INTEGER NOT NULL CHECK (rung >= 0),
                    attempt INTEGER NOT NULL,
                    steps INTEGER NOT NULL,
                    result_json TEXT NOT NULL,
                    objectives_json TEXT NOT NULL,
                    violations_json TEXT NOT NULL,
                    violation REAL NOT NULL CHECK (violation >= 0),
                    received_at REAL NOT NULL,
                    PRIMARY KEY (candidate_id, rung),
                    FOREIGN KEY (candidate_id, attempt) REFERENCES attempt(candidate_id, number)
                );
                CREATE TABLE reference_result (
                    candidate_id INTEGER PRIMARY KEY REFERENCES candidate(id),
                    attempt INTEGER NOT NULL,
                    result_json TEXT NOT NULL,
                    received_at REAL NOT NULL,
                    FOREIGN KEY (candidate_id, attempt) REFERENCES attempt(candidate_id, number)
                );
                """)
            try db.execute(sql: "PRAGMA user_version = 2")
        }
        // v3: when a worker was last lost, so a reader (the dashboard) can tell a lost worker from an
        // idle one: lost while `last_lost` ≥ `last_seen`, until it connects again.
        migrator.registerMigration("v3") { db in
            try db.execute(sql: "ALTER TABLE worker ADD COLUMN last_lost REAL")
            try db.execute(sql: "PRAGMA user_version = 3")
        }
        // v4: the gumbel and hybrid strategies' supernet training jobs (candidate rows of origin
        // `supernet-training`) and what each derived.
        migrator.registerMigration("v4") { db in
            try db.execute(
                sql: """
                    CREATE TABLE supernet_result (
                        candidate_id INTEGER PRIMARY KEY REFERENCES candidate(id),
                        attempt INTEGER NOT NULL,
                        lambda REAL NOT NULL,
                        result_json TEXT NOT NULL,
                        received_at REAL NOT NULL,
                        FOREIGN KEY (candidate_id, attempt) REFERENCES attempt(candidate_id, number)
                    );
                    PRAGMA user_version = 4;
                    """)
        }
        // v5: `final.reseeds`, the front and the fine-tuned reference fine-tuned again with more
        // seeds after the budget (candidate rows of origin `reseed`, parent = the model re-tuned).
        migrator.registerMigration("v5") { db in
            try db.execute(
                sql: """
                    CREATE TABLE reseed_result (
                        candidate_id INTEGER PRIMARY KEY REFERENCES candidate(id),
                        attempt INTEGER NOT NULL,
                        of_candidate INTEGER NOT NULL REFERENCES candidate(id),
                        replicate INTEGER NOT NULL CHECK (replicate >= 1),
                        result_json TEXT NOT NULL,
                        received_at REAL NOT NULL,
                        FOREIGN KEY (candidate_id, attempt) REFERENCES attempt(candidate_id, number)
                    );
                    PRAGMA user_version = 5;
                    """)
        }
        return migrator
    }()

    /// Refuses files that are not SQLite, SQLite databases of other tools, and newer schemas, before
    /// anything (even the WAL switch) writes to them.
    static func checkIdentity(_ url: URL) throws {
        var configuration = Configuration()
        configuration.readonly = true
        let identity: (application: Int32, version: Int, tables: Int)
        do {
            let probe = try DatabaseQueue(path: url.path, configuration: configuration)
            identity = try probe.read { db in
                (
                    Int32(try Int.fetchOne(db, sql: "PRAGMA application_id") ?? 0),
                    try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0,
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0
                )
            }
            try probe.close()
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            throw RunStoreError(.notRunDatabase, path: url.path, "not an SQLite database")
        } catch let error as DatabaseError {
            throw RunStoreError(.database, path: url.path, "cannot read: \(error.message ?? "\(error)")")
        }
        guard identity.application == applicationID else {
            let what = identity.tables == 0 ? "an empty SQLite file" : String(format: "an SQLite database of another tool (application_id 0x%08X)", identity.application)
            throw RunStoreError(.notRunDatabase, path: url.path, "not a SpikeQuant run database: \(what)")
        }
        guard identity.version <= schemaVersion else {
            throw RunStoreError(
                .newerSchema, path: url.path, "written by a newer SpikeQuant (schema \(identity.version), this build reads up to \(schemaVersion))")
        }
    }
}
