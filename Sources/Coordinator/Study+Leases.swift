import Foundation
import Logging
import RunStore
import Search
import Wire

extension Study {
    /// A PARTIAL: extends the lease and records the progress.
    public func progress(_ received: EvaluationProgress, from worker: String) throws -> [StudyAction] {
        let now = clock.now
        let progress = received.escaped
        let key = AttemptKey(candidateId: progress.candidateId, attempt: progress.attempt)
        // Progress from a worker whose lease was given up (a partition, a coordinator restart) while
        // its candidate still waits for a re-issue: it is alive after all, so it keeps the attempt.
        if leases[key] == nil, try reattached(key, worker: worker) {
            logger.info("Lease restored by progress", metadata: ["candidate.id": "\(key.candidateId)", "worker": "\(worker)"])
        }
        guard var lease = leases[key], lease.worker == worker else {
            logger.debug("Progress for no current lease", metadata: ["candidate.id": "\(key.candidateId)", "worker": "\(worker)"])
            return []
        }
        lease.lastProgress = now
        lease.progress = progress
        leases[key] = lease
        try store.write { w in
            try w.recordProgress(progress)
            try w.workerSeen(worker, at: now)
            try w.touchSession(sessionID, at: now)
        }
        lastTouch = now
        return []
    }

    /// The broker lost `worker` (no heartbeats) or it disconnected. Its lease ends as STALE and the
    /// candidate is re-queued (or given up at the retry cap).
    ///
    /// - Parameter request: the request the broker says the worker held; nil means every lease of
    ///   this worker.
    public func workerLost(_ worker: String, holding request: EvaluationRequest?, reason: String) throws -> [StudyAction] {
        let now = clock.now
        workers.lost(worker)
        var held = leases.values.filter { $0.worker == worker }
        if let request { held = held.filter { $0.key == AttemptKey(candidateId: request.candidateId, attempt: request.attempt) } }
        for lease in held.sorted(by: { $0.key < $1.key }) {
            try loseLease(lease, reason: "worker lost: \(reason)", at: now)
        }
        if held.isEmpty { try store.write { w in try w.workerLost(worker, at: now) } }
        return try advance(at: now)
    }

    /// A worker (re)connected still working on `request`, e.g. after a coordinator restart or a
    /// network partition. If the candidate is waiting to re-issue exactly that attempt, the lease is
    /// bound to the worker again instead of evaluating twice. Otherwise nothing changes: its FINAL will
    /// be handled as a late one.
    ///
    /// - Returns: whether the lease was restored.
    @discardableResult
    public func reattached(_ request: EvaluationRequest, worker: String) throws -> Bool {
        try reattached(AttemptKey(candidateId: request.candidateId, attempt: request.attempt), worker: worker)
    }

    func reattached(_ key: AttemptKey, worker: String) throws -> Bool {
        let now = clock.now
        guard workers.quarantineReason(worker) == nil, attemptWorkers[key] == worker, var candidate = candidates[key.candidateId], candidate.status == .pending,
            candidate.dispatched == key.attempt, let position = queue.firstIndex(of: key.candidateId)
        else { return false }
        try store.write { w in
            try w.reopenAttempt(candidateId: key.candidateId, number: key.attempt, worker: worker)
            try w.beginBusy(worker: worker, candidateId: key.candidateId, attempt: key.attempt, at: now)
            try w.workerSeen(worker, at: now)
            try w.appendEvent("reattached", at: now, candidateId: key.candidateId, attempt: key.attempt, worker: worker)
        }
        queue.remove(at: position)
        candidate.status = .running
        candidates[key.candidateId] = candidate
        workers.connected(worker)
        workers.becameBusy(worker)
        leases[key] = Lease(key: key, worker: worker, dispatchedAt: now, lastProgress: now)
        logger.info("Lease restored", metadata: ["candidate.id": "\(key.candidateId)", "candidate.attempt": "\(key.attempt)", "worker": "\(worker)"])
        return true
    }

    /// The broker could not deliver a dispatch. The attempt is `interrupted` (not held against the
    /// candidate) and the candidate re-queued.
    public func dispatchFailed(_ request: EvaluationRequest, worker: String?, reason: String) throws -> [StudyAction] {
        try interruptDispatch(AttemptKey(candidateId: request.candidateId, attempt: request.attempt), worker: worker, reason: reason)
    }

    /// Ends an attempt that never ran (undeliverable, or refused by a busy worker) without holding
    /// it against the candidate, and re-queues the candidate first.
    func interruptDispatch(_ key: AttemptKey, worker: String?, reason: String) throws -> [StudyAction] {
        let now = clock.now
        if let worker { workers.becameBusy(worker) }
        guard let lease = leases.removeValue(forKey: key), var candidate = candidates[key.candidateId] else { return try advance(at: now) }
        let current = candidate.status == .running && candidate.dispatched == key.attempt
        try store.write { w in
            try w.finishAttempt(candidateId: key.candidateId, number: key.attempt, state: .interrupted, error: "dispatch failed: \(reason)", at: now)
            try w.endBusy(candidateId: key.candidateId, attempt: key.attempt, at: now)
            try w.appendEvent("dispatch-failed", at: now, candidateId: key.candidateId, attempt: key.attempt, worker: lease.worker, payload: ["reason": reason])
            if current { try w.setCandidateStatus(key.candidateId, .pending) }
        }
        if current {
            candidate.status = .pending
            candidates[key.candidateId] = candidate
            queue.insert(key.candidateId, at: 0)
        }
        return try advance(at: now)
    }

    /// Expires leases whose deadline passed, checks the budget, and hands out work. Call it
    /// periodically (every second or so) from the event loop.
    public func tick() throws -> [StudyAction] {
        let now = clock.now
        var actions: [StudyAction] = []
        for lease in leases.values.sorted(by: { $0.key < $1.key }) {
            guard let reason = expiry(of: lease, at: now) else { continue }
            try loseLease(lease, reason: reason, at: now)
            workers.lost(lease.worker)
            actions.append(.disconnect(worker: lease.worker, reason: reason))
        }
        if now.timeIntervalSince(lastTouch) >= 10 {
            try store.write { w in try w.touchSession(sessionID, at: now) }
            lastTouch = now
        }
        return actions + (try advance(at: now))
    }

    /// Why `lease` has expired at `now`, or nil while it is alive.
    func expiry(of lease: Lease, at now: Date) -> String? {
        let silent = now.timeIntervalSince(lease.lastProgress)
        if silent > setup.lease.progressTimeout {
            return "lease expired: no progress for \(Int(silent)) s (limit \(Int(setup.lease.progressTimeout)) s)"
        }
        return nil
    }

    /// Ends a lease as STALE; the candidate is re-queued, or given up when it has lost
    /// ``StudySetup/maxAttempts`` attempts.
    func loseLease(_ lease: Lease, reason: String, at now: Date) throws {
        leases[lease.key] = nil
        let key = lease.key
        guard let candidate = candidates[key.candidateId] else { return }
        let current = candidate.status == .running && candidate.dispatched == key.attempt
        try requeueOrGiveUp(key, current: current, reason: reason, at: now) { w in
            try w.finishAttempt(candidateId: key.candidateId, number: key.attempt, state: .stale, error: reason, at: now)
            try w.endBusy(candidateId: key.candidateId, attempt: key.attempt, at: now)
            try w.workerLost(lease.worker, at: now)
            try w.appendEvent("lease-lost", at: now, candidateId: key.candidateId, attempt: key.attempt, worker: lease.worker, payload: ["reason": reason])
        }
        logger.info(
            "Lease lost", metadata: ["candidate.id": "\(key.candidateId)", "candidate.attempt": "\(key.attempt)", "worker": "\(lease.worker)", "reason": "\(reason)"])
    }

    /// The one path for an attempt that ended without an outcome (its lease lost, its result refused):
    /// when it is the candidate's current attempt, the candidate is re-queued, or given up for good once
    /// it has lost ``StudySetup/maxAttempts`` attempts (a search candidate then counts as failed for the
    /// search). `record` writes how the attempt ended, in the same transaction.
    func requeueOrGiveUp(_ key: AttemptKey, current: Bool, reason: String, at now: Date, record: (RunWriter) throws -> Void) throws {
        guard var candidate = candidates[key.candidateId] else { return }
        if current { candidate.lost += 1 }
        let giveUp = current && candidate.lost >= setup.maxAttempts
        if giveUp && candidate.kind == .search { try engine.recordFailure(candidate.hash, rung: candidate.rung) }
        try store.write { w in
            try record(w)
            guard current else { return }
            if giveUp {
                let why = "gave up after \(candidate.lost) lost attempts; last: \(reason)"
                try w.setCandidateStatus(key.candidateId, .stale, reason: why, finishedAt: now)
                try w.appendEvent("gave-up", at: now, candidateId: key.candidateId, attempt: key.attempt, payload: ["reason": why])
                try w.saveSearchState(engine, at: now)
            } else {
                try w.setCandidateStatus(key.candidateId, .pending, reason: reason)
                try w.appendEvent("requeued", at: now, candidateId: key.candidateId, attempt: key.attempt, payload: ["next": String(key.attempt + 1)])
            }
        }
        guard current else { return }
        candidate.status = giveUp ? .stale : .pending
        candidates[key.candidateId] = candidate
        if giveUp {
            queue.removeAll { $0 == key.candidateId }
        } else if !queue.contains(key.candidateId) {
            queue.append(key.candidateId)
        }
    }
}
