import Foundation
import Logging
import QuantConfig
import RunStore
import Search
import Wire

extension Study {
    /// A worker is idle (READY). Returns the request to send it, if there is work.
    ///
    /// A worker that is ready holds nothing, so a lease it still had is lost (it restarted without
    /// finishing). A quarantined worker is told to disconnect.
    public func workerReady(_ worker: String) throws -> [StudyAction] {
        let now = clock.now
        if let reason = workers.quarantineReason(worker) {
            try store.write { w in try w.workerSeen(worker, at: now) }
            return [.disconnect(worker: worker, reason: reason)]
        }
        var actions: [StudyAction] = []
        for lease in leases.values.filter({ $0.worker == worker }).sorted(by: { $0.key < $1.key }) {
            try loseLease(lease, reason: "worker became ready again without finishing attempt \(lease.key.attempt)", at: now)
        }
        // A known worker's READY needs no write of its own: a dispatch records it as seen.
        if !workers.isLive(worker) {
            try store.write { w in try w.workerConnected(worker, at: now) }
            workers.connected(worker)
        }
        workers.becameIdle(worker)
        actions += try advance(at: now)
        return actions
    }

    /// Moves the run forward: phase changes, then work for idle workers while there is any.
    func advance(at now: Date) throws -> [StudyAction] {
        var actions: [StudyAction] = []
        try updatePhase(at: now)
        while !isFinished, let worker = workers.firstIdle, let request = try nextRequest(for: worker, at: now) {
            workers.becameBusy(worker)
            actions.append(.dispatch(request, worker: worker))
        }
        try updatePhase(at: now)
        if isFinished, !finishedReported {
            finishedReported = true
            actions.append(.finished(summary))
        }
        return actions
    }

    /// Whether a new candidate may start: still running, and below the evaluation budget counting
    /// every candidate already started.
    var canStartNew: Bool {
        guard case .running = phase else { return false }
        if let limit = setup.budget.evaluations, searchCandidateCount >= limit { return false }
        return true
    }

    /// Candidates the search proposed (the fine-tuned reference is not one).
    var searchCandidateCount: Int { candidates.values.filter { $0.kind == .search }.count }

    private func nextRequest(for worker: String, at now: Date) throws -> EvaluationRequest? {
        if let index = queue.firstIndex(where: { resumeHolds[$0].map { now >= $0 } ?? true }) {
            let id = queue.remove(at: index)
            resumeHolds[id] = nil
            return try dispatch(candidateId: id, to: worker, at: now)
        }
        // Promotions go on while draining an evaluation budget (it counts candidates), not past
        // the wall time.
        let mayPromote: Bool
        switch phase {
        case .running: mayPromote = true
        case .draining(_, let reason): mayPromote = reason != .wallTime
        case .finished: mayPromote = false
        }
        // While the λ sweep runs only seeds start (its derived configurations join them first).
        let allowNew = canStartNew && (!sweepUnfinished || engine.nsga2.hasPendingSeed)
        var next = engine
        guard let work = next.next(allowNew: allowNew, allowPromotion: mayPromote) else { return nil }
        engine = next
        switch work {
        case .evaluate(let proposal):
            return try dispatch(candidateId: nil, proposal: proposal, to: worker, at: now)
        case .promote(let hash, let rung):
            guard let id = idByHash[hash] else { throw StudyError("the search promoted \(hash.prefix(12)), which is not a candidate of this run") }
            candidates[id]?.rung = rung
            return try dispatch(candidateId: id, to: worker, at: now, promoted: true)
        }
    }

    /// Leases the next attempt of a candidate to `worker`, in one transaction: for a new proposal
    /// (`candidateId` nil) the candidate row and the search snapshot too.
    private func dispatch(
        candidateId existing: Int64?, proposal: Proposal? = nil, to worker: String, at now: Date, promoted: Bool = false
    ) throws -> EvaluationRequest {
        let hash: String
        let config: QuantizationConfig
        let attempt: Int
        var rung = 0
        var kind = CandidateState.Kind.search
        if let existing {
            guard let candidate = candidates[existing] else { throw StudyError("candidate \(existing) is not in this run") }
            (hash, config, attempt, rung, kind) = (candidate.hash, candidate.config, candidate.dispatched + 1, candidate.rung, candidate.kind)
        } else if let proposal {
            (hash, config, attempt, rung) = (proposal.hash, proposal.config, 1, engine.fidelity.entryRung(for: proposal.origin))
        } else {
            preconditionFailure("dispatch needs a candidate or a proposal")
        }
        // Multi-fidelity: one seed per candidate, so every rung runs a prefix of the same fine-tune.
        // Common random numbers: one seed for every candidate.
        let seedAttempt = setup.isMultiFidelity ? 1 : attempt
        var seed =
            setup.commonRandomNumbers == true
            ? Self.candidateSeed(runSeed: setup.seed, configHash: "common", attempt: seedAttempt)
            : Self.candidateSeed(runSeed: setup.seed, configHash: hash, attempt: seedAttempt)
        if case .reseed(_, let replicate) = kind { seed = reseedSeed(configHash: config.hash, replicate: replicate) }
        let id = try store.write { w in
            var id = existing ?? 0
            if let proposal {
                id = try w.insertCandidate(
                    NewCandidate(
                        config: proposal.config, configHash: proposal.hash, origin: proposal.origin,
                        parents: proposal.parents.compactMap { idByHash[$0] }, createdAt: now))
            }
            if proposal != nil || promoted { try w.saveSearchState(engine, at: now) }
            try w.insertAttempt(candidateId: id, number: attempt, worker: worker, seed: seed, rung: rung, at: now)
            try w.beginBusy(worker: worker, candidateId: id, attempt: attempt, at: now)
            try w.workerSeen(worker, at: now)
            try w.appendEvent("dispatch", at: now, candidateId: id, attempt: attempt, worker: worker, payload: ["config": hash, "rung": String(rung)])
            try w.touchSession(sessionID, at: now)
            return id
        }
        lastTouch = now
        idByHash[hash] = id
        candidates[id] = CandidateState(
            id: id, hash: hash, config: config, status: .running, dispatched: attempt, lost: candidates[id]?.lost ?? 0, rung: rung, kind: kind)
        let key = AttemptKey(candidateId: id, attempt: attempt)
        leases[key] = Lease(key: key, worker: worker, dispatchedAt: now, lastProgress: now)
        attemptWorkers[key] = worker
        attemptRungs[key] = rung
        logger.info("Dispatched candidate", metadata: ["candidate.id": "\(id)", "candidate.attempt": "\(attempt)", "worker": "\(worker)"])
        if case .supernet(let settings) = kind { return supernetRequest(candidateId: id, attempt: attempt, settings: settings, seed: seed) }
        // A rung continues the one below only if the candidate was evaluated there (a seed that
        // entered at the top rung starts from the beginning, on every attempt).
        let continues = kind == .search && rung > 0 && engine.ladder.result(of: hash, at: rung - 1) != nil
        return request(candidateId: id, attempt: attempt, config: config, seed: seed, rung: rung, continues: continues)
    }

    /// The request of a supernet training job: schema `spikeq.supernet/1`, the run's space, the
    /// sweep's training budget, the placeholder all-float config.
    func supernetRequest(candidateId: Int64, attempt: Int, settings: SupernetSettings, seed: UInt64) -> EvaluationRequest {
        let template = setup.template
        var request = EvaluationRequest(
            candidateId: candidateId, attempt: attempt, config: placeholderConfig, budget: setup.supernet?.budget ?? template.fineTune, seed: seed,
            baseCheckpoint: template.baseCheckpoint, dataset: template.dataset, energyModels: template.energyModels)
        request.schema = EvaluationRequest.supernetSchema
        request.supernet = SupernetJob(settings: settings, space: setup.space)
        return request
    }

    /// The request for one attempt. In a multi-fidelity run rung r fine-tunes `rungs[r]` steps of
    /// one schedule of `rungs.last` steps, continuing rung r − 1 (the worker's own training state,
    /// or the packed model the coordinator attaches); lower rungs measure only the splits the
    /// objectives and constraints read.
    /// The fine-tuned reference (`continues` false) runs the top rung's budget from the start.
    func request(candidateId: Int64, attempt: Int, config: QuantizationConfig, seed: UInt64, rung: Int, continues: Bool = true) -> EvaluationRequest {
        let template = setup.template
        var request = EvaluationRequest(
            candidateId: candidateId, attempt: attempt, config: config, budget: template.fineTune, seed: seed, baseCheckpoint: template.baseCheckpoint,
            dataset: template.dataset, energyModels: template.energyModels)
        guard let fidelity = setup.fidelity, fidelity.isMultiFidelity else { return request }
        request.budget.maxSteps = fidelity.rungs[rung]
        request.budget.scheduleSteps = fidelity.rungs.last
        // Steps, not epochs, bound a rung; the epoch count only has to be large enough (and equal
        // across rungs, as it is part of the trajectory's identity).
        request.budget.epochs = Self.rungEpochs
        request.rung = rung
        if rung > 0 && continues { request.continuation = Continuation(fromSteps: fidelity.rungs[rung - 1], packedModel: nil) }
        if rung < fidelity.topRung { request.splits = splitsRead }
        return request
    }

    static let rungEpochs = 10_000

    /// The accuracy splits the objectives and constraints read (validation always: energy comes from it).
    var splitsRead: [String] {
        var splits: Set<String> = ["validation"]
        for objective in setup.objectives { if case .accuracy(let split) = objective { splits.insert(split) } }
        for constraint in setup.constraints { if case .maxAccuracyDrop(let split, _) = constraint { splits.insert(split) } }
        return splits.sorted()
    }
}
