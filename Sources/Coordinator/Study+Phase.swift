import Foundation
import Logging
import RunStore
import Search
import Wire

extension Study {
    /// Moves running → draining when a budget is reached or the space is exhausted, and draining →
    /// finished when nothing is in flight or queued (after the `final.reseeds` re-fine-tunes, if
    /// any), or when the grace period is over (then running attempts are abandoned as
    /// `interrupted` and their candidates left pending for a resume).
    func updatePhase(at now: Date) throws {
        switch phase {
        case .running:
            let reason: StopReason?
            if let limit = setup.budget.evaluations, searchCandidateCount >= limit {
                reason = .evaluationBudget
            } else if let limit = setup.budget.wallSeconds, activeSeconds(at: now) >= limit {
                reason = .wallTime
            } else if engine.isExhausted && !sweepUnfinished {
                reason = .exhausted
            } else {
                reason = nil
            }
            guard let reason else { return }
            phase = .draining(since: now, reason: reason)
            try store.write { w in
                try w.appendEvent("budget-reached", at: now, payload: ["reason": reason.rawValue, "in_flight": String(leases.count), "queued": String(queue.count)])
            }
            logger.info("Budget reached; finishing in-flight work", metadata: ["reason": "\(reason.rawValue)", "in.flight": "\(leases.count)"])
            try updatePhase(at: now)
        case .draining(let since, let reason):
            // Candidates may still climb the rungs after an evaluation budget (it counts candidates).
            let promotionsLeft = reason != .wallTime && engine.hasPromotion
            if leases.isEmpty && queue.isEmpty && !promotionsLeft {
                // `final.reseeds` re-tunes the finished front, within a grace period of its own.
                if reason != .wallTime, try queueReseeds(at: now) {
                    phase = .draining(since: now, reason: reason)
                    return
                }
                try finish(reason, at: now)
            } else if let grace = setup.budget.graceSeconds, now.timeIntervalSince(since) >= grace {
                try abandonInFlight(because: "grace period of \(Int(grace)) s after the budget ended", at: now)
                try finish(reason, at: now)
            }
        case .finished:
            return
        }
    }

    /// Ends the run now (e.g. on SIGINT): running attempts become `interrupted`, their candidates
    /// pending, so `resume` picks them up. Idempotent.
    public func stop(reason: String) throws {
        guard !isFinished else { return }
        let now = clock.now
        try abandonInFlight(because: "stopped: \(reason)", at: now)
        try finish(.stopped, at: now)
        finishedReported = true
    }

    private func abandonInFlight(because reason: String, at now: Date) throws {
        let abandoned = leases.values.sorted { $0.key < $1.key }
        try store.write { w in
            for lease in abandoned {
                try w.finishAttempt(candidateId: lease.key.candidateId, number: lease.key.attempt, state: .interrupted, error: reason, at: now)
                try w.endBusy(candidateId: lease.key.candidateId, attempt: lease.key.attempt, at: now)
                if candidates[lease.key.candidateId]?.status == .running { try w.setCandidateStatus(lease.key.candidateId, .pending, reason: reason) }
            }
            try w.appendEvent("abandoned", at: now, payload: ["attempts": String(abandoned.count), "reason": reason])
        }
        leases.removeAll()
        for lease in abandoned where candidates[lease.key.candidateId]?.status == .running {
            candidates[lease.key.candidateId]?.status = .pending
        }
    }

    private func finish(_ reason: StopReason, at now: Date) throws {
        phase = .finished(reason)
        let summary = self.summary
        try store.write { w in
            try w.touchSession(sessionID, at: now)
            try w.appendEvent(
                "finished", at: now,
                payload: [
                    "reason": reason.rawValue, "done": String(summary.done), "failed": String(summary.failed), "stale": String(summary.stale),
                    "unfinished": String(summary.unfinished), "hypervolume": String(summary.hypervolume),
                ])
        }
        lastTouch = now
        logger.info(
            "Run finished",
            metadata: ["reason": "\(reason.rawValue)", "done": "\(summary.done)", "failed": "\(summary.failed)", "hypervolume": "\(summary.hypervolume)"])
    }
}
