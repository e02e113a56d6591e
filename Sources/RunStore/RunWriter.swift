import Foundation
import GRDB
import QuantConfig
import Search
import Wire

/// Typed writes to a run database, all inside the transaction of one ``RunStore/write(_:)``.
///
/// - Warning: Valid only inside the closure that received it.
public struct RunWriter {
    let db: Database
    let path: String

    func insertMetadata(_ metadata: RunMetadata) throws {
        try db.execute(
            sql: """
                INSERT INTO run (id, name, config_yaml, settings_json, seed, tool_version, dataset_fingerprint, checkpoint_hash, created_at, study_json)
                VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                metadata.name, metadata.configYAML, try JSONText.encode(metadata.settings), String(metadata.seed), metadata.toolVersion,
                metadata.datasetFingerprint, metadata.checkpointHash, metadata.createdAt.timeIntervalSince1970, metadata.studyJSON,
            ])
    }

    /// Starts a coordinator session (a process lifetime); returns its id for ``touchSession(_:at:)``.
    public func beginSession(at time: Date) throws -> Int64 {
        try db.execute(
            sql: "INSERT INTO session (started_at, last_active_at, tool_version) VALUES (?, ?, ?)",
            arguments: [time.timeIntervalSince1970, time.timeIntervalSince1970, SpikeQuantVersion.string])
        return db.lastInsertedRowID
    }

    /// Extends a session to `time`; after a crash, the session counts up to its last touch.
    public func touchSession(_ id: Int64, at time: Date) throws {
        try db.execute(
            sql: "UPDATE session SET last_active_at = max(last_active_at, ?) WHERE id = ?", arguments: [time.timeIntervalSince1970, id])
    }

    /// Adds a candidate in state `pending`; returns its id.
    ///
    /// Fails (a UNIQUE violation) if the configuration hash is already in the run: no configuration
    /// is ever stored, or evaluated, twice.
    public func insertCandidate(_ candidate: NewCandidate) throws -> Int64 {
        try db.execute(
            sql: """
                INSERT INTO candidate (config_hash, config_json, origin, parents_json, status, attempts, created_at)
                VALUES (?, ?, ?, ?, 'pending', 0, ?)
                """,
            arguments: [
                candidate.configHash, String(decoding: candidate.config.canonicalJSON, as: UTF8.self), candidate.origin.rawValue,
                try JSONText.encode(candidate.parents), candidate.createdAt.timeIntervalSince1970,
            ])
        return db.lastInsertedRowID
    }

    /// Sets a candidate's status; `finishedAt` and `reason` are stored as given (nil clears them).
    public func setCandidateStatus(_ id: Int64, _ status: CandidateStatus, reason: String? = nil, finishedAt: Date? = nil) throws {
        try db.execute(
            sql: "UPDATE candidate SET status = ?, reason = ?, finished_at = ? WHERE id = ?",
            arguments: [status.rawValue, reason, finishedAt?.timeIntervalSince1970, id])
        try requireChange("candidate \(id)")
    }

    /// Records a dispatch: attempt `number` of `candidateId` on `worker`, state `running`; the
    /// candidate becomes `running` with `attempts = number`.
    public func insertAttempt(candidateId: Int64, number: Int, worker: String, seed: UInt64, rung: Int = 0, at time: Date) throws {
        try db.execute(
            sql: """
                INSERT INTO attempt (candidate_id, number, worker, seed, dispatched_at, state, rung)
                VALUES (?, ?, ?, ?, ?, 'running', ?)
                """,
            arguments: [candidateId, number, worker, String(seed), time.timeIntervalSince1970, rung])
        try db.execute(
            sql: "UPDATE candidate SET status = 'running', attempts = ?, reason = NULL WHERE id = ?", arguments: [number, candidateId])
        try requireChange("candidate \(candidateId)")
    }

    /// Ends an attempt (`done`, `failed`, `stale`, `rejected` or `interrupted`).
    public func finishAttempt(candidateId: Int64, number: Int, state: AttemptState, error: String? = nil, at time: Date) throws {
        try db.execute(
            sql: "UPDATE attempt SET state = ?, error = ?, finished_at = ? WHERE candidate_id = ? AND number = ?",
            arguments: [state.rawValue, error, time.timeIntervalSince1970, candidateId, number])
        try requireChange("attempt \(number) of candidate \(candidateId)")
    }

    /// Makes an ended attempt `running` again on `worker` (the worker turned out to still hold it);
    /// the candidate becomes `running`.
    public func reopenAttempt(candidateId: Int64, number: Int, worker: String) throws {
        try db.execute(
            sql: "UPDATE attempt SET state = 'running', finished_at = NULL, error = NULL, worker = ? WHERE candidate_id = ? AND number = ?",
            arguments: [worker, candidateId, number])
        try requireChange("attempt \(number) of candidate \(candidateId)")
        try db.execute(sql: "UPDATE candidate SET status = 'running', reason = NULL WHERE id = ?", arguments: [candidateId])
    }

    /// Keeps the latest PARTIAL of a running attempt (for `spikeq status`).
    public func recordProgress(_ progress: EvaluationProgress) throws {
        try db.execute(
            sql: "UPDATE attempt SET progress_json = ? WHERE candidate_id = ? AND number = ?",
            arguments: [try JSONText.encode(progress), progress.candidateId, progress.attempt])
    }

    /// Stores the accepted result of a candidate (at most one per candidate).
    public func insertResult(
        candidateId: Int64, attempt: Int, result: EvaluationResult, objectives: [Double], violations: [Double], at time: Date
    ) throws {
        let violation = violations.reduce(0) { $0 + max(0, $1) }
        try db.execute(
            sql: """
                INSERT INTO result (candidate_id, attempt, result_json, objectives_json, violations_json, violation, received_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                candidateId, attempt, try JSONText.encode(result), try JSONText.encode(objectives), try JSONText.encode(violations), violation,
                time.timeIntervalSince1970,
            ])
    }

    /// Records a result below full fidelity (a lower rung of a multi-fidelity run); a repeat for the
    /// same rung replaces it.
    public func insertRungResult(
        candidateId: Int64, rung: Int, attempt: Int, steps: Int, result: EvaluationResult, objectives: [Double], violations: [Double],
        at time: Date
    ) throws {
        let violation = violations.reduce(0) { $0 + max(0, $1) }
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO rung_result
                    (candidate_id, rung, attempt, steps, result_json, objectives_json, violations_json, violation, received_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                candidateId, rung, attempt, steps, try JSONText.encode(result), try JSONText.encode(objectives), try JSONText.encode(violations),
                violation, time.timeIntervalSince1970,
            ])
    }

    /// Records the fine-tuned FP32 reference: the base model fine-tuned with the candidates' recipe
    /// and budget, so accuracy drops compare like with like.
    public func insertReferenceResult(candidateId: Int64, attempt: Int, result: EvaluationResult, at time: Date) throws {
        try db.execute(
            sql: "INSERT OR REPLACE INTO reference_result (candidate_id, attempt, result_json, received_at) VALUES (?, ?, ?, ?)",
            arguments: [candidateId, attempt, try JSONText.encode(result), time.timeIntervalSince1970])
    }

    /// Records a final re-fine-tune (`final.reseeds`) of candidate `of`, replicate `replicate`.
    public func insertReseedResult(candidateId: Int64, attempt: Int, of: Int64, replicate: Int, result: EvaluationResult, at time: Date) throws {
        try db.execute(
            sql: "INSERT OR REPLACE INTO reseed_result (candidate_id, attempt, of_candidate, replicate, result_json, received_at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [candidateId, attempt, of, replicate, try JSONText.encode(result), time.timeIntervalSince1970])
    }

    /// Records what a supernet training job derived.
    public func insertSupernetResult(candidateId: Int64, attempt: Int, result: SupernetResult, at time: Date) throws {
        try db.execute(
            sql: "INSERT OR REPLACE INTO supernet_result (candidate_id, attempt, lambda, result_json, received_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [candidateId, attempt, result.lambda, try JSONText.encode(result), time.timeIntervalSince1970])
    }

    /// Appends to the event journal; `payload` is stored as a JSON object.
    public func appendEvent(
        _ kind: String, at time: Date, candidateId: Int64? = nil, attempt: Int? = nil, worker: String? = nil,
        payload: [String: String] = [:]
    ) throws {
        try db.execute(
            sql: "INSERT INTO event (time, kind, candidate_id, attempt, worker, payload_json) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [time.timeIntervalSince1970, kind, candidateId, attempt, worker, try JSONText.encode(payload)])
    }

    public func appendHypervolume(evaluations: Int, wallSeconds: Double, value: Double) throws {
        try db.execute(
            sql: "INSERT OR REPLACE INTO hypervolume (evaluations, wall_seconds, value) VALUES (?, ?, ?)",
            arguments: [evaluations, wallSeconds, value])
    }

    /// Saves the whole search state (population, archive, RNG). Keeps the latest snapshot and one
    /// per 100 evaluations; older non-milestone snapshots are deleted.
    public func saveSearchState(_ state: SteadyStateNSGA2, at time: Date) throws {
        try saveSearchState(json: try JSONText.encodeData(state), evaluations: state.statistics.evaluations, at: time)
    }

    /// Saves the whole search engine (NSGA-II and rung ladder), what multi-fidelity runs resume from.
    public func saveSearchState(_ engine: SearchEngine, at time: Date) throws {
        try saveSearchState(json: try JSONText.encodeData(engine), evaluations: engine.nsga2.statistics.evaluations, at: time)
    }

    private func saveSearchState(json: Data, evaluations: Int, at time: Date) throws {
        let existing = try Int.fetchOne(db, sql: "SELECT count(*) FROM search_state WHERE milestone = 1 AND evaluations = ?", arguments: [evaluations])
        let milestone = evaluations % 100 == 0 && (existing ?? 0) == 0
        try db.execute(sql: "DELETE FROM search_state WHERE milestone = 0")
        try db.execute(
            sql: "INSERT INTO search_state (evaluations, saved_at, milestone, state_json) VALUES (?, ?, ?, ?)",
            arguments: [evaluations, time.timeIntervalSince1970, milestone, json])
    }

    /// A worker announced itself (READY after connecting).
    public func workerConnected(_ name: String, at time: Date) throws {
        try db.execute(
            sql: """
                INSERT INTO worker (name, first_seen, last_seen, connects) VALUES (?, ?, ?, 1)
                ON CONFLICT(name) DO UPDATE SET last_seen = excluded.last_seen, connects = connects + 1
                """,
            arguments: [name, time.timeIntervalSince1970, time.timeIntervalSince1970])
    }

    /// Any sign of life from a worker (progress, result); creates the row if needed.
    public func workerSeen(_ name: String, at time: Date) throws {
        try db.execute(
            sql: """
                INSERT INTO worker (name, first_seen, last_seen, connects) VALUES (?, ?, ?, 0)
                ON CONFLICT(name) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)
                """,
            arguments: [name, time.timeIntervalSince1970, time.timeIntervalSince1970])
    }

    public func workerLost(_ name: String, at time: Date) throws {
        try workerSeen(name, at: time)
        try db.execute(
            sql: "UPDATE worker SET lost = lost + 1, last_lost = ? WHERE name = ?", arguments: [time.timeIntervalSince1970, name])
    }

    /// Marks a worker whose results are refused (e.g. wrong dataset), with the reason.
    public func quarantineWorker(_ name: String, reason: String, at time: Date) throws {
        try workerSeen(name, at: time)
        try db.execute(sql: "UPDATE worker SET quarantined = ? WHERE name = ?", arguments: [reason, name])
    }

    public func beginBusy(worker: String, candidateId: Int64, attempt: Int, at time: Date) throws {
        try db.execute(
            sql: "INSERT INTO worker_busy (worker, candidate_id, attempt, started_at) VALUES (?, ?, ?, ?)",
            arguments: [worker, candidateId, attempt, time.timeIntervalSince1970])
    }

    /// Closes the open busy interval of this attempt, if any.
    public func endBusy(candidateId: Int64, attempt: Int, at time: Date) throws {
        try db.execute(
            sql: "UPDATE worker_busy SET ended_at = ? WHERE candidate_id = ? AND attempt = ? AND ended_at IS NULL",
            arguments: [time.timeIntervalSince1970, candidateId, attempt])
    }

    private func requireChange(_ what: String) throws {
        if db.changesCount == 0 {
            throw RunStoreError(.notFound, path: path, "\(what) does not exist")
        }
    }
}

/// Compact JSON with sorted keys; non-finite numbers as strings, so no Double can make a write fail.
enum JSONText {
    static func encodeData<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(value)
    }

    static func encode<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encodeData(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(type, from: data)
    }
}
