import Foundation
import GRDB
import QuantConfig
import Search
import Statistics
import Wire

extension RunStore {
    public func metadata() throws -> RunMetadata {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM run WHERE id = 1") else {
                throw RunStoreError(.corrupt, path: databaseURL.path, "the run table is empty")
            }
            let seedText: String = try row.value("seed")
            guard let seed = UInt64(seedText) else {
                throw RunStoreError(.corrupt, path: databaseURL.path, "run.seed `\(seedText)` is not an unsigned integer")
            }
            return RunMetadata(
                name: try row.value("name"), configYAML: try row.value("config_yaml"),
                settings: try decode(RunSettings.self, (try row.value("settings_json") as String), at: "run.settings_json"), seed: seed,
                toolVersion: try row.value("tool_version"), datasetFingerprint: try row.value("dataset_fingerprint"),
                checkpointHash: try row.value("checkpoint_hash"),
                createdAt: Date(timeIntervalSince1970: try row.value("created_at")), studyJSON: try row.value("study_json"))
        }
    }

    /// Seconds the run's coordinators were active: the sum over sessions of last activity − start.
    public func activeSeconds() throws -> Double {
        try read { db in try Double.fetchOne(db, sql: "SELECT total(last_active_at - started_at) FROM session") ?? 0 }
    }

    /// Candidates in id order, optionally only those in `status`.
    public func candidates(status: CandidateStatus? = nil) throws -> [CandidateRecord] {
        try read { db in
            let rows =
                if let status {
                    try Row.fetchAll(db, sql: "SELECT * FROM candidate WHERE status = ? ORDER BY id", arguments: [status.rawValue])
                } else {
                    try Row.fetchAll(db, sql: "SELECT * FROM candidate ORDER BY id")
                }
            return try rows.map(candidate(from:))
        }
    }

    public func candidate(id: Int64) throws -> CandidateRecord? {
        try read { db in try Row.fetchOne(db, sql: "SELECT * FROM candidate WHERE id = ?", arguments: [id]).map(candidate(from:)) }
    }

    public func candidate(hash: String) throws -> CandidateRecord? {
        try read { db in try Row.fetchOne(db, sql: "SELECT * FROM candidate WHERE config_hash = ?", arguments: [hash]).map(candidate(from:)) }
    }

    /// Attempts in (candidate, number) order, optionally of one candidate or in one state.
    public func attempts(candidateId: Int64? = nil, state: AttemptState? = nil) throws -> [AttemptRecord] {
        try read { db in
            var sql = "SELECT * FROM attempt"
            var conditions: [String] = []
            var arguments = StatementArguments()
            if let candidateId {
                conditions.append("candidate_id = ?")
                arguments += [candidateId]
            }
            if let state {
                conditions.append("state = ?")
                arguments += [state.rawValue]
            }
            if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
            return try Row.fetchAll(db, sql: sql + " ORDER BY candidate_id, number", arguments: arguments).map(attempt(from:))
        }
    }

    /// Accepted results in candidate id order.
    public func results() throws -> [StoredResult] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT r.*, c.config_hash, c.origin FROM result r JOIN candidate c ON c.id = r.candidate_id ORDER BY r.candidate_id"
            ).map(result(from:))
        }
    }

    public func result(candidateId: Int64) throws -> StoredResult? {
        try read { db in
            try Row.fetchOne(
                db, sql: "SELECT r.*, c.config_hash, c.origin FROM result r JOIN candidate c ON c.id = r.candidate_id WHERE r.candidate_id = ?",
                arguments: [candidateId]
            ).map(result(from:))
        }
    }

    /// The event journal in order, optionally of one kind.
    public func events(kind: String? = nil) throws -> [RunEvent] {
        try read { db in
            let rows =
                if let kind {
                    try Row.fetchAll(db, sql: "SELECT * FROM event WHERE kind = ? ORDER BY id", arguments: [kind])
                } else {
                    try Row.fetchAll(db, sql: "SELECT * FROM event ORDER BY id")
                }
            return try rows.map { row in
                RunEvent(
                    id: try row.value("id"), time: Date(timeIntervalSince1970: try row.value("time")), kind: try row.value("kind"),
                    candidateId: try row.value("candidate_id"), attempt: try row.value("attempt"), worker: try row.value("worker"),
                    payload: try row.value("payload_json"))
            }
        }
    }

    public func hypervolumeHistory() throws -> [HypervolumeRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM hypervolume ORDER BY evaluations").map { row in
                HypervolumeRecord(evaluations: try row.value("evaluations"), wallSeconds: try row.value("wall_seconds"), value: try row.value("value"))
            }
        }
    }

    /// The most recent search snapshot, or nil before the first one.
    public func latestSearchState() throws -> SteadyStateNSGA2? {
        try latestSearchEngine(fidelity: .single(steps: 0))?.nsga2
    }

    /// The latest saved search: a ``SearchEngine``, or (runs saved before multi-fidelity) a bare
    /// NSGA-II state, wrapped in an engine with `fidelity`.
    public func latestSearchEngine(fidelity: FidelitySchedule) throws -> SearchEngine? {
        try read { db in
            guard let data = try Data.fetchOne(db, sql: "SELECT state_json FROM search_state ORDER BY id DESC LIMIT 1") else { return nil }
            if let engine = try? JSONText.decode(SearchEngine.self, from: data) { return engine }
            let nsga2 = try decode(SteadyStateNSGA2.self, data: data, at: "search_state.state_json")
            do {
                return try SearchEngine(nsga2: nsga2, fidelity: fidelity)
            } catch {
                throw RunStoreError(.corrupt, path: databaseURL.path, "search_state.state_json: \(error)")
            }
        }
    }

    /// Number of stored search snapshots (the latest plus milestones).
    public func searchStateCount() throws -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM search_state") ?? 0 }
    }

    public func workers() throws -> [WorkerRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM worker ORDER BY name").map { row in
                WorkerRecord(
                    name: try row.value("name"), firstSeen: Date(timeIntervalSince1970: try row.value("first_seen")),
                    lastSeen: Date(timeIntervalSince1970: try row.value("last_seen")),
                    connects: try row.value("connects"), lost: try row.value("lost"), quarantined: try row.value("quarantined"),
                    lastLost: (try row.value("last_lost") as Double?).map(Date.init(timeIntervalSince1970:)))
            }
        }
    }

    public func busyIntervals() throws -> [BusyInterval] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM worker_busy ORDER BY id").map { row in
                BusyInterval(
                    worker: try row.value("worker"), candidateId: try row.value("candidate_id"), attempt: try row.value("attempt"),
                    start: Date(timeIntervalSince1970: try row.value("started_at")),
                    end: (try row.value("ended_at") as Double?).map(Date.init(timeIntervalSince1970:)))
            }
        }
    }

    // MARK: - Row decoding

    private func candidate(from row: Row) throws -> CandidateRecord {
        let id: Int64 = try row.value("id")
        let originText: String = try row.value("origin")
        let statusText: String = try row.value("status")
        guard let origin = CandidateOrigin(rawValue: originText), let status = CandidateStatus(rawValue: statusText) else {
            throw RunStoreError(.corrupt, path: databaseURL.path, "candidate \(id): unknown origin `\(originText)` or status `\(statusText)`")
        }
        return CandidateRecord(
            id: id, configHash: try row.value("config_hash"),
            config: try decode(QuantizationConfig.self, (try row.value("config_json") as String), at: "candidate \(id) config_json"),
            origin: origin,
            parents: try decode([Int64].self, (try row.value("parents_json") as String), at: "candidate \(id) parents_json"),
            status: status,
            attempts: try row.value("attempts"), createdAt: Date(timeIntervalSince1970: try row.value("created_at")),
            finishedAt: (try row.value("finished_at") as Double?).map(Date.init(timeIntervalSince1970:)), reason: try row.value("reason"))
    }

    private func attempt(from row: Row) throws -> AttemptRecord {
        let candidateId: Int64 = try row.value("candidate_id")
        let number: Int = try row.value("number")
        let where_ = "attempt \(number) of candidate \(candidateId)"
        let stateText: String = try row.value("state")
        let seedText: String = try row.value("seed")
        guard let state = AttemptState(rawValue: stateText), let seed = UInt64(seedText) else {
            throw RunStoreError(.corrupt, path: databaseURL.path, "\(where_): bad state `\(stateText)` or seed `\(seedText)`")
        }
        let progressText: String? = try row.value("progress_json")
        return AttemptRecord(
            candidateId: candidateId, number: number, worker: try row.value("worker"), seed: seed,
            dispatchedAt: Date(timeIntervalSince1970: try row.value("dispatched_at")),
            finishedAt: (try row.value("finished_at") as Double?).map(Date.init(timeIntervalSince1970:)), state: state,
            error: try row.value("error"),
            progress: try progressText.map { try decode(EvaluationProgress.self, $0, at: "\(where_) progress_json") },
            rung: try row.value("rung"))
    }

    /// The fine-tuned FP32 reference's result, if the run has one.
    public func fineTunedReference() throws -> EvaluationResult? {
        try read { db in
            guard let text = try String.fetchOne(db, sql: "SELECT result_json FROM reference_result LIMIT 1") else { return nil }
            return try decode(EvaluationResult.self, text, at: "reference_result.result_json")
        }
    }

    /// Fine-tune steps of every accepted result (full fidelity, lower rungs, the fine-tuned
    /// reference, supernet trainings, final re-fine-tunes) and of a sensitivity table measured when
    /// the run was created: what the run has cost in QAT steps.
    public func qatSteps() throws -> Int {
        try read { db in
            let fineTunes =
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT COALESCE(SUM(json_extract(result_json, '$.fineTune.steps')), 0) FROM (
                            SELECT result_json FROM result UNION ALL SELECT result_json FROM rung_result
                            UNION ALL SELECT result_json FROM reference_result UNION ALL SELECT result_json FROM reseed_result)
                        """) ?? 0
            let supernets = try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(json_extract(result_json, '$.steps')), 0) FROM supernet_result") ?? 0
            return fineTunes + supernets
        } + (try metadata().settings.sensitivitySteps ?? 0)
    }

    /// The final re-fine-tunes (`final.reseeds`), by the model they re-tuned, then replicate.
    public func reseedResults() throws -> [StoredReseedResult] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM reseed_result ORDER BY of_candidate, replicate").map { row in
                let candidateId: Int64 = try row.value("candidate_id")
                return StoredReseedResult(
                    candidateId: candidateId, attempt: try row.value("attempt"), of: try row.value("of_candidate"),
                    replicate: try row.value("replicate"),
                    result: try decode(EvaluationResult.self, (try row.value("result_json") as String), at: "reseed_result \(candidateId) result_json"),
                    receivedAt: Date(timeIntervalSince1970: try row.value("received_at")))
            }
        }
    }

    /// Accuracy by split under every fine-tune seed of each re-tuned model (`final.reseeds`), by
    /// the model's candidate id (front members and the fine-tuned reference): seed 0 is the search's
    /// own result, 1…K the re-fine-tunes. Empty for runs without re-fine-tunes.
    public func accuraciesBySeed() throws -> [Int64: [Int: [String: Double]]] {
        let reseeds = try reseedResults()
        guard !reseeds.isEmpty else { return [:] }
        let searched = Dictionary(try results().map { ($0.candidateId, $0.result.accuracy) }) { first, _ in first }
        let referenceId = try candidates().first { $0.origin == .reference }?.id
        let reference = try fineTunedReference()?.accuracy
        var bySeed: [Int64: [Int: [String: Double]]] = [:]
        for stored in reseeds {
            if bySeed[stored.of] == nil {
                let own = stored.of == referenceId ? reference : searched[stored.of]
                bySeed[stored.of] = own.map { [0: $0] } ?? [:]
            }
            bySeed[stored.of]![stored.replicate] = stored.result.accuracy
        }
        return bySeed
    }

    /// Each re-tuned model's accuracy over all its seeds, by model id and split (only splits
    /// measured under at least two seeds), in seed order.
    public func accuracySpreads() throws -> [Int64: [String: Spread]] {
        try accuraciesBySeed().mapValues { seeds in
            var bySplit: [String: [Double]] = [:]
            for seed in seeds.keys.sorted() {
                for (split, value) in seeds[seed]! { bySplit[split, default: []].append(value) }
            }
            return bySplit.filter { $0.value.count > 1 }.mapValues(Spread.init)
        }
    }

    /// What each supernet training job derived, by candidate (job) id.
    public func supernetResults() throws -> [StoredSupernetResult] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM supernet_result ORDER BY lambda, candidate_id").map { row in
                let candidateId: Int64 = try row.value("candidate_id")
                return StoredSupernetResult(
                    candidateId: candidateId, attempt: try row.value("attempt"),
                    result: try decode(SupernetResult.self, (try row.value("result_json") as String), at: "supernet_result \(candidateId) result_json"),
                    receivedAt: Date(timeIntervalSince1970: try row.value("received_at")))
            }
        }
    }

    /// Results below full fidelity, by candidate and rung.
    public func rungResults() throws -> [StoredRungResult] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM rung_result ORDER BY candidate_id, rung").map { row in
                let candidateId: Int64 = try row.value("candidate_id")
                let rung: Int = try row.value("rung")
                let location = "rung_result \(candidateId)/\(rung)"
                return StoredRungResult(
                    candidateId: candidateId, rung: rung, attempt: try row.value("attempt"), steps: try row.value("steps"),
                    result: try decode(EvaluationResult.self, (try row.value("result_json") as String), at: "\(location) result_json"),
                    objectives: try decode([Double].self, (try row.value("objectives_json") as String), at: "\(location) objectives_json"),
                    violations: try decode([Double].self, (try row.value("violations_json") as String), at: "\(location) violations_json"),
                    violation: try row.value("violation"), receivedAt: Date(timeIntervalSince1970: try row.value("received_at")))
            }
        }
    }

    private func result(from row: Row) throws -> StoredResult {
        let candidateId: Int64 = try row.value("candidate_id")
        let originText: String = try row.value("origin")
        guard let origin = CandidateOrigin(rawValue: originText) else {
            throw RunStoreError(.corrupt, path: databaseURL.path, "candidate \(candidateId): unknown origin `\(originText)`")
        }
        return StoredResult(
            candidateId: candidateId, attempt: try row.value("attempt"), configHash: try row.value("config_hash"), origin: origin,
            result: try decode(EvaluationResult.self, (try row.value("result_json") as String), at: "result \(candidateId) result_json"),
            objectives: try decode([Double].self, (try row.value("objectives_json") as String), at: "result \(candidateId) objectives_json"),
            violations: try decode([Double].self, (try row.value("violations_json") as String), at: "result \(candidateId) violations_json"),
            violation: try row.value("violation"),
            receivedAt: Date(timeIntervalSince1970: try row.value("received_at")))
    }

    private func decode<T: Decodable>(_ type: T.Type, _ text: String, at location: String) throws -> T {
        try decode(type, data: Data(text.utf8), at: location)
    }

    private func decode<T: Decodable>(_ type: T.Type, data: Data, at location: String) throws -> T {
        do {
            return try JSONText.decode(type, from: data)
        } catch {
            throw RunStoreError(.corrupt, path: databaseURL.path, "\(location) does not decode: \(error)")
        }
    }
}

extension Row {
    /// The column's value, or a ``RowDecodingError`` naming the column when a damaged or crafted file
    /// holds a value of another type there (GRDB's subscript traps on one).
    func value<Value: DatabaseValueConvertible>(_ column: String) throws -> Value { try decode(forColumn: column) }
}
