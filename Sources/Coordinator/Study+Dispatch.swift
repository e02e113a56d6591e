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
        if let reason = quarantined[worker] {
            try store.write { w in try w.workerSeen(worker, at: now) }
            return [.disconnect(worker: worker, reason: reason)]
        }
        var actions: [StudyAction] = []
        for lease in leases.values.filter({ $0.worker == worker }).sorted(by: { $0.key < $1.key }) {
            try loseLease(lease, reason: "worker became ready again without finishing attempt \(lease.key.attempt)", at: now)
        }
        // A known worker's READY needs no write of its own: a dispatch records it as seen.
        if !liveWorkers.contains(worker) {
            try store.write { w in try w.workerConnected(worker, at: now) }
            liveWorkers.insert(worker)
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
        return try dispatch(candidateId: nil, proposal: proposal, to: worker, at: now)
    }

    /// Leases the next attempt of a candidate to `worker`, in one transaction: for a new proposal
    /// (`candidateId` nil) the candidate row and the search snapshot too.
    private func dispatch(candidateId existing: Int64?, proposal: Proposal? = nil, to worker: String, at now: Date) throws -> EvaluationRequest {
        let hash: String
        let config: QuantizationConfig
        let attempt: Int
        if let existing {
            guard let candidate = candidates[existing] else { throw StudyError("candidate \(existing) is not in this run") }
            (hash, config, attempt) = (candidate.hash, candidate.config, candidate.dispatched + 1)
        } else if let proposal {
            (hash, config, attempt) = (proposal.hash, proposal.config, 1)
        } else {
            preconditionFailure("dispatch needs a candidate or a proposal")
        }
        let seed = Self.candidateSeed(runSeed: setup.seed, configHash: hash, attempt: attempt)
        let id = try store.write { w in
            var id = existing ?? 0
            if let proposal {
                id = try w.insertCandidate(
                    NewCandidate(
                        config: proposal.config, configHash: proposal.hash, origin: proposal.origin,
                        parents: proposal.parents.compactMap { idByHash[$0] }, createdAt: now))
                try w.saveSearchState(search, at: now)
            }
            try w.insertAttempt(candidateId: id, number: attempt, worker: worker, seed: seed, at: now)
            try w.beginBusy(worker: worker, candidateId: id, attempt: attempt, at: now)
            try w.workerSeen(worker, at: now)
            try w.appendEvent("dispatch", at: now, candidateId: id, attempt: attempt, worker: worker, payload: ["config": hash])
            try w.touchSession(sessionID, at: now)
            return id
        }
        lastTouch = now
        idByHash[hash] = id
        candidates[id] = CandidateState(
            id: id, hash: hash, config: config, status: .running, dispatched: attempt, lost: candidates[id]?.lost ?? 0)
        let key = AttemptKey(candidateId: id, attempt: attempt)
        leases[key] = Lease(key: key, worker: worker, dispatchedAt: now, lastProgress: now, lastHeartbeat: heartbeats[worker])
        attemptWorkers[key] = worker
        logger.info("Dispatched candidate", metadata: ["candidate.id": "\(id)", "candidate.attempt": "\(attempt)", "worker": "\(worker)"])
        let template = setup.template
        return EvaluationRequest(
            candidateId: id, attempt: attempt, config: config, budget: template.fineTune, seed: seed, baseCheckpoint: template.baseCheckpoint,
            dataset: template.dataset, energyModels: template.energyModels)
    }
}
