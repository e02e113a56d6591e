import Coordinator
import Foundation
import QuantConfig
import RunStore
import Search
import Seeding
import Testing
import TestSupport
import Wire

struct StudyResumeTests {
    let clock = ManualClock()

    @Test func crashThenResumeLosesNothingAndRepeatsNothing() throws {
        let directory = StudyFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var study: Study? = try Study.create(at: directory, setup: StudyFixtures.setup(evaluations: 20), clock: clock, logger: StudyFixtures.quietLogger)
        var d = Dispatches()
        for worker in ["w1", "w2", "w3"] { d.apply(try study!.workerReady(worker)) }
        for round in 0..<7 {
            clock.advance(10)
            try d.finish(["w1", "w2", "w3"][round % 3], in: study!)
        }
        let before = study!.search
        var predicted = before
        let proposal = predicted.ask()
        let nextNew = try #require(proposal)
        let resultsBefore = try study!.store.results()
        let inFlight = d.byWorker
        #expect(resultsBefore.count == 7 && inFlight.count == 3)

        // kill -9: the object goes away without stop(); only committed transactions remain.
        study = nil
        clock.advance(120)
        let resumed = try Study.resume(at: directory, clock: clock, logger: StudyFixtures.quietLogger)
        #expect(resumed.search.rng == before.rng)
        #expect(resumed.search.population == before.population)
        #expect(resumed.search.statistics == before.statistics)
        #expect(resumed.search.inFlight == before.inFlight)
        #expect(Set(resumed.queuedCandidates) == Set(inFlight.values.map(\.candidateId)))
        for request in inFlight.values {
            #expect(try resumed.store.attempts(candidateId: request.candidateId).map(\.state) == [.interrupted])
        }

        // Interrupted candidates wait one heartbeat timeout for FINALs their workers may re-send.
        clock.advance(StudyFixtures.setup().lease.heartbeatTimeout)
        var after = Dispatches()
        for worker in ["v1", "v2", "v3"] { after.apply(try resumed.workerReady(worker)) }
        #expect(Set(after.all.map(\.candidateId)) == Set(inFlight.values.map(\.candidateId)), "in-flight candidates are re-issued first")
        #expect(after.all.allSatisfy { $0.attempt == 2 })
        after.apply(try resumed.workerReady("v4"))
        #expect(after.byWorker["v4"]?.config == nextNew.config, "the search continues exactly where it was")

        // The old worker w1 survived the coordinator crash and still delivers attempt 1.
        let zombie = inFlight["w1"]!
        let zombieReport = try resumed.outcome(StudyFixtures.success(zombie), from: "w1")
        #expect(zombieReport.disposition == .accepted(late: true))
        #expect(zombieReport.actions.isEmpty, "w1 has not said READY to this coordinator")
        let reissued = after.all.first { $0.candidateId == zombie.candidateId }!
        var turn = 0
        while after.finished.isEmpty {
            let busy = after.byWorker.keys.sorted()
            try #require(!busy.isEmpty, "the resumed run stalled")
            let worker = busy[turn % busy.count]
            turn += 1
            clock.advance(10)
            let (request, report) = try after.finish(worker, in: resumed)
            #expect(report.disposition == (request == reissued ? .duplicate : .accepted(late: false)))
        }
        let results = try resumed.store.results()
        #expect(results.count == 20)
        #expect(Set(results.map(\.configHash)).count == 20)
        #expect(Set(resultsBefore.map(\.candidateId)).isSubset(of: Set(results.map(\.candidateId))), "nothing committed was lost")
        for old in resultsBefore {
            #expect(results.first { $0.candidateId == old.candidateId }?.result == old.result)
        }
        #expect(resumed.search.statistics.evaluations == 20)
        #expect(try resumed.store.hypervolumeHistory().map(\.evaluations) == Array(1...20))
        #expect(try resumed.store.events(kind: "resumed").count == 1)
        // Active time: 70 s before the crash (the last write), then the resumed session (the resume
        // hold, then the turns); not the 120 s outage.
        #expect(try resumed.store.activeSeconds() < Double(70 + 30 + 10 * turn + 1))
    }

    @Test func aWorkerStillHoldingItsWorkAfterARestartIsReattached() throws {
        let directory = StudyFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var study: Study? = try Study.create(at: directory, setup: StudyFixtures.setup(), clock: clock, logger: StudyFixtures.quietLogger)
        var d = Dispatches()
        d.apply(try study!.workerReady("w1"))
        d.apply(try study!.workerReady("w2"))
        let held1 = d.take("w1")
        let held2 = d.take("w2")
        study = nil
        let resumed = try Study.resume(at: directory, clock: clock, logger: StudyFixtures.quietLogger)
        #expect(try resumed.reattached(held1, worker: "w1"))
        #expect(try resumed.store.attempts(candidateId: held1.candidateId).map(\.state) == [.running])
        #expect(resumed.queuedCandidates == [held2.candidateId])
        // w2 is slower to come back (past the resume hold): its candidate is re-issued to w3 first,
        // so w2 cannot reattach.
        clock.advance(StudyFixtures.setup().lease.heartbeatTimeout)
        var e = Dispatches()
        e.apply(try resumed.workerReady("w3"))
        #expect(e.byWorker["w3"]?.candidateId == held2.candidateId && e.byWorker["w3"]?.attempt == 2)
        #expect(try !resumed.reattached(held2, worker: "w2"))
        let first = try resumed.outcome(StudyFixtures.success(held1), from: "w1")
        #expect(first.disposition == .accepted(late: false))
        #expect(first.actions.dispatchedWorkers == ["w1"], "the re-attached worker is idle after its FINAL")
        e.apply(first.actions)
        let second = try resumed.outcome(StudyFixtures.success(held2), from: "w2")
        #expect(second.disposition == .accepted(late: true))
        #expect(second.actions.isEmpty, "w2 has not said READY to the resumed coordinator")
        let (_, third) = try e.finish("w3", in: resumed)
        #expect(third.disposition == .duplicate && third.actions.dispatchedWorkers == ["w3"])
        #expect(try resumed.store.results().count == 2)
        #expect(Set(e.byWorker.values.map(\.candidateId)).isDisjoint(with: [held1.candidateId, held2.candidateId]))
    }

    @Test func resumeCanExtendAFinishedRun() throws {
        let directory = StudyFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var study: Study? = try Study.create(at: directory, setup: StudyFixtures.setup(evaluations: 3), clock: clock, logger: StudyFixtures.quietLogger)
        var d = Dispatches()
        d.apply(try study!.workerReady("w"))
        while d.finished.isEmpty { try d.finish("w", in: study!) }
        #expect(d.all.count == 3)
        try study!.stop(reason: "test")
        study = nil
        let resumed = try Study.resume(at: directory, budget: StudyBudget(evaluations: 6), clock: clock, logger: StudyFixtures.quietLogger)
        var e = Dispatches()
        e.apply(try resumed.workerReady("w"))
        while e.finished.isEmpty { try e.finish("w", in: resumed) }
        #expect(e.all.count == 3 && e.all.allSatisfy { $0.attempt == 1 })
        #expect(try resumed.store.results().count == 6)
        #expect(e.finished[0].done == 6)
    }

    @Test func resumeRefusesADatabaseThatIsNotARun() throws {
        let directory = StudyFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data("garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage".utf8).write(
            to: directory.appendingPathComponent("run.sqlite"))
        #expect(throws: RunStoreError.self) { try Study.resume(at: directory, clock: clock, logger: StudyFixtures.quietLogger) }
    }

    /// Random interleavings of results, failures, lost workers, hangs, late FINALs, busy refusals and
    /// coordinator crashes, with 18/MDP workers (READY only when they connect): whatever happens, each
    /// configuration is evaluated under one candidate, each candidate has at most one accepted
    /// result, the search, the store and the study agree, no worker is ever given a second request
    /// or work it refused, and while the run is open no connected worker is left without work.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func randomEventsKeepTheBooksStraight(seed: UInt64) throws {
        let directory = StudyFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var rng = SeededGenerator(seed: seed)
        let setup = StudyFixtures.setup(evaluations: 30, maxAttempts: 2, lease: LeaseTimings(progressTimeout: 100, heartbeatTimeout: 30))
        var study = try Study.create(at: directory, setup: setup, clock: clock, logger: StudyFixtures.quietLogger)
        let workers = (0..<4).map { "w\($0)" }
        var d = Dispatches()
        /// Workers registered with the current coordinator; the others say READY at the next step.
        var connected: Set<String> = []
        /// Work a worker goes on with that the study no longer leases to it (the worker was lost, or
        /// the coordinator crashed). Until it delivers that FINAL, it refuses requests as busy.
        var evaluating: [String: EvaluationRequest] = [:]
        /// Workers that refused a request as busy and have neither delivered nor reconnected since.
        var refused: Set<String> = []
        /// Results delivered later over a connection the study does not know.
        var zombies: [EvaluationRequest] = []
        var candidateOfHash: [String: Int64] = [:]
        var crashes = 0
        var busyRefusals = 0
        var steps = 0

        func record(_ actions: [StudyAction]) {
            for worker in actions.dispatchedWorkers where refused.contains(worker) {
                Issue.record("\(worker) was given work before the FINAL of the evaluation it is busy with")
            }
            d.apply(actions)
            for worker in d.disconnected {
                connected.remove(worker)
                // A hung evaluation may still finish after the lease expired.
                if let held = d.byWorker.removeValue(forKey: worker), evaluating[worker] == nil { evaluating[worker] = held }
            }
            d.disconnected.removeAll()
        }

        while d.finished.isEmpty && steps < 2000 {
            steps += 1
            for worker in workers where !connected.contains(worker) {
                connected.insert(worker)
                refused.remove(worker)
                record(try study.workerReady(worker))
            }
            for request in d.all {
                #expect(candidateOfHash[request.config.hash, default: request.candidateId] == request.candidateId)
                candidateOfHash[request.config.hash] = request.candidateId
            }
            let roll = rng.nextUnitDouble()
            let active = workers.filter { d.byWorker[$0] != nil || evaluating[$0] != nil }
            if roll < 0.6, let worker = active.randomElement(using: &rng) {
                clock.advance(Double.random(in: 1...20, using: &rng))
                if evaluating[worker] != nil, let request = d.byWorker.removeValue(forKey: worker) {
                    busyRefusals += 1
                    refused.insert(worker)
                    let report = try study.outcome(StudyFixtures.busy(request, worker: worker), from: worker)
                    #expect(report.disposition == .failureIgnored)
                    record(report.actions)
                } else if let old = evaluating.removeValue(forKey: worker) {
                    refused.remove(worker)
                    record(try study.outcome(StudyFixtures.success(old, worker: worker), from: worker).actions)
                } else {
                    let request = d.take(worker)
                    let failed = rng.nextUnitDouble() < 0.1
                    let outcome = failed ? StudyFixtures.failure(request, worker: worker) : StudyFixtures.success(request, worker: worker)
                    record(try study.outcome(outcome, from: worker).actions)
                }
            } else if roll < 0.7, let worker = d.byWorker.keys.sorted().randomElement(using: &rng) {
                let request = d.take(worker)
                connected.remove(worker)
                switch rng.next() % 3 {
                case 0 where evaluating[worker] == nil: evaluating[worker] = request
                case 1: zombies.append(request)
                default: break
                }
                record(try study.workerLost(worker, holding: request, reason: "random loss"))
            } else if roll < 0.8, !zombies.isEmpty {
                let late = zombies.remove(at: Int.random(in: 0..<zombies.count, using: &rng))
                record(try study.outcome(StudyFixtures.success(late), from: "zombie").actions)
            } else if roll < 0.9 {
                clock.advance(Double.random(in: 1...150, using: &rng))
                record(try study.tick())
            } else if roll < 0.95 {
                // Coordinator crash: every worker reconnects, still evaluating what it held.
                crashes += 1
                for (worker, request) in d.byWorker where evaluating[worker] == nil { evaluating[worker] = request }
                d.byWorker.removeAll()
                connected.removeAll()
                clock.advance(30)
                study = try Study.resume(at: directory, clock: clock, logger: StudyFixtures.quietLogger)
            }
            if case .running = study.phase {
                for worker in connected.sorted() where d.byWorker[worker] == nil && !refused.contains(worker) {
                    Issue.record("seed \(seed), step \(steps): \(worker) is connected and free but was given nothing")
                }
            }
        }
        #expect(!d.finished.isEmpty, "the run ends (steps \(steps))")
        let store = study.store
        let results = try store.results()
        let candidates = try store.candidates()
        #expect(Set(results.map(\.candidateId)).count == results.count)
        #expect(Set(candidates.map(\.configHash)).count == candidates.count)
        #expect(results.count == candidates.filter { $0.status == .done }.count)
        #expect(study.search.statistics.evaluations == results.count)
        #expect(try store.hypervolumeHistory().count == results.count)
        let values = try store.hypervolumeHistory().map(\.value)
        #expect(zip(values, values.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(candidates.count <= 30)
        for candidate in candidates {
            let numbers = try store.attempts(candidateId: candidate.id).map(\.number)
            #expect(numbers == (0..<numbers.count).map { $0 + 1 }, "attempts of candidate \(candidate.id) are numbered 1, 2, …")
            #expect(candidate.attempts == numbers.count)
        }
        #expect(try store.attempts(state: .running).isEmpty, "a finished run has nothing running")
        #expect(try store.events(kind: "resumed").count == crashes)
        // Every busy refusal ended a leased attempt as interrupted, never as failed or stale.
        #expect(try store.events(kind: "dispatch-failed").count == busyRefusals)
        #expect(try store.events(kind: "dispatch-failed").allSatisfy { $0.payload.contains("worker busy") })
    }
}

/// Cost of the study per evaluation (dispatch + result, each one SQLite transaction, the result one
/// with a search snapshot). Prints timings when SPIKEQ_PRINT_TIMINGS=1; asserts only behaviour.
struct StudyCostTests {
    @Test func hundredsOfEvaluationsThroughTheStudy() throws {
        let clock = ManualClock()
        let directory = StudyFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let space = QuantizationSpace(layers: SpikformerLayers.quantizable(depth: 2), fixed: ["head": .uniform(8)])
        var setup = StudyFixtures.setup(evaluations: 400, population: 32)
        setup.space = space
        let study = try Study.create(at: directory, setup: setup, clock: clock, logger: StudyFixtures.quietLogger)
        var d = Dispatches()
        let workers = (0..<8).map { "w\($0)" }
        let timer = ContinuousClock()
        let elapsed = try timer.measure {
            for worker in workers { d.apply(try study.workerReady(worker)) }
            var turn = 0
            while d.finished.isEmpty {
                try #require(!d.byWorker.isEmpty, "the run stalled")
                let worker = workers[turn % workers.count]
                turn += 1
                guard let request = d.byWorker.removeValue(forKey: worker) else { continue }
                clock.advance(1)
                let outcome = EvaluationOutcome(
                    candidateId: request.candidateId, attempt: request.attempt, result: Self.result(for: request.config), error: nil, worker: worker)
                d.apply(try study.outcome(outcome, from: worker).actions)
            }
        }
        #expect(try study.store.results().count == 400)
        #expect(Set(d.all.map(\.config.hash)).count == 400)
        if TestEnvironment.variable("SPIKEQ_PRINT_TIMINGS") == "1" {
            let size = (try? FileManager.default.attributesOfItem(atPath: study.store.databaseURL.path)[.size] as? Int) ?? 0
            print("study cost: \(elapsed / 400) per evaluation (dispatch + result, 18 layers, μ = 32, 400 evaluations); database \(size) bytes")
        }
    }

    static func result(for config: QuantizationConfig) -> EvaluationResult {
        var r = StudyFixtures.result(for: QuantizationConfig.uniformChoice(.uniform(8), layers: StudyFixtures.layers))
        r.config = config
        r.configHash = config.hash
        let bits = config.layers.values.map { Double($0.bits) }
        r.accuracy["validation"] = 0.9 - bits.map { 0.1 / $0 }.reduce(0, +) / Double(bits.count)
        r.energy["e45"] = EnergyFigure(picojoules: bits.reduce(0, +), reduction: 100 / bits.reduce(0, +))
        return r
    }
}

extension StudyResumeTests {
    /// A worker that finished while the coordinator was down re-sends its FINAL on reconnect: within
    /// the resume hold it is recorded and the candidate is not evaluated again; other work goes on
    /// meanwhile, and a candidate whose FINAL never comes is re-issued after the hold.
    @Test func interruptedCandidatesWaitForTheirResentFinalsBeforeReissue() throws {
        let directory = StudyFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var study: Study? = try Study.create(at: directory, setup: StudyFixtures.setup(evaluations: 10), clock: clock, logger: StudyFixtures.quietLogger)
        var d = Dispatches()
        for worker in ["w1", "w2"] { d.apply(try study!.workerReady(worker)) }
        let finished = try #require(d.byWorker["w1"])
        let abandoned = try #require(d.byWorker["w2"])
        study = nil  // kill -9 while w1's FINAL is in flight and w2 is still working

        let resumed = try Study.resume(at: directory, clock: clock, logger: StudyFixtures.quietLogger)
        var after = Dispatches()
        after.apply(try resumed.workerReady("w1"))
        let first = try #require(after.byWorker["w1"], "w1 gets other work while the interrupted candidates are held")
        #expect(first.candidateId != finished.candidateId && first.candidateId != abandoned.candidateId)
        clock.advance(2)
        let report = try resumed.outcome(StudyFixtures.success(finished, worker: "w1"), from: "w1")
        #expect(report.disposition == .accepted(late: true))
        after.apply(report.actions)
        // The hold ends: the candidate nobody reported on is re-issued (attempt 2), the finished one never.
        clock.advance(StudyFixtures.setup().lease.heartbeatTimeout)
        after.apply(try resumed.workerReady("w3"))
        #expect(after.byWorker["w3"]?.candidateId == abandoned.candidateId && after.byWorker["w3"]?.attempt == 2)
        var turn = 0
        while after.finished.isEmpty {
            let busy = after.byWorker.keys.sorted()
            try #require(!busy.isEmpty, "the resumed run stalled")
            turn += 1
            clock.advance(5)
            try after.finish(busy[turn % busy.count], in: resumed)
        }
        #expect(!after.all.contains { $0.candidateId == finished.candidateId }, "the candidate whose FINAL arrived is not evaluated again")
        #expect(try resumed.store.attempts(candidateId: finished.candidateId).count == 1)
        #expect(try MiniRunCheck.results(resumed.store) == 10)
    }
}

/// Result counts of a finished run, each candidate at most once.
enum MiniRunCheck {
    static func results(_ store: RunStore) throws -> Int {
        let results = try store.results()
        precondition(Set(results.map(\.candidateId)).count == results.count, "a candidate has two results")
        return results.count
    }
}
