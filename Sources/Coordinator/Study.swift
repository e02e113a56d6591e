import Foundation
import Logging
import QuantConfig
import RunStore
import Search
import Seeding
import Wire

/// The state machine that drives one search run: it turns broker events into dispatches, keeps a
/// lease per running attempt, feeds results to the steady-state NSGA-II and records everything in
/// the run database. It owns no sockets; the broker's event loop calls it.
///
/// Candidate life: pending → running (leased to one worker) → done | failed | stale.
/// - A worker is idle after its READY and after each of its FINALs (18/MDP workers say READY only
///   when they connect), so the actions of a FINAL usually dispatch that worker's next candidate.
/// - A `busy` refusal (the worker was still evaluating something else) or an undeliverable dispatch
///   ends the attempt as `interrupted`, not held against the candidate, and re-queues it first.
/// - A lost worker (``workerLost(_:holding:reason:)``) or an expired lease (``tick()``) ends the
///   attempt as STALE and re-queues the candidate with attempt + 1, up to ``StudySetup/maxAttempts``
///   lost attempts; then the candidate is STALE for good, with the reason.
/// - An evaluation that raised makes the candidate FAILED (never retried).
/// - Results are keyed by (candidate id, attempt): the first result of a candidate wins, even from an
///   attempt that already lost its lease (a late FINAL); later ones are recorded as events only.
/// - Results whose dataset fingerprint, checkpoint hash or config hash differ from the run's are
///   REJECTED: the attempt is marked `rejected`, the worker is quarantined (disconnected, never given
///   work again in this session) and the candidate re-queued like a lost lease, since the candidate
///   itself is not at fault. Workers reporting they cannot load the dataset or checkpoint are treated
///   the same way.
///
/// Every step is one RunStore transaction that includes the search state when the search changed, so
/// after a crash ``resume(at:budget:clock:logger:)`` loses no accepted result, repeats no evaluation
/// that finished, and re-issues in-flight candidates with attempt + 1.
///
/// - Important: Not thread-safe; confine a study to the broker's event loop (one actor or thread).
///   A thrown error means the run database could not be written: stop, fix, resume.
public final class Study {
    public let store: RunStore
    public internal(set) var setup: StudySetup
    /// The NSGA-II and the rung ladder, saved whole with every change.
    public internal(set) var engine: SearchEngine
    /// The NSGA-II part of the search.
    public var search: SteadyStateNSGA2 { engine.nsga2 }
    public internal(set) var phase: StudyPhase
    let metadata: RunMetadata
    let clock: any StudyClock
    let logger: Logger

    var candidates: [Int64: CandidateState] = [:]
    var idByHash: [String: Int64] = [:]
    /// Candidates waiting to be re-issued, in order.
    var queue: [Int64] = []
    var leases: [AttemptKey: Lease] = [:]
    /// The worker each attempt was dispatched (or re-attached) to: only that worker may report on it.
    var attemptWorkers: [AttemptKey: String] = [:]
    /// The fidelity rung each attempt evaluated.
    var attemptRungs: [AttemptKey: Int] = [:]
    /// Fine-tune steps of every accepted result (all rungs): the search's cost in QAT steps.
    public internal(set) var qatSteps = 0
    /// Connected, idle and quarantined workers.
    var workers = WorkerTable()
    /// Workers whose results are refused, with the reason.
    public var quarantined: [String: String] { workers.quarantined }
    /// Candidates whose attempt was running when the coordinator stopped, held back from re-issue
    /// until the given time: the worker may have finished and will re-send its FINAL when it
    /// reconnects (it keeps a FINAL until acknowledged), so re-issuing at once would evaluate the
    /// candidate twice.
    var resumeHolds: [Int64: Date] = [:]
    var sessionID: Int64 = 0
    var sessionStart: Date
    var activeBefore: Double = 0
    var lastTouch: Date
    var finishedReported = false

    struct CandidateState {
        var id: Int64
        var hash: String
        var config: QuantizationConfig
        var status: CandidateStatus
        /// Attempts dispatched so far (the current attempt number).
        var dispatched: Int
        /// Attempts that ended stale or rejected (held against the retry cap).
        var lost: Int
        /// The rung its current (or next) attempt evaluates.
        var rung = 0
        var kind: Kind = .search

        /// What a candidate row stands for.
        enum Kind: Hashable {
            /// A configuration the search proposed.
            case search
            /// The fine-tuned FP32 reference: evaluated like a candidate, never shown to the search.
            case reference
            /// A supernet training job of the λ sweep (its config is a placeholder).
            case supernet(SupernetSettings)
            /// A final re-fine-tune (`final.reseeds`) of candidate `of` with extra seed `replicate`
            /// (its row's hash is ``Study/reseedRowHash(configHash:replicate:)``, its config `of`'s).
            case reseed(of: Int64, replicate: Int)
        }

        var isReference: Bool { kind == .reference }
        var isReseed: Bool {
            if case .reseed = kind { return true }
            return false
        }
        /// The config hash a result for this row must carry (a re-fine-tune's row hash is its own).
        var resultHash: String {
            isReseed ? config.hash : hash
        }
        var supernetJob: SupernetSettings? {
            if case .supernet(let settings) = kind { return settings }
            return nil
        }
    }

    private init(store: RunStore, setup: StudySetup, engine: SearchEngine, metadata: RunMetadata, clock: any StudyClock, logger: Logger) {
        self.store = store
        self.setup = setup
        self.engine = engine
        self.metadata = metadata
        self.clock = clock
        self.logger = logger
        self.phase = .running
        self.sessionStart = clock.now
        self.lastTouch = clock.now
    }

    /// Creates a new run in `directory` (`runs/NAME`).
    public static func create(
        at directory: URL, setup: StudySetup, clock: any StudyClock = SystemClock(), logger: Logger = Logger(label: "spikeq.study")
    ) throws -> Study {
        let space = try GenomeSpace(setup.space)
        let search = try SteadyStateNSGA2(space: space, parameters: setup.parameters, seed: setup.seed, sensitivity: setup.sensitivity)
        let engine = try SearchEngine(nsga2: search, fidelity: setup.schedule, proposals: setup.proposals)
        guard setup.parameters.objectiveCount == setup.objectives.count else {
            throw StudyError("\(setup.objectives.count) objectives but the search expects \(setup.parameters.objectiveCount)")
        }
        guard setup.maxAttempts >= 1 else { throw StudyError("max attempts must be at least 1") }
        let now = clock.now
        let metadata = RunMetadata(
            name: setup.name, configYAML: setup.configYAML, settings: setup.runSettings, seed: setup.seed,
            datasetFingerprint: setup.template.dataset.fingerprint, checkpointHash: setup.template.baseCheckpoint.sha256, createdAt: now,
            studyJSON: try StudyJSON.encode(setup))
        let store = try RunStore.create(at: directory, metadata: metadata)
        let study = Study(store: store, setup: setup, engine: engine, metadata: metadata, clock: clock, logger: logger)
        study.qatSteps = setup.sensitivitySteps ?? 0
        try store.write { w in
            study.sessionID = try w.beginSession(at: now)
            try w.saveSearchState(engine, at: now)
            try w.appendEvent("created", at: now, payload: ["name": setup.name, "seed": String(setup.seed)])
            if setup.fineTunedReference == true {
                // First in the queue: every drop the report shows is measured against it.
                let config = QuantizationConfig(layers: Dictionary(uniqueKeysWithValues: setup.space.layers.map { ($0, LayerQuantization.float) }))
                let id = try w.insertCandidate(NewCandidate(config: config, origin: .reference, parents: [], createdAt: now))
                study.candidates[id] = CandidateState(
                    id: id, hash: config.hash, config: config, status: .pending, dispatched: 0, lost: 0, rung: setup.schedule.topRung, kind: .reference)
                study.idByHash[config.hash] = id
                study.queue.append(id)
            }
            // The λ sweep: one job row per λ, queued before any candidate.
            for job in setup.supernet?.jobs ?? [] {
                let hash = SupernetSweep.hash(of: job)
                let id = try w.insertCandidate(
                    NewCandidate(config: study.placeholderConfig, configHash: hash, origin: .supernetTraining, parents: [], createdAt: now))
                study.candidates[id] = CandidateState(
                    id: id, hash: hash, config: study.placeholderConfig, status: .pending, dispatched: 0, lost: 0, kind: .supernet(job))
                study.idByHash[hash] = id
                study.queue.append(id)
            }
        }
        logger.info("Created run", metadata: ["run.directory": "\(directory.path)", "run.seed": "\(setup.seed)"])
        return study
    }

    /// Reopens a run after a stop or a crash.
    ///
    /// Attempts that were running are marked `interrupted` (not held against the retry cap) and
    /// their candidates re-queued with attempt + 1; the search continues from its last saved state,
    /// including its random generator. A FINAL still arriving for an interrupted attempt is accepted
    /// if the candidate has no result yet; to give those FINALs time to arrive (workers re-send
    /// unacknowledged ones when they reconnect), interrupted candidates are re-issued only after
    /// `lease.heartbeat_timeout`, while other work goes on.
    ///
    /// - Parameter budget: replaces the stored budget (e.g. to extend a finished run).
    public static func resume(
        at directory: URL, budget: StudyBudget? = nil, clock: any StudyClock = SystemClock(), logger: Logger = Logger(label: "spikeq.study")
    ) throws -> Study {
        let store = try RunStore.open(at: directory)
        let metadata = try store.metadata()
        var setup: StudySetup
        do {
            setup = try StudyJSON.decode(StudySetup.self, from: metadata.studyJSON)
        } catch {
            throw StudyError("\(store.databaseURL.path): the stored study setup does not decode: \(error)")
        }
        if let budget { setup.budget = budget }
        let engine: SearchEngine
        if let saved = try store.latestSearchEngine(fidelity: setup.schedule) {
            guard saved.nsga2.space.space == setup.space, saved.nsga2.parameters == setup.parameters, saved.fidelity == setup.schedule else {
                throw StudyError("\(store.databaseURL.path): the saved search state was made for a different space or settings")
            }
            engine = saved
        } else {
            let search = try SteadyStateNSGA2(space: try GenomeSpace(setup.space), parameters: setup.parameters, seed: setup.seed, sensitivity: setup.sensitivity)
            engine = try SearchEngine(nsga2: search, fidelity: setup.schedule, proposals: setup.proposals)
        }
        let study = Study(store: store, setup: setup, engine: engine, metadata: metadata, clock: clock, logger: logger)
        try study.reload(budgetChanged: budget != nil)
        logger.info(
            "Resumed run",
            metadata: ["run.directory": "\(directory.path)", "run.pending": "\(study.queue.count)", "run.evaluations": "\(engine.nsga2.statistics.evaluations)"])
        return study
    }

    private func reload(budgetChanged: Bool) throws {
        let now = clock.now
        let records = try store.candidates()
        let attempts = try store.attempts()
        var lostCount: [Int64: Int] = [:]
        for attempt in attempts where attempt.state == .stale || attempt.state == .rejected { lostCount[attempt.candidateId, default: 0] += 1 }
        let jobs = Dictionary((setup.supernet?.jobs ?? []).map { (SupernetSweep.hash(of: $0), $0) }) { first, _ in first }
        for record in records {
            let kind: CandidateState.Kind
            switch record.origin {
            case .reference: kind = .reference
            case .supernetTraining:
                guard let job = jobs[record.configHash] else {
                    throw StudyError("\(store.databaseURL.path): supernet job \(record.id) is not one of the stored setup's λ sweep")
                }
                kind = .supernet(job)
            case .reseed:
                guard let of = record.parents.first, let replicate = Self.reseedReplicate(rowHash: record.configHash) else {
                    throw StudyError("\(store.databaseURL.path): re-fine-tune \(record.id) names no parent or replicate")
                }
                kind = .reseed(of: of, replicate: replicate)
            default: kind = .search
            }
            candidates[record.id] = CandidateState(
                id: record.id, hash: record.configHash, config: record.config, status: record.status, dispatched: record.attempts,
                lost: lostCount[record.id, default: 0], rung: kind == .search ? 0 : setup.schedule.topRung, kind: kind)
            idByHash[record.configHash] = record.id
        }
        activeBefore = try store.activeSeconds()
        for attempt in attempts {
            let key = AttemptKey(candidateId: attempt.candidateId, attempt: attempt.number)
            attemptWorkers[key] = attempt.worker
            attemptRungs[key] = attempt.rung
        }
        // A candidate's next attempt evaluates the rung of its latest one (a promotion is dispatched
        // in the transaction that decides it).
        for attempt in attempts { candidates[attempt.candidateId]?.rung = attempt.rung }
        qatSteps = try store.qatSteps()
        let running = attempts.filter { $0.state == .running }
        // Proposals the search holds in flight must all be candidates; by construction they are
        // (same transaction), but a missing one is recovered as a new pending candidate.
        let orphans = search.inFlight.filter { idByHash[$0.hash] == nil }
        try store.write { w in
            sessionID = try w.beginSession(at: now)
            for attempt in running {
                try w.finishAttempt(candidateId: attempt.candidateId, number: attempt.number, state: .interrupted, error: "coordinator restarted", at: now)
                try w.endBusy(candidateId: attempt.candidateId, attempt: attempt.number, at: now)
                if candidates[attempt.candidateId]?.status == .running { try w.setCandidateStatus(attempt.candidateId, .pending) }
            }
            for proposal in orphans {
                let id = try w.insertCandidate(
                    NewCandidate(
                        config: proposal.config, configHash: proposal.hash, origin: proposal.origin, parents: proposal.parents.compactMap { idByHash[$0] },
                        createdAt: now))
                candidates[id] = CandidateState(id: id, hash: proposal.hash, config: proposal.config, status: .pending, dispatched: 0, lost: 0)
                idByHash[proposal.hash] = id
            }
            var payload = ["interrupted": String(running.count)]
            if budgetChanged { payload["budget"] = (try? StudyJSON.encode(setup.budget)) ?? "" }
            try w.appendEvent("resumed", at: now, payload: payload)
        }
        for attempt in running where candidates[attempt.candidateId]?.status == .running {
            candidates[attempt.candidateId]?.status = .pending
        }
        queue = candidates.values.filter { $0.status == .pending }.map(\.id).sorted()
        let holdUntil = now.addingTimeInterval(setup.lease.heartbeatTimeout)
        for attempt in running where candidates[attempt.candidateId]?.status == .pending { resumeHolds[attempt.candidateId] = holdUntil }
    }

    // MARK: - Reading

    /// The running attempts, by key.
    public var inFlight: [Lease] { leases.values.sorted { $0.key < $1.key } }
    /// Candidates waiting for a re-issue.
    public var queuedCandidates: [Int64] { queue }
    public var isFinished: Bool {
        if case .finished = phase { return true }
        return false
    }

    /// Seconds this run's coordinators have been active, including earlier sessions.
    public func activeSeconds(at time: Date) -> Double { activeBefore + max(0, time.timeIntervalSince(sessionStart)) }

    /// Search candidates with `status` (not the fine-tuned reference or supernet jobs).
    public func count(_ status: CandidateStatus) -> Int { candidates.values.filter { $0.status == status && $0.kind == .search }.count }

    /// Whether a supernet job of the λ sweep has yet to end (done, failed or given up).
    var sweepUnfinished: Bool {
        candidates.values.contains { $0.supernetJob != nil && ($0.status == .pending || $0.status == .running) }
    }

    /// The config a supernet job's row and request carry (all float; unused by the job).
    var placeholderConfig: QuantizationConfig {
        QuantizationConfig(layers: Dictionary(uniqueKeysWithValues: setup.space.layers.map { ($0, LayerQuantization.float) }))
    }

    public var summary: StudySummary {
        let reason: StopReason =
            switch phase {
            case .running: .stopped
            case .draining(_, let reason), .finished(let reason): reason
            }
        return StudySummary(
            reason: reason, done: count(.done), failed: count(.failed), stale: count(.stale), unfinished: count(.pending) + count(.running),
            hypervolume: search.hypervolume, activeSeconds: activeSeconds(at: clock.now),
            fullFidelity: setup.isMultiFidelity ? engine.ladder.results[engine.fidelity.topRung].count : count(.done), qatSteps: qatSteps)
    }

    /// The seed for one attempt: a pure function of the run seed, the config hash and the attempt.
    public static func candidateSeed(runSeed: UInt64, configHash: String, attempt: Int) -> UInt64 {
        var generator = SeededGenerator(seed: runSeed, stream: "candidate:\(configHash):\(attempt)")
        return generator.next()
    }
}

/// JSON for the stored setup: sorted keys; infinities as strings.
enum StudyJSON {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(type, from: Data(text.utf8))
    }
}
