import Foundation
import Logging
import RunStore
import Search
import Wire

extension Study {
    /// A FINAL from `worker`. See ``OutcomeDisposition`` for what can happen.
    ///
    /// - Parameter dispatched: the attempt the broker's dispatch carried, when this coordinator
    ///   session made it; a FINAL whose body names another attempt is refused as unbound.
    /// - Throws: only when the run store cannot be written; no peer data makes this throw.
    public func outcome(_ received: EvaluationOutcome, from worker: String, dispatched: AttemptKey? = nil) throws -> OutcomeReport {
        let now = clock.now
        // Peer text reaches logs, the store and `spikeq status`: escape it once, here.
        var outcome = received
        outcome.error = received.error?.escaped
        let key = AttemptKey(candidateId: outcome.candidateId, attempt: outcome.attempt)
        if let unbound = unboundReason(key, from: worker, dispatched: dispatched) {
            try store.write { w in
                try w.appendEvent(
                    "unbound-final", at: now, worker: worker,
                    payload: ["candidate": String(key.candidateId), "attempt": String(key.attempt), "reason": unbound])
            }
            logger.warning("FINAL from a worker that does not hold the attempt", metadata: ["worker": "\(worker)", "reason": "\(unbound)"])
            return OutcomeReport(disposition: .unbound(reason: unbound), actions: try advance(at: now))
        }
        guard let candidate = candidates[key.candidateId], key.attempt >= 1, key.attempt <= candidate.dispatched else {
            try store.write { w in
                try w.workerSeen(worker, at: now)
                try w.appendEvent("unknown-final", at: now, worker: worker, payload: ["candidate": String(key.candidateId), "attempt": String(key.attempt)])
            }
            logger.info("FINAL for an unknown attempt", metadata: ["candidate.id": "\(key.candidateId)", "candidate.attempt": "\(key.attempt)", "worker": "\(worker)"])
            // Whatever it was, the worker finished it; only a busy refusal says it is still working.
            if outcome.error?.kind != .busy { markIdleAfterFinal(worker) }
            return OutcomeReport(disposition: .unknown, actions: try advance(at: now))
        }
        if outcome.error?.kind == .busy {
            // The worker was still evaluating something else (its earlier FINAL is on the way): the
            // request never ran, so it goes back to the queue, and the worker is not idle.
            return OutcomeReport(
                disposition: .failureIgnored, actions: try interruptDispatch(key, worker: worker, reason: "worker busy: \(outcome.error!.message)"))
        }
        let hadLease = leases.removeValue(forKey: key) != nil
        let disposition: OutcomeDisposition
        if hasResult(candidate, at: attemptRungs[key] ?? 0) {
            disposition = try recordDuplicate(key, worker: worker, at: now)
        } else if let failure = outcome.error {
            if failure.kind.isEnvironmental {
                disposition = try reject(key, worker: worker, reason: "worker cannot evaluate: \(failure)", at: now)
            } else {
                disposition = try fail(key, worker: worker, reason: failure.description, at: now)
            }
        } else if let job = candidate.supernetJob {
            if let derived = outcome.supernet, outcome.result == nil {
                let problems = derived.problems(for: SupernetJob(settings: job, space: setup.space))
                if problems.isEmpty {
                    disposition = try acceptSupernet(derived, key: key, worker: worker, late: !hadLease || key.attempt != candidate.dispatched, at: now)
                } else {
                    disposition = try reject(key, worker: worker, reason: "supernet result out of range: " + problems.prefix(3).joined(separator: "; "), at: now)
                }
            } else {
                disposition = try reject(key, worker: worker, reason: "the FINAL of a supernet job carries no supernet result (or also an evaluation)", at: now)
            }
        } else if outcome.supernet != nil {
            disposition = try reject(key, worker: worker, reason: "a supernet result for a candidate that is not a supernet job", at: now)
        } else if let result = outcome.result {
            if let mismatch = mismatch(in: result, for: candidate) {
                disposition = try reject(key, worker: worker, reason: mismatch, at: now)
            } else {
                disposition = try accept(result, key: key, worker: worker, late: !hadLease || key.attempt != candidate.dispatched, at: now)
            }
        } else {
            disposition = try fail(key, worker: worker, reason: "internal: the FINAL carried neither a result nor an error", at: now)
        }
        var actions: [StudyAction] = []
        if case .rejected(let reason) = disposition {
            actions.append(.disconnect(worker: worker, reason: reason))
        } else {
            markIdleAfterFinal(worker)
        }
        actions += try advance(at: now)
        return OutcomeReport(disposition: disposition, actions: actions)
    }

    /// Why `worker` may not report on `key`, or nil if it may: the attempt must have been dispatched
    /// (or re-attached) to that worker, and match the dispatch the FINAL came back on.
    func unboundReason(_ key: AttemptKey, from worker: String, dispatched: AttemptKey?) -> String? {
        if let dispatched, dispatched != key {
            return "the body names candidate \(key.candidateId) attempt \(key.attempt), the dispatch was candidate \(dispatched.candidateId) attempt \(dispatched.attempt)"
        }
        guard let holder = attemptWorkers[key] else { return nil }  // unknown attempts are reported as such
        return holder == worker ? nil : "attempt \(key.attempt) of candidate \(key.candidateId) was dispatched to another worker"
    }

    /// The file name (the candidate's own config hash) under which `outcome`'s packed model may be
    /// stored, or nil when the outcome would not be accepted or is a re-fine-tune's (the front keeps
    /// the model the search measured). The name never comes from peer data.
    public func artifactName(for outcome: EvaluationOutcome, from worker: String, dispatched: AttemptKey? = nil) -> String? {
        let key = AttemptKey(candidateId: outcome.candidateId, attempt: outcome.attempt)
        guard outcome.error == nil, let result = outcome.result, let candidate = candidates[key.candidateId], !candidate.isReseed,
            let rung = attemptRungs[key], rung == candidate.rung, !hasResult(candidate, at: rung), attemptWorkers[key] != nil,
            unboundReason(key, from: worker, dispatched: dispatched) == nil, mismatch(in: result, for: candidate) == nil
        else { return nil }
        return candidate.hash
    }

    /// Whether `candidate` already has a result at `rung` (a FINAL for it is a duplicate).
    func hasResult(_ candidate: CandidateState, at rung: Int) -> Bool {
        if candidate.kind != .search { return candidate.status == .done }
        if engine.ladder.results.indices.contains(rung), engine.ladder.result(of: candidate.hash, at: rung) != nil { return true }
        // Runs from before multi-fidelity resume with an empty ladder: a done candidate has its result.
        return !setup.isMultiFidelity && candidate.status == .done
    }

    /// After a FINAL an 18/MDP worker waits for the next REQUEST without saying READY again, so a
    /// connected, trusted worker that holds no other lease is idle from now on.
    private func markIdleAfterFinal(_ worker: String) {
        guard workers.isLive(worker), !leases.values.contains(where: { $0.worker == worker }) else { return }
        workers.becameIdle(worker)
    }

    /// Why `result` cannot belong to this run and candidate, or nil.
    func mismatch(in result: EvaluationResult, for candidate: CandidateState) -> String? {
        if result.datasetFingerprint != metadata.datasetFingerprint {
            return "dataset fingerprint \(result.datasetFingerprint.prefix(16)) differs from the run's \(metadata.datasetFingerprint.prefix(16))"
        }
        if result.checkpointHash != metadata.checkpointHash {
            return "checkpoint hash \(result.checkpointHash.prefix(16)) differs from the run's \(metadata.checkpointHash.prefix(16))"
        }
        if result.configHash != candidate.resultHash {
            return "result is for configuration \(result.configHash.prefix(12)), not \(candidate.resultHash.prefix(12))"
        }
        if result.config != candidate.config {
            return "result's configuration differs from the candidate's"
        }
        let problems = result.problems
        if !problems.isEmpty {
            return "result out of range: " + problems.prefix(3).joined(separator: "; ")
        }
        return nil
    }

    private func recordDuplicate(_ key: AttemptKey, worker: String, at now: Date) throws -> OutcomeDisposition {
        try store.write { w in
            try w.finishAttempt(candidateId: key.candidateId, number: key.attempt, state: .done, error: "superseded: the candidate already has a result", at: now)
            try w.endBusy(candidateId: key.candidateId, attempt: key.attempt, at: now)
            try w.workerSeen(worker, at: now)
            try w.appendEvent("duplicate-final", at: now, candidateId: key.candidateId, attempt: key.attempt, worker: worker)
        }
        logger.info("Duplicate FINAL ignored", metadata: ["candidate.id": "\(key.candidateId)", "candidate.attempt": "\(key.attempt)"])
        return .duplicate
    }

    private func accept(_ result: EvaluationResult, key: AttemptKey, worker: String, late: Bool, at now: Date) throws -> OutcomeDisposition {
        var candidate = candidates[key.candidateId]!
        let objectives: [Double]
        let violations: [Double]
        do {
            objectives = try setup.objectives.map { objective throws(MissingFigure) in try objective.value(in: result) }
            violations = try setup.constraints.map { constraint throws(MissingFigure) in try constraint.value(in: result) }
        } catch {
            return try fail(key, worker: worker, reason: "unusable result: \(error)", at: now)
        }
        guard objectives.allSatisfy(\.isFinite), violations.allSatisfy(\.isFinite) else {
            return try fail(key, worker: worker, reason: "unusable result: objectives \(objectives), constraints \(violations)", at: now)
        }
        if candidate.isReference { return try acceptReference(result, key: key, worker: worker, late: late, at: now) }
        if case .reseed(let of, let replicate) = candidate.kind {
            return try acceptReseed(result, of: of, replicate: replicate, key: key, worker: worker, late: late, at: now)
        }
        let rung = attemptRungs[key] ?? 0
        let fullFidelity = rung == engine.fidelity.topRung
        var next = engine
        do {
            try next.record(candidate.hash, config: candidate.config, rung: rung, fitness: Fitness(objectives: objectives, constraintValues: violations))
        } catch {
            // The search checks what no range check here can (e.g. constraint sums that overflow);
            // it changed nothing, so the result is only unusable.
            return try reject(key, worker: worker, reason: "unusable result: \(error)", at: now)
        }
        engine = next
        // The hypervolume history is keyed by full-fidelity results (every result when single-fidelity).
        let evaluations = setup.isMultiFidelity ? engine.ladder.results[engine.fidelity.topRung].count : search.statistics.evaluations
        let hypervolume = search.hypervolume
        try store.write { w in
            try w.finishAttempt(candidateId: key.candidateId, number: key.attempt, state: .done, at: now)
            try w.endBusy(candidateId: key.candidateId, attempt: key.attempt, at: now)
            if fullFidelity {
                try w.insertResult(candidateId: key.candidateId, attempt: key.attempt, result: result, objectives: objectives, violations: violations, at: now)
                try w.appendHypervolume(evaluations: evaluations, wallSeconds: activeSeconds(at: now), value: hypervolume)
            } else {
                try w.insertRungResult(
                    candidateId: key.candidateId, rung: rung, attempt: key.attempt, steps: result.fineTune.totalSteps, result: result,
                    objectives: objectives, violations: violations, at: now)
            }
            try w.setCandidateStatus(key.candidateId, .done, finishedAt: now)
            try w.workerSeen(worker, at: now)
            try w.appendEvent(
                "result", at: now, candidateId: key.candidateId, attempt: key.attempt, worker: worker,
                payload: ["late": String(late), "hypervolume": String(hypervolume), "rung": String(rung), "steps": String(result.fineTune.steps)])
            try w.saveSearchState(engine, at: now)
            try w.touchSession(sessionID, at: now)
        }
        qatSteps += result.fineTune.steps
        lastTouch = now
        candidate.status = .done
        candidates[key.candidateId] = candidate
        queue.removeAll { $0 == key.candidateId }
        logger.info(
            "Accepted result",
            metadata: ["candidate.id": "\(key.candidateId)", "candidate.attempt": "\(key.attempt)", "late": "\(late)", "hypervolume": "\(hypervolume)"])
        return .accepted(late: late)
    }

    /// The fine-tuned FP32 model's result: stored as the run's reference, never told to the search.
    private func acceptReference(_ result: EvaluationResult, key: AttemptKey, worker: String, late: Bool, at now: Date) throws -> OutcomeDisposition {
        try store.write { w in
            try w.finishAttempt(candidateId: key.candidateId, number: key.attempt, state: .done, at: now)
            try w.endBusy(candidateId: key.candidateId, attempt: key.attempt, at: now)
            try w.insertReferenceResult(candidateId: key.candidateId, attempt: key.attempt, result: result, at: now)
            try w.setCandidateStatus(key.candidateId, .done, finishedAt: now)
            try w.workerSeen(worker, at: now)
            try w.appendEvent(
                "reference-result", at: now, candidateId: key.candidateId, attempt: key.attempt, worker: worker,
                payload: result.accuracy.mapValues { String($0) })
            try w.touchSession(sessionID, at: now)
        }
        qatSteps += result.fineTune.steps
        lastTouch = now
        candidates[key.candidateId]?.status = .done
        queue.removeAll { $0 == key.candidateId }
        logger.info("Fine-tuned FP32 reference measured", metadata: ["accuracy": "\(result.accuracy)"])
        return .accepted(late: late)
    }

    /// A supernet job's derived configuration: stored with its π table and trajectory, and queued
    /// for the search as a seed of origin `supernet` (first in line, unless already proposed), in
    /// one transaction with the search state.
    private func acceptSupernet(_ derived: SupernetResult, key: AttemptKey, worker: String, late: Bool, at now: Date) throws -> OutcomeDisposition {
        var next = engine
        let queued = next.addSeeds([derived.config], origin: .supernet)
        engine = next
        try store.write { w in
            try w.finishAttempt(candidateId: key.candidateId, number: key.attempt, state: .done, at: now)
            try w.endBusy(candidateId: key.candidateId, attempt: key.attempt, at: now)
            try w.insertSupernetResult(candidateId: key.candidateId, attempt: key.attempt, result: derived, at: now)
            try w.setCandidateStatus(key.candidateId, .done, finishedAt: now)
            try w.workerSeen(worker, at: now)
            try w.appendEvent(
                "supernet-result", at: now, candidateId: key.candidateId, attempt: key.attempt, worker: worker,
                payload: [
                    "lambda": String(derived.lambda), "config": derived.configHash, "queued": String(queued == 1),
                    "derived_relative_energy": String(derived.derivedRelativeEnergy), "steps": String(derived.steps),
                ])
            try w.saveSearchState(engine, at: now)
            try w.touchSession(sessionID, at: now)
        }
        qatSteps += derived.steps
        lastTouch = now
        candidates[key.candidateId]?.status = .done
        queue.removeAll { $0 == key.candidateId }
        logger.info(
            "Supernet derived a configuration",
            metadata: ["lambda": "\(derived.lambda)", "config": "\(derived.configHash.prefix(12))", "queued": "\(queued == 1)"])
        return .accepted(late: late)
    }

    /// The evaluation raised. From the candidate's current attempt this makes it FAILED; from a
    /// superseded attempt it is only recorded.
    private func fail(_ key: AttemptKey, worker: String, reason: String, at now: Date) throws -> OutcomeDisposition {
        var candidate = candidates[key.candidateId]!
        let current = key.attempt == candidate.dispatched && candidate.status != .failed
        let inSearch = search.inFlight.contains { $0.hash == candidate.hash }
        if current && inSearch { try engine.recordFailure(candidate.hash, rung: 0) }
        // A failed promotion leaves the candidate with its lower-rung result: done, not failed.
        let keepsLowerResult = (attemptRungs[key] ?? 0) > 0 && candidate.kind == .search
        let endStatus: CandidateStatus = keepsLowerResult ? .done : .failed
        try store.write { w in
            try w.finishAttempt(candidateId: key.candidateId, number: key.attempt, state: .failed, error: reason, at: now)
            try w.endBusy(candidateId: key.candidateId, attempt: key.attempt, at: now)
            try w.workerSeen(worker, at: now)
            if current {
                try w.setCandidateStatus(key.candidateId, endStatus, reason: reason, finishedAt: now)
                try w.appendEvent("failed", at: now, candidateId: key.candidateId, attempt: key.attempt, worker: worker, payload: ["reason": reason])
                if inSearch { try w.saveSearchState(engine, at: now) }
            } else {
                try w.appendEvent("late-failure-ignored", at: now, candidateId: key.candidateId, attempt: key.attempt, worker: worker, payload: ["reason": reason])
            }
        }
        guard current else { return .failureIgnored }
        logger.info("Evaluation failed", metadata: ["candidate.id": "\(key.candidateId)", "candidate.attempt": "\(key.attempt)", "reason": "\(reason)"])
        candidate.status = endStatus
        candidates[key.candidateId] = candidate
        queue.removeAll { $0 == key.candidateId }
        return .failed(reason: reason)
    }

    /// Refuses a result from a misconfigured worker: attempt `rejected`, worker quarantined, and the
    /// candidate treated as if the lease were lost (re-queued, or given up at the cap).
    private func reject(_ key: AttemptKey, worker: String, reason: String, at now: Date) throws -> OutcomeDisposition {
        workers.quarantine(worker, reason: reason)
        let candidate = candidates[key.candidateId]!
        let current = key.attempt == candidate.dispatched && (candidate.status == .running || candidate.status == .pending)
        try requeueOrGiveUp(key, current: current, reason: reason, at: now) { w in
            try w.finishAttempt(candidateId: key.candidateId, number: key.attempt, state: .rejected, error: reason, at: now)
            try w.endBusy(candidateId: key.candidateId, attempt: key.attempt, at: now)
            try w.quarantineWorker(worker, reason: reason, at: now)
            try w.appendEvent("rejected", at: now, candidateId: key.candidateId, attempt: key.attempt, worker: worker, payload: ["reason": reason])
        }
        logger.info("Result rejected", metadata: ["candidate.id": "\(key.candidateId)", "worker": "\(worker)", "reason": "\(reason)"])
        return .rejected(reason: reason)
    }
}
