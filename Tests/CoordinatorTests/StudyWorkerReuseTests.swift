import Coordinator
import Foundation
import RunStore
import Search
import Testing
import Wire

/// 18/MDP workers say READY once, when they connect; after each FINAL they wait for the next
/// REQUEST. These tests pin down when the study treats a worker as free again.
struct StudyWorkerReuseTests {
    let clock = ManualClock()

    @Test func aWorkerGetsItsNextCandidateFromItsOwnFinalWithoutReady() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, StudyFixtures.setup(evaluations: 6))
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w1"))
        d.apply(try study.workerReady("w2"))
        let held2 = try #require(d.byWorker["w2"])

        // A success: the same worker gets a new candidate; w2, still busy, gets nothing.
        let (first, accepted) = try d.finish("w1", in: study)
        #expect(accepted.disposition == .accepted(late: false))
        #expect(accepted.actions.dispatchedWorkers == ["w1"])
        let second = try #require(accepted.actions.requests(to: "w1").first)
        #expect(second.candidateId != first.candidateId && second.candidateId != held2.candidateId && second.attempt == 1)

        // A failure frees the worker just the same.
        let (_, failed) = try d.finish("w1", in: study) { StudyFixtures.failure($0, worker: "w1") }
        #expect(failed.disposition == .failed(reason: "diverged: loss became NaN"))
        #expect(failed.actions.dispatchedWorkers == ["w1"])

        // w2 is lost; its candidate waits for a free worker, and re-issues go first: w1's next FINAL
        // brings it attempt 2.
        d.apply(try study.workerLost("w2", holding: d.take("w2"), reason: "partition"))
        #expect(study.queuedCandidates == [held2.candidateId])
        let (_, third) = try d.finish("w1", in: study)
        let reissue = try #require(third.actions.requests(to: "w1").first)
        #expect(reissue.candidateId == held2.candidateId && reissue.attempt == 2)

        // w2's own late FINAL wins; w2 was lost, so it is not idle until it says READY again.
        let late = try study.outcome(StudyFixtures.success(held2, worker: "w2"), from: "w2")
        #expect(late.disposition == .accepted(late: true) && late.actions.isEmpty)

        // w1 finishes the superseded re-issue: a duplicate, and w1 moves on again.
        let (_, duplicate) = try d.finish("w1", in: study)
        #expect(duplicate.disposition == .duplicate && duplicate.actions.dispatchedWorkers == ["w1"])

        // A READY from a worker that holds a lease still means it restarted: that lease is lost.
        let restarted = d.take("w1")
        let ready = try study.workerReady("w1")
        let redo = try #require(ready.requests(to: "w1").first)
        #expect(redo.candidateId == restarted.candidateId && redo.attempt == restarted.attempt + 1)
        d.apply(ready)
        #expect(try study.store.attempts(candidateId: restarted.candidateId).map(\.state) == [.stale, .running])

        let store = study.store
        #expect(try store.workers().first { $0.name == "w1" }?.connects == 1)
        #expect(try store.results().count == 3)
        #expect(try store.events(kind: "duplicate-final").count == 1)
    }

    @Test func oneWorkerRunsAWholeRunOnItsFinals() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, StudyFixtures.setup(evaluations: 8))
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("solo"))
        var finals = 0
        while d.finished.isEmpty {
            try #require(d.byWorker["solo"] != nil, "stalled after \(finals) FINALs")
            clock.advance(3)
            try d.finish("solo", in: study)
            finals += 1
        }
        #expect(finals == 8 && d.all.count == 8)
        #expect(d.finished.first?.done == 8)
        #expect(try study.store.attempts().allSatisfy { $0.state == .done && $0.worker == "solo" })
        #expect(try study.store.busyIntervals().count == 8)
    }

    @Test func aBusyRefusalRequeuesTheCandidateAndLeavesTheWorkerBusy() throws {
        // Two lost attempts give a candidate up, so a refusal that counted would give it up here.
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, StudyFixtures.setup(maxAttempts: 2))
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w1"))
        d.apply(try study.workerReady("w2"))
        let evaluating = d.take("w1")
        // A partition: the broker drops w1, which goes on evaluating.
        d.apply(try study.workerLost("w1", holding: evaluating, reason: "partition"))
        #expect(study.queuedCandidates == [evaluating.candidateId])

        // w1 reconnects, is handed the re-issue, and refuses it: it is still busy.
        d.apply(try study.workerReady("w1"))
        let refusedRequest = d.take("w1")
        #expect(refusedRequest.candidateId == evaluating.candidateId && refusedRequest.attempt == 2)
        let refusal = try study.outcome(StudyFixtures.busy(refusedRequest, worker: "w1"), from: "w1")
        #expect(refusal.disposition == .failureIgnored)
        #expect(refusal.actions.isEmpty, "w1 is not idle and w2 is busy: nobody to give the candidate to")
        #expect(study.queuedCandidates == [evaluating.candidateId], "re-queued first")
        #expect(study.inFlight.map(\.worker) == ["w2"])
        let candidate = try #require(try study.store.candidate(id: evaluating.candidateId))
        #expect(candidate.status == .pending, "a refusal is not held against the candidate")
        let attempts = try study.store.attempts(candidateId: evaluating.candidateId)
        #expect(attempts.map(\.state) == [.stale, .interrupted])
        #expect(attempts[1].error?.contains("busy") == true)
        #expect(study.search.failed.isEmpty)
        #expect(try study.store.results().isEmpty)

        // Time passes: still nothing for w1.
        clock.advance(5)
        let tick = try study.tick()
        #expect(tick.requests(to: "w1").isEmpty)
        d.apply(tick)

        // w2 finishes and takes the re-issue (attempt 3: still under the cap of 2 lost attempts).
        let (_, w2Final) = try d.finish("w2", in: study)
        #expect(w2Final.actions.dispatchedWorkers == ["w2"])
        let third = try #require(d.byWorker["w2"])
        #expect(third.candidateId == evaluating.candidateId && third.attempt == 3)

        // w1's own FINAL arrives: the first result wins, and w1 is free again, with a new candidate.
        let late = try study.outcome(StudyFixtures.success(evaluating, worker: "w1"), from: "w1")
        #expect(late.disposition == .accepted(late: true))
        d.apply(late.actions)
        let next = try #require(late.actions.requests(to: "w1").first, "w1 is idle after its FINAL")
        #expect(next.candidateId != evaluating.candidateId && next.attempt == 1)
        let (_, duplicate) = try d.finish("w2", in: study)
        #expect(duplicate.disposition == .duplicate)
        #expect(try study.store.attempts(candidateId: evaluating.candidateId).map(\.state) == [.done, .interrupted, .done])
        #expect(try study.store.result(candidateId: evaluating.candidateId)?.attempt == 1)
        #expect(try study.store.events(kind: "dispatch-failed").count == 1)
    }

    @Test func aBusyRefusalAfterTheLeaseWasLostChangesNothing() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock)
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w1"))
        let request = d.take("w1")
        d.apply(try study.workerLost("w1", holding: request, reason: "disconnected"))
        let refusal = try study.outcome(StudyFixtures.busy(request, worker: "w1"), from: "w1")
        #expect(refusal.disposition == .failureIgnored && refusal.actions.isEmpty)
        #expect(try study.store.attempts(candidateId: request.candidateId).map(\.state) == [.stale])
        #expect(study.queuedCandidates == [request.candidateId])
    }

    @Test func aFinalForAnUnknownAttemptStillFreesTheWorker() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock)
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w1"))
        let request = d.take("w1")
        // The broker could not deliver: it still believes w1 is busy with an earlier dispatch.
        let failed = try study.dispatchFailed(request, worker: "w1", reason: "worker is busy with dispatch 7")
        #expect(failed.isEmpty, "w1 is not idle")
        // That earlier evaluation ends with a FINAL the study knows nothing about: w1 is free now.
        let stray = EvaluationOutcome(
            candidateId: 999, attempt: 1, result: nil, error: EvaluationFailure(kind: .internal, message: "from another run"), worker: "w1")
        let report = try study.outcome(stray, from: "w1")
        #expect(report.disposition == .unknown)
        let retry = try #require(report.actions.requests(to: "w1").first, "without a READY to come, w1 would stall")
        #expect(retry.candidateId == request.candidateId && retry.attempt == 2)
        d.apply(report.actions)

        // A busy refusal for an unknown attempt does not free the worker.
        d.apply(try study.workerReady("w2"))
        let second = d.take("w2")
        d.apply(try study.dispatchFailed(second, worker: "w2", reason: "worker is busy with dispatch 8"))
        let busy = try study.outcome(
            EvaluationOutcome(
                candidateId: 999, attempt: 3, result: nil, error: EvaluationFailure(kind: .busy, message: "still evaluating"), worker: "w2"),
            from: "w2")
        #expect(busy.disposition == .unknown && busy.actions.isEmpty)
        // A FINAL from a worker that holds a lease does not free it either.
        let bogus = EvaluationOutcome(candidateId: 999, attempt: 1, result: nil, error: EvaluationFailure(kind: .internal, message: "?"), worker: "w1")
        #expect(try study.outcome(bogus, from: "w1").actions.isEmpty)
        #expect(study.queuedCandidates == [second.candidateId])
    }

    @Test func aQuarantinedWorkerGetsNothingAfterItsFinals() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock)
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("bad"))
        let first = d.take("bad")
        d.apply(try study.workerLost("bad", holding: first, reason: "partition"))
        d.apply(try study.workerReady("bad"))
        let second = d.take("bad")
        #expect(second.candidateId == first.candidateId && second.attempt == 2)
        // The first attempt's result comes back from the wrong dataset: the worker is quarantined.
        let wrong = EvaluationOutcome(
            candidateId: first.candidateId, attempt: 1, result: StudyFixtures.result(for: first.config, fingerprint: "other-dataset"), error: nil,
            worker: "bad")
        let rejected = try study.outcome(wrong, from: "bad")
        guard case .rejected(let reason) = rejected.disposition else {
            Issue.record("expected a rejection, got \(rejected.disposition)")
            return
        }
        #expect(rejected.actions == [.disconnect(worker: "bad", reason: reason)])
        // Its FINAL for the attempt it still held arrives before the disconnect: checked on its own
        // merits, but the worker is not made idle, though new candidates are waiting.
        let last = try study.outcome(StudyFixtures.success(second, worker: "bad"), from: "bad")
        #expect(last.disposition == .accepted(late: false))
        #expect(last.actions.isEmpty)
        let again = try study.outcome(StudyFixtures.failure(second, worker: "bad"), from: "bad")
        #expect(again.disposition == .duplicate && again.actions.isEmpty)
        #expect(try study.workerReady("bad") == [.disconnect(worker: "bad", reason: reason)])
        d.apply(try study.workerReady("good"))
        #expect(d.take("good").candidateId != first.candidateId)
    }
}
