import Broker
import Coordinator
import Foundation
import QuantConfig
import RunStore
import Search
import Testing
import Wire

struct StudyTests {
    let clock = ManualClock()

    @Test func runsToTheEvaluationBudgetWithoutRepeats() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, StudyFixtures.setup(evaluations: 12))
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        for worker in ["w1", "w2", "w3"] { d.apply(try study.workerReady(worker)) }
        #expect(d.byWorker.count == 3)
        var turn = 0
        while d.finished.isEmpty {
            let busy = d.byWorker.keys.sorted()
            try #require(!busy.isEmpty, "the run stalled with \(d.all.count) dispatches")
            let worker = busy[turn % busy.count]
            turn += 1
            clock.advance(5)
            let started = d.all.count
            let (_, report) = try d.finish(worker, in: study)
            // Each worker said READY once; its later requests come with its own FINALs.
            #expect(report.actions.dispatchedWorkers == (started < 12 ? [worker] : []))
        }
        #expect(d.all.count == 12, "no dispatch beyond the budget")
        #expect(Set(d.all.map(\.config.hash)).count == 12, "no configuration evaluated twice")
        #expect(d.all.allSatisfy { $0.attempt == 1 && $0.seed == Study.candidateSeed(runSeed: 7, configHash: $0.config.hash, attempt: 1) })
        #expect(d.finished.count == 1 && d.finished[0].done == 12 && d.finished[0].reason == .evaluationBudget)
        #expect(try study.workerReady("w1").isEmpty, "nothing after the end")
        let store = study.store
        #expect(try store.results().count == 12)
        #expect(try store.hypervolumeHistory().map(\.evaluations) == Array(1...12))
        #expect(try store.hypervolumeHistory().last?.value == study.search.hypervolume)
        #expect(try store.attempts().allSatisfy { $0.state == .done })
        #expect(try store.busyIntervals().count == 12 && store.busyIntervals().allSatisfy { $0.end != nil })
        #expect(try store.candidates().prefix(3).map(\.origin) == [.baseline, .baseline, .baseline])
        #expect(try store.events(kind: "finished").count == 1)
        #expect(try store.workers().map(\.name) == ["w1", "w2", "w3"])
    }

    @Test func anExpiredLeaseRequeuesTheCandidateAsAttemptTwo() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock)
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w1"))
        let first = d.take("w1")
        // Progress keeps the lease alive past the original deadline.
        clock.advance(600)
        _ = try study.progress(EvaluationProgress(candidateId: first.candidateId, attempt: 1, phase: "finetune", step: 3, steps: 10), from: "w1")
        clock.advance(600)
        d.apply(try study.tick())
        #expect(d.disconnected.isEmpty)
        #expect(study.inFlight.first?.progress?.step == 3)
        // Then silence for longer than the progress timeout.
        clock.advance(301)
        d.apply(try study.tick())
        #expect(d.disconnected == ["w1"], "the hung worker is dropped")
        #expect(study.queuedCandidates == [first.candidateId])
        d.apply(try study.workerReady("w2"))
        let retry = d.take("w2")
        #expect(retry.candidateId == first.candidateId && retry.attempt == 2 && retry.config == first.config)
        #expect(retry.seed != first.seed && retry.seed == Study.candidateSeed(runSeed: 7, configHash: first.config.hash, attempt: 2))
        _ = try study.outcome(StudyFixtures.success(retry), from: "w2")
        let attempts = try study.store.attempts(candidateId: first.candidateId)
        #expect(attempts.map(\.state) == [.stale, .done])
        #expect(attempts[0].error?.contains("no progress") == true)
        #expect(try study.store.result(candidateId: first.candidateId)?.attempt == 2)
    }

    /// `lease.heartbeat_timeout` is the broker's expiry: a worker silent that long is lost.
    @Test func heartbeatTimeoutSetsTheBrokerLiveness() {
        #expect(BrokerConfiguration.liveness(timeout: 30, interval: .seconds(1)) == 30)
        #expect(BrokerConfiguration.liveness(timeout: 2.5, interval: .milliseconds(1000)) == 3)
        #expect(BrokerConfiguration.liveness(timeout: 0.5, interval: .seconds(1)) == 2, "never less than two intervals")
        var configuration = BrokerConfiguration(endpoint: "tcp://127.0.0.1:*")
        configuration.heartbeatInterval = .milliseconds(500)
        configuration.heartbeatLiveness = BrokerConfiguration.liveness(timeout: 30, interval: configuration.heartbeatInterval)
        #expect(configuration.expiry == .seconds(30))
    }

    @Test func theRetryCapGivesUpAsStaleWithTheReason() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, StudyFixtures.setup(maxAttempts: 2))
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w1"))
        let request = d.take("w1")
        d.apply(try study.workerLost("w1", holding: request, reason: "heartbeat timeout"))
        d.apply(try study.workerReady("w2"))
        let second = d.take("w2")
        #expect(second.candidateId == request.candidateId && second.attempt == 2)
        d.apply(try study.workerLost("w2", holding: nil, reason: "disconnected"))
        let candidate = try #require(try study.store.candidate(id: request.candidateId))
        #expect(candidate.status == .stale)
        #expect(candidate.reason?.contains("gave up after 2 lost attempts") == true)
        #expect(study.queuedCandidates.isEmpty)
        d.apply(try study.workerReady("w3"))
        let next = d.take("w3")
        #expect(next.candidateId != request.candidateId && next.config != request.config, "never proposed again")
        #expect(!study.search.inFlight.contains { $0.hash == request.config.hash })
    }

    @Test func anEvaluationErrorIsFailedNotStale() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock)
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w1"))
        let request = d.take("w1")
        let report = try study.outcome(StudyFixtures.failure(request, worker: "w1"), from: "w1")
        #expect(report.disposition == .failed(reason: "diverged: loss became NaN"))
        let next = try #require(report.actions.requests(to: "w1").first, "the worker is free again after a failure")
        #expect(next.candidateId != request.candidateId && next.attempt == 1)
        let candidate = try #require(try study.store.candidate(id: request.candidateId))
        #expect(candidate.status == .failed && candidate.reason == "diverged: loss became NaN")
        #expect(try study.store.attempts(candidateId: request.candidateId).map(\.state) == [.failed])
        #expect(study.queuedCandidates.isEmpty, "not retried")
        #expect(study.search.failed.map(\.hash) == [request.config.hash])
        #expect(try study.store.results().isEmpty)
    }

    @Test func aLateFinalIsAcceptedOnceAndNeverDoubleCounted() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock)
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w1"))
        let first = d.take("w1")
        d.apply(try study.workerLost("w1", holding: first, reason: "network partition"))
        d.apply(try study.workerReady("w2"))
        let second = d.take("w2")
        #expect(second.candidateId == first.candidateId && second.attempt == 2)
        // The partitioned worker comes back with its result for attempt 1: the first result wins.
        let late = try study.outcome(StudyFixtures.success(first), from: "w1")
        #expect(late.disposition == .accepted(late: true))
        #expect(late.actions.isEmpty, "w1 was lost: it gets work once it says READY again")
        // The re-issued attempt finishes too: recorded, not counted; w2 moves on to a new candidate.
        let duplicate = try study.outcome(StudyFixtures.success(second), from: "w2")
        #expect(duplicate.disposition == .duplicate)
        let next = try #require(duplicate.actions.requests(to: "w2").first)
        #expect(duplicate.actions.dispatchedWorkers == ["w2"] && next.candidateId != first.candidateId)
        let again = try study.outcome(StudyFixtures.success(first), from: "w1")
        #expect(again.disposition == .duplicate && again.actions.isEmpty)
        #expect(try study.store.results().count == 1)
        #expect(try study.store.result(candidateId: first.candidateId)?.attempt == 1)
        #expect(study.search.statistics.evaluations == 1)
        #expect(try study.store.hypervolumeHistory().count == 1)
        #expect(try study.store.events(kind: "duplicate-final").count == 2)
        #expect(try study.store.attempts(candidateId: first.candidateId).map(\.state) == [.done, .done])
    }

    @Test func aLateFinalForAQueuedCandidateTakesItOffTheQueue() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock)
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w1"))
        let first = d.take("w1")
        d.apply(try study.workerLost("w1", holding: first, reason: "lost"))
        #expect(study.queuedCandidates == [first.candidateId])
        let late = try study.outcome(StudyFixtures.success(first), from: "w1")
        #expect(late.disposition == .accepted(late: true))
        #expect(late.actions.isEmpty, "the lost worker is not idle")
        #expect(study.queuedCandidates.isEmpty)
        d.apply(try study.workerReady("w2"))
        #expect(d.take("w2").candidateId != first.candidateId)
    }

    @Test func progressFromAWorkerThoughtLostRestoresItsLease() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock)
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w1"))
        let request = d.take("w1")
        d.apply(try study.workerLost("w1", holding: request, reason: "partition"))
        #expect(study.queuedCandidates == [request.candidateId])
        _ = try study.progress(EvaluationProgress(candidateId: request.candidateId, attempt: 1, phase: "evaluate"), from: "w1")
        #expect(study.queuedCandidates.isEmpty, "not re-issued: the worker is still on it")
        #expect(study.inFlight.map(\.key) == [AttemptKey(candidateId: request.candidateId, attempt: 1)])
        #expect(try study.store.attempts(candidateId: request.candidateId).map(\.state) == [.running])
        let report = try study.outcome(StudyFixtures.success(request), from: "w1")
        #expect(report.disposition == .accepted(late: false))
        #expect(report.actions.requests(to: "w1").count == 1, "a re-attached worker is idle after its FINAL")
    }

    @Test func mismatchedResultsAreRejectedAndTheWorkerQuarantined() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock)
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("bad"))
        let request = d.take("bad")
        let wrongData = EvaluationOutcome(
            candidateId: request.candidateId, attempt: 1, result: StudyFixtures.result(for: request.config, fingerprint: "other-dataset"), error: nil,
            worker: "bad")
        let report = try study.outcome(wrongData, from: "bad")
        guard case .rejected(let reason) = report.disposition else {
            Issue.record("expected a rejection, got \(report.disposition)")
            return
        }
        #expect(reason.contains("dataset fingerprint"))
        #expect(report.actions == [.disconnect(worker: "bad", reason: reason)], "the candidate waits; the quarantined worker gets nothing")
        #expect(try study.workerReady("bad") == [.disconnect(worker: "bad", reason: reason)], "never gets work again")
        #expect(try study.store.workers().first { $0.name == "bad" }?.quarantined == reason)
        d.apply(try study.workerReady("good"))
        let retry = d.take("good")
        #expect(retry.candidateId == request.candidateId && retry.attempt == 2)
        let wrongCheckpoint = EvaluationOutcome(
            candidateId: retry.candidateId, attempt: 2, result: StudyFixtures.result(for: retry.config, checkpoint: "another-ckpt"), error: nil, worker: "good")
        guard case .rejected(let second) = try study.outcome(wrongCheckpoint, from: "good").disposition else {
            Issue.record("expected a rejection")
            return
        }
        #expect(second.contains("checkpoint hash"))
        d.apply(try study.workerReady("third"))
        let third = d.take("third")
        let cannotLoad = try study.outcome(StudyFixtures.failure(third, kind: .datasetMismatch, worker: "third"), from: "third")
        guard case .rejected = cannotLoad.disposition else {
            Issue.record("a worker that cannot load the dataset is not the candidate's fault")
            return
        }
        // Three refusals reach the cap (3): the candidate is given up as stale, never failed.
        #expect(try study.store.candidate(id: request.candidateId)?.status == .stale)
        #expect(try study.store.attempts(candidateId: request.candidateId).map(\.state) == [.rejected, .rejected, .rejected])
        #expect(try study.store.results().isEmpty)
    }

    @Test func unknownFinalsAndFailedDispatches() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock)
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w1"))
        let request = d.take("w1")
        var bogus = StudyFixtures.success(request)
        bogus.attempt = 5
        #expect(try study.outcome(bogus, from: "w1").disposition == .unknown)
        bogus.candidateId = 999
        #expect(try study.outcome(bogus, from: "w1").disposition == .unknown)
        d.apply(try study.dispatchFailed(request, worker: "w1", reason: "worker busy"))
        #expect(study.queuedCandidates == [request.candidateId])
        d.apply(try study.workerReady("w2"))
        let again = d.take("w2")
        #expect(again.candidateId == request.candidateId && again.attempt == 2)
        #expect(try study.store.attempts(candidateId: request.candidateId).map(\.state) == [.interrupted, .running])
        // A worker that says READY while holding a lease has lost that work.
        d.apply(try study.workerReady("w2"))
        let third = d.byWorker["w2"]!
        #expect(third.candidateId == request.candidateId && third.attempt == 3)
        #expect(try study.store.attempts(candidateId: request.candidateId).map(\.state) == [.interrupted, .stale, .running])
    }

    @Test func wallTimeBudgetWithGraceAbandonsWhatIsStillRunning() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, StudyFixtures.setup(evaluations: nil, wallSeconds: 100, grace: 30))
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w1"))
        d.apply(try study.workerReady("w2"))
        clock.advance(50)
        let (_, first) = try d.finish("w1", in: study)
        #expect(first.actions.dispatchedWorkers == ["w1"])
        #expect(d.byWorker.count == 2)
        clock.advance(60)
        d.apply(try study.tick())
        guard case .draining(_, .wallTime) = study.phase else {
            Issue.record("expected draining, got \(study.phase)")
            return
        }
        // In-flight work may still finish during the grace period; no new work starts.
        let (_, finishing) = try d.finish("w2", in: study)
        #expect(finishing.disposition == .accepted(late: false) && finishing.actions.isEmpty)
        #expect(try study.workerReady("w2").isEmpty)
        clock.advance(31)
        d.apply(try study.tick())
        #expect(d.finished.count == 1)
        #expect(d.finished[0].reason == .wallTime && d.finished[0].done == 2 && d.finished[0].unfinished == 1)
        let abandoned = d.take("w1")
        #expect(try study.store.candidate(id: abandoned.candidateId)?.status == .pending)
        #expect(try study.store.attempts(candidateId: abandoned.candidateId).map(\.state) == [.interrupted])
    }

    @Test func constraintsFeedConstrainedDomination() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, StudyFixtures.setup(constraints: [.maxAccuracyDrop(split: "validation", limit: 0.02)]))
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w"))
        for _ in 0..<3 { try d.finish("w", in: study) }
        let results = try study.store.results()
        // all-u8 loses nothing (feasible); all-u4 and all-p4 lose more than 2 points.
        #expect(results.map(\.isFeasible) == [true, false, false])
        #expect(results[1].violations[0] > 0)
        #expect(try study.store.pareto().members.map(\.candidateId) == [results[0].candidateId])
    }
}
