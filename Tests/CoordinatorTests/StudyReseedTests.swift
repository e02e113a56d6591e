import Coordinator
import Foundation
import Report
import RunStore
import Search
import Testing
import Wire

/// `final.reseeds`: after the budget the front and the fine-tuned reference are fine-tuned again
/// with more seeds; the results reach the report, never the search, the front or the artifacts.
struct StudyReseedTests {
    let clock = ManualClock()

    static func setup(evaluations: Int? = 6, wallSeconds: Double? = nil) -> StudySetup {
        var setup = StudyFixtures.setup(evaluations: evaluations, wallSeconds: wallSeconds)
        setup.fidelity = StudyFidelityTests.fidelity
        setup.fineTunedReference = true
        setup.commonRandomNumbers = true
        setup.reseeds = 2
        return setup
    }

    /// Runs `study` with the workers in `d` until it finishes; re-issues held candidates by moving
    /// the clock past the heartbeat timeout when no worker has work.
    func runToTheEnd(_ study: Study, _ d: inout Dispatches, stopAfter: ((EvaluationRequest) -> Bool)? = nil) throws {
        var turn = 0
        while d.finished.isEmpty {
            let busy = d.byWorker.keys.sorted()
            if busy.isEmpty {
                clock.advance(31)
                d.apply(try study.tick())
                try #require(!d.byWorker.isEmpty || !d.finished.isEmpty, "the run stalled")
                continue
            }
            let worker = busy[turn % busy.count]
            turn += 1
            clock.advance(5)
            let (request, _) = try d.finish(worker, in: study) { StudyFidelityTests.success($0, worker: worker) }
            if let stopAfter, stopAfter(request) { return }
        }
    }

    func reseedIds(_ store: RunStore) throws -> Set<Int64> {
        Set(try store.candidates().filter { $0.origin == .reseed }.map(\.id))
    }

    @Test func theFrontAndTheReferenceAreReTunedAfterTheBudgetAndStayOffTheFront() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, Self.setup())
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        for worker in ["w1", "w2"] { d.apply(try study.workerReady(worker)) }
        try runToTheEnd(study, &d)

        let store = study.store
        let reseeds = try reseedIds(store)
        let front = Set(try store.pareto().members.map(\.candidateId))
        let referenceId = try #require(try store.candidates().first { $0.origin == .reference }?.id)
        #expect(!front.isEmpty && reseeds.count == 2 * (front.count + 1), "two more seeds for \(front.count) front models and the reference")
        let requests = d.all.filter { reseeds.contains($0.candidateId) }
        #expect(requests.count == reseeds.count, "each dispatched once")
        // After all search work, at full budget from the start, measuring every split.
        let firstReseed = try #require(d.all.firstIndex { reseeds.contains($0.candidateId) })
        #expect(d.all[firstReseed...].allSatisfy { reseeds.contains($0.candidateId) })
        for request in requests {
            #expect(request.budget.maxSteps == 60 && request.continuation == nil && request.splits == nil && request.rung == 1)
        }
        // Common random numbers: replicate k has one seed for every model, unlike any search seed.
        let reseedSeeds = Set(requests.map(\.seed))
        #expect(reseedSeeds.count == 2)
        #expect(reseedSeeds.isDisjoint(with: d.all[..<firstReseed].map(\.seed)))

        let stored = try store.reseedResults()
        #expect(stored.count == reseeds.count)
        #expect(Set(stored.map(\.of)) == front.union([referenceId]))
        #expect(Set(stored.map(\.replicate)) == [1, 2])
        for result in stored {
            let of = try #require(try store.candidates().first { $0.id == result.of })
            #expect(result.result.config == of.config)
        }
        // Nothing reaches the search's results, front or hypervolume history.
        let results = try store.results()
        #expect(results.allSatisfy { !reseeds.contains($0.candidateId) })
        #expect(try store.hypervolumeHistory().count == results.count)
        let summary = try #require(d.finished.first)
        #expect(try store.status().done == summary.done)
        #expect(summary.done == 6, "the six search candidates, not the re-fine-tunes")
        // The cost counts them.
        #expect(summary.qatSteps == (try store.qatSteps()))
        #expect(summary.qatSteps >= stored.count * 60 + 60 + 6 * 15)

        // The report and `spikeq status` read them back from the store.
        let input = try ReportInput.load(from: store)
        #expect(Set(input.reseeds.keys) == front && input.reseeds.values.allSatisfy { $0.bySeed.count == 3 })
        #expect(input.referenceReseeds?.bySeed.count == 3)
        #expect(input.findings.contains { $0.hasPrefix("Fine-tuned with 3 seeds in all") } || !input.candidates.contains { $0.result.averageBits <= 3.7 })
        #expect(try RunInspection.statusText(store).contains("re-fine-tunes (final.reseeds): \(reseeds.count) of \(reseeds.count) done"))

        // A finished run resumed queues nothing again.
        let resumed = try Study.resume(at: directory, clock: clock, logger: StudyFixtures.quietLogger)
        var again = Dispatches()
        again.apply(try resumed.workerReady("w3"))
        #expect(again.all.isEmpty && again.finished.count == 1)
        #expect(try reseedIds(resumed.store) == reseeds)
    }

    @Test func anExtendedBudgetReTunesOnlyTheFrontsNewMembers() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, Self.setup(evaluations: 4))
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w"))
        try runToTheEnd(study, &d)
        let first = try reseedIds(study.store)
        #expect(!first.isEmpty)

        let extended = try Study.resume(at: directory, budget: StudyBudget(evaluations: 10), clock: clock, logger: StudyFixtures.quietLogger)
        var more = Dispatches()
        more.apply(try extended.workerReady("w"))
        try runToTheEnd(extended, &more)
        let store = extended.store
        // Every model re-tuned exactly twice; every member of the final front and the reference among them.
        let perModel = Dictionary(grouping: try store.reseedResults(), by: \.of).mapValues(\.count)
        #expect(perModel.values.allSatisfy { $0 == 2 }, "\(perModel)")
        let referenceId = try #require(try store.candidates().first { $0.origin == .reference }?.id)
        #expect(Set(try store.pareto().members.map(\.candidateId)).union([referenceId]).isSubset(of: Set(perModel.keys)))
        // The first batch was not repeated: the second run dispatched only new models' re-fine-tunes.
        #expect(more.all.allSatisfy { !first.contains($0.candidateId) })
    }

    @Test func aReTuneKeepsNoArtifactAndMustCarryItsConfig() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, Self.setup())
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w"))
        let reseedRequest = { (request: EvaluationRequest) in (try? reseedIds(study.store).contains(request.candidateId)) ?? false }
        // Run until the first re-fine-tune is dispatched.
        while !d.byWorker.values.contains(where: reseedRequest) {
            clock.advance(5)
            try d.finish("w", in: study) { StudyFidelityTests.success($0, worker: "w") }
            try #require(d.finished.isEmpty)
        }
        let request = try #require(d.byWorker["w"])
        let outcome = StudyFidelityTests.success(request, worker: "w")
        #expect(study.artifactName(for: outcome, from: "w") == nil, "the front keeps the model the search measured")
        // A result for another configuration is refused.
        var wrong = outcome
        wrong.result?.config = StudyFixtures.result(for: request.config).config
        wrong.result?.configHash = String(repeating: "0", count: 64)
        let report = try study.outcome(wrong, from: "w")
        guard case .rejected = report.disposition else {
            Issue.record("accepted a re-fine-tune for another configuration: \(report.disposition)")
            return
        }
        #expect(try study.store.reseedResults().isEmpty)
    }

    @Test func aCoordinatorCrashDuringTheReTunesLosesAndRepeatsNothing() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, Self.setup())
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        for worker in ["w1", "w2"] { d.apply(try study.workerReady(worker)) }
        // Crash right after the first re-fine-tune's result (the other worker holds another).
        try runToTheEnd(study, &d) { (try? reseedIds(study.store).contains($0.candidateId)) ?? false }
        let reseeds = try reseedIds(study.store)
        #expect(try study.store.reseedResults().count == 1)

        let resumed = try Study.resume(at: directory, clock: clock, logger: StudyFixtures.quietLogger)
        var after = Dispatches()
        for worker in ["w3", "w4"] { after.apply(try resumed.workerReady(worker)) }
        try runToTheEnd(resumed, &after)
        #expect(try reseedIds(resumed.store) == reseeds, "queued once")
        let stored = try resumed.store.reseedResults()
        #expect(stored.count == reseeds.count && Set(stored.map(\.candidateId)) == reseeds)
        #expect(after.all.allSatisfy { reseeds.contains($0.candidateId) }, "only re-fine-tunes were left")
        #expect(after.all.count == reseeds.count - 1, "nothing finished is evaluated again")
    }

    @Test func aWallTimeStopSkipsTheReTunes() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, Self.setup(evaluations: nil, wallSeconds: 60))
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w"))
        try runToTheEnd(study, &d)
        #expect(d.finished.first?.reason == .wallTime)
        #expect(try reseedIds(study.store).isEmpty)
    }
}
