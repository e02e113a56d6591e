import Foundation
import Logging
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
        if let reason = quarantined[worker] {
            try store.write { w in try w.workerSeen(worker, at: now) }
            return [.disconnect(worker: worker, reason: reason)]
        }
        var actions: [StudyAction] = []
        for lease in leases.values.filter({ $0.worker == worker }).sorted(by: { $0.key < $1.key }) {
            try loseLease(lease, reason: "worker became ready again without finishing attempt \(lease.key.attempt)", at: now)
        }
        let isNew = !liveWorkers.contains(worker)
        liveWorkers.insert(worker)
        try store.write { w in
            if isNew { try w.workerConnected(worker, at: now) } else { try w.workerSeen(worker, at: now) }
        }
        if !idleWorkers.contains(worker) { idleWorkers.append(worker) }
        actions += try advance(at: now)
        return actions
    }

    /// Moves the run forward: phase changes, then work for idle workers while there is any.
    func advance(at now: Date) throws -> [StudyAction] {
        var actions: [StudyAction] = []
        try updatePhase(at: now)
        while !isFinished, let worker = idleWorkers.first, let request = try nextRequest(for: worker, at: now) {
            idleWorkers.removeFirst()
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
        if let limit = setup.budget.evaluations, candidates.count >= limit { return false }
        return true
    }

    private func nextRequest(for worker: String, at now: Date) throws -> EvaluationRequest? {
        if let id = queue.first {
            queue.removeFirst()
            return try dispatch(candidateId: id, to: worker, at: now)
        }
        guard canStartNew, let proposal = search.ask() else { return nil }
        let id = try store.write { w in
            let id = try w.insertCandidate(
                NewCandidate(
                    config: proposal.config, configHash: proposal.hash, origin: proposal.origin, parents: proposal.parents.compactMap { idByHash[$0] },
                    createdAt: now))
            try w.saveSearchState(search, at: now)
            return id
        }
        candidates[id] = CandidateState(id: id, hash: proposal.hash, config: proposal.config, status: .pending, dispatched: 0, lost: 0)
        idByHash[proposal.hash] = id
        return try dispatch(candidateId: id, to: worker, at: now)
    }

    /// Leases the next attempt of a pending candidate to `worker`.
    private func dispatch(candidateId id: Int64, to worker: String, at now: Date) throws -> EvaluationRequest {
        guard var candidate = candidates[id] else { throw StudyError("candidate \(id) is not in this run") }
        let attempt = candidate.dispatched + 1
        let seed = Self.candidateSeed(runSeed: setup.seed, configHash: candidate.hash, attempt: attempt)
        try store.write { w in
            try w.insertAttempt(candidateId: id, number: attempt, worker: worker, seed: seed, at: now)
            try w.beginBusy(worker: worker, candidateId: id, attempt: attempt, at: now)
            try w.appendEvent("dispatch", at: now, candidateId: id, attempt: attempt, worker: worker, payload: ["config": candidate.hash])
            try w.touchSession(sessionID, at: now)
        }
        lastTouch = now
        candidate.dispatched = attempt
        candidate.status = .running
        candidates[id] = candidate
        let key = AttemptKey(candidateId: id, attempt: attempt)
        leases[key] = Lease(key: key, worker: worker, dispatchedAt: now, lastProgress: now, lastHeartbeat: heartbeats[worker])
        logger.info("Dispatched candidate", metadata: ["candidate.id": "\(id)", "candidate.attempt": "\(attempt)", "worker": "\(worker)"])
        let template = setup.template
        return EvaluationRequest(
            candidateId: id, attempt: attempt, config: candidate.config, budget: template.fineTune, seed: seed, baseCheckpoint: template.baseCheckpoint,
            dataset: template.dataset, energyModels: template.energyModels)
    }
}
