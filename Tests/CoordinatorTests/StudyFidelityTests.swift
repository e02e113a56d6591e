import Coordinator
import Foundation
import QuantConfig
import RunStore
import Search
import Testing
import Wire

/// Multi-fidelity runs: every candidate starts at the cheapest rung, the best 1/η continue, and
/// only full-fidelity results form the front.
struct StudyFidelityTests {
    let clock = ManualClock()
    static let fidelity = FidelitySchedule(rungs: [15, 60], eta: 3)

    static func setup(evaluations: Int = 12) -> StudySetup {
        var setup = StudyFixtures.setup(evaluations: evaluations)
        setup.fidelity = fidelity
        return setup
    }

    /// What a worker reports: the fixture's measurement, with the steps this request ran.
    static func success(_ request: EvaluationRequest, worker: String) -> EvaluationOutcome {
        var outcome = StudyFixtures.success(request, worker: worker)
        let from = request.continuation?.fromSteps ?? 0
        outcome.result?.fineTune = FineTuneSummary(
            epochs: 1, steps: (request.budget.maxSteps ?? 0) - from, finalLoss: 0.5, seconds: 1, resumedFrom: from > 0 ? from : nil)
        // A longer fine-tune recovers more accuracy (and keeps the ranking).
        if let rung = request.rung, rung > 0 { outcome.result?.accuracy["validation"]? += 0.01 }
        // The fixture's accuracy model runs past 1 for FP32 layers (the reference).
        if var result = outcome.result {
            for split in ["validation", "test"] { result.accuracy[split] = min(result.accuracy[split] ?? 0, 0.95) }
            outcome.result = result
        }
        return outcome
    }

    /// Finishes what the busy workers hold, round robin, with ``success(_:worker:)`` until the run ends.
    func runToTheEnd(_ study: Study, _ d: inout Dispatches) throws {
        var turn = 0
        while d.finished.isEmpty {
            let busy = d.byWorker.keys.sorted()
            try #require(!busy.isEmpty, "the run stalled")
            let worker = busy[turn % busy.count]
            turn += 1
            clock.advance(5)
            try d.finish(worker, in: study) { Self.success($0, worker: worker) }
        }
    }

    @Test func candidatesClimbTheRungsAndOnlyTheTopRungFormsTheFront() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, Self.setup())
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        for worker in ["w1", "w2"] { d.apply(try study.workerReady(worker)) }
        try runToTheEnd(study, &d)
        let lower = d.all.filter { $0.rung == 0 }
        let promoted = d.all.filter { $0.rung == 1 }
        #expect(lower.count == 12, "every candidate starts at the lowest rung")
        // Asynchronous promotion (ASHA): at least ⌊n/η⌋ are promoted, more when the top third
        // changes as results arrive, never all.
        #expect(promoted.count >= 12 / 3 && promoted.count < 12, "promoted \(promoted.count) of 12")
        for request in lower {
            #expect(request.budget.maxSteps == 15 && request.budget.scheduleSteps == 60 && request.continuation == nil)
            #expect(request.splits == ["validation"], "lower rungs measure only what the objectives read")
        }
        for request in promoted {
            #expect(request.budget.maxSteps == 60 && request.budget.scheduleSteps == 60 && request.splits == nil)
            #expect(request.continuation?.fromSteps == 15)
            let first = try #require(lower.first { $0.candidateId == request.candidateId })
            #expect(request.seed == first.seed, "one seed per candidate: the rung continues the same fine-tune")
            #expect(request.budget.epochs == first.budget.epochs)
        }
        let store = study.store
        #expect(try store.rungResults().count == 12)
        #expect(try Set(store.results().map(\.candidateId)) == Set(promoted.map(\.candidateId)))
        let topHashes = Set(promoted.map(\.config.hash))
        #expect(study.search.front.allSatisfy { topHashes.contains($0.hash) }, "the front holds full-fidelity results only")
        #expect(try store.hypervolumeHistory().map(\.evaluations) == Array(1...promoted.count))
        let summary = try #require(d.finished.first)
        #expect(summary.fullFidelity == promoted.count && summary.done == 12)
        #expect(summary.qatSteps == 12 * 15 + promoted.count * 45)
        #expect(try store.attempts().map(\.rung).filter { $0 == 1 }.count == promoted.count)
    }

    @Test func aResumedRunKeepsItsLadder() throws {
        var (study, directory): (Study?, URL) = try StudyFixtures.makeStudy(clock: clock, Self.setup(evaluations: 9))
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study!.workerReady("w1"))
        for _ in 0..<6 {
            clock.advance(5)
            try d.finish("w1", in: study!) { Self.success($0, worker: "w1") }
        }
        let promotedBefore = d.all.filter { $0.rung == 1 }.count
        let ladderBefore = study!.engine.ladder
        study = nil
        let resumed = try Study.resume(at: directory, clock: clock, logger: StudyFixtures.quietLogger)
        #expect(resumed.engine.ladder == ladderBefore)
        clock.advance(StudyFixtures.setup().lease.heartbeatTimeout)  // past the resume hold
        var after = Dispatches()
        after.apply(try resumed.workerReady("w2"))
        while after.finished.isEmpty {
            clock.advance(5)
            let (_, report) = try after.finish("w2", in: resumed) { Self.success($0, worker: "w2") }
            if case .duplicate = report.disposition { Issue.record("a result was repeated") }
        }
        let all = d.all + after.all
        let keys = all.map { "\($0.candidateId)/\($0.rung ?? 0)" }
        // The one request interrupted by the "crash" is the only pair evaluated twice.
        #expect(Set(keys).count >= keys.count - 1)
        #expect(promotedBefore + after.all.filter { $0.rung == 1 }.count >= 3)
        #expect(try resumed.store.rungResults().count == 9)
    }

    @Test func aFailedPromotionKeepsTheLowerResult() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, Self.setup(evaluations: 3))
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w"))
        var failedPromotion: EvaluationRequest?
        while d.finished.isEmpty {
            clock.advance(5)
            try d.finish("w", in: study) { request in
                if request.rung == 1 {
                    failedPromotion = request
                    return StudyFixtures.failure(request, worker: "w")
                }
                return Self.success(request, worker: "w")
            }
        }
        let request = try #require(failedPromotion)
        let record = try #require(try study.store.candidates().first { $0.id == request.candidateId })
        #expect(record.status == .done, "it keeps its rung-0 result")
        #expect(try study.store.results().isEmpty && study.store.rungResults().count == 3)
    }

    @Test func theFineTunedReferenceComesFirstAndStaysOutOfTheSearch() throws {
        var setup = Self.setup(evaluations: 4)
        setup.fineTunedReference = true
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, setup)
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w"))
        let reference = try #require(d.byWorker["w"])
        #expect(reference.config.layers.values.allSatisfy { $0 == .float } && reference.config.layers.count == StudyFixtures.layers.count)
        #expect(reference.budget.maxSteps == 60 && reference.continuation == nil && reference.splits == nil, "the full budget, from the start")
        while d.finished.isEmpty {
            clock.advance(5)
            try d.finish("w", in: study) { Self.success($0, worker: "w") }
        }
        #expect(d.all.filter { $0.rung == 0 }.count == 4, "the reference does not count against the evaluation budget")
        let stored = try #require(try study.store.fineTunedReference())
        #expect(stored.configHash == reference.config.hash)
        #expect(!study.search.front.contains { $0.hash == reference.config.hash })
        #expect(try !study.store.results().contains { $0.configHash == reference.config.hash })
        #expect(try study.store.candidates().first?.origin == .reference)
        // The cost counts the reference's steps, live and after a resume alike.
        let summary = try #require(d.finished.first)
        #expect(summary.qatSteps == 60 + 4 * 15 + d.all.filter { $0.rung == 1 && $0.config != reference.config }.count * 45)
        #expect(try study.store.qatSteps() == summary.qatSteps)
        #expect(try Study.resume(at: directory, clock: clock, logger: StudyFixtures.quietLogger).qatSteps == summary.qatSteps)
    }

    /// A sensitivity table over the fixture's layers: narrower and power-of-two choices predicted to
    /// lose more and cost less (the same shape as the fixture's measurement).
    static func sensitivityTable() -> SensitivityTable {
        var drops: [String: [String: Double]] = [:]
        var picojoules: [String: [String: Double]] = [:]
        for (index, layer) in StudyFixtures.layers.enumerated() {
            for scheme in [QuantScheme.uniform, .pot] {
                for bits in [2, 4, 8] {
                    let choice = LayerQuantization(scheme: scheme, bits: bits).description
                    drops[layer, default: [:]][choice] = (0.01 + 0.02 * Double(index % 3)) * Double(8 - bits) / 6 * (scheme == .pot ? 1.2 : 1)
                    picojoules[layer, default: [:]][choice] = 20 * Double(bits) / 32 * (scheme == .pot ? 0.8 : 1)
                }
            }
            picojoules[layer, default: [:]]["f32"] = 20
        }
        return SensitivityTable(
            accuracyDrop: drops, method: .fisher,
            energy: LayerCostTable(model: "e45", picojoules: picojoules, fixedPicojoules: 0, referencePicojoules: 100))
    }

    /// `fidelity.knapsack_seeds: top`: the knapsack seeds skip the lower rung (one request each, the
    /// full budget from the start, also when an attempt is lost), everything else climbs as usual.
    @Test func knapsackSeedsCanEnterAtTheTopRung() throws {
        var setup = Self.setup(evaluations: 9)
        setup.fidelity = FidelitySchedule(rungs: [15, 60], eta: 3, knapsackSeedsAtTop: true)
        setup.sensitivity = Self.sensitivityTable()
        setup.parameters.knapsackSeeds = 3
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, setup)
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        for worker in ["w1", "w2"] { d.apply(try study.workerReady(worker)) }
        // w1 restarts while holding the first seed: that attempt is lost and the seed goes out again.
        let lostSeed = try #require(d.byWorker["w1"])
        _ = d.take("w1")
        d.apply(try study.workerReady("w1"))
        try runToTheEnd(study, &d)
        let store = study.store
        let seeds = Set(try store.candidates().filter { $0.origin == .knapsack }.map(\.id))
        #expect(seeds.count == 3 && seeds.contains(lostSeed.candidateId))
        let seedRequests = d.all.filter { seeds.contains($0.candidateId) }
        #expect(seedRequests.count == 4, "three seeds, one of them twice (its first attempt was lost)")
        for request in seedRequests {
            #expect(request.rung == 1 && request.budget.maxSteps == 60 && request.budget.scheduleSteps == 60)
            #expect(request.continuation == nil && request.splits == nil, "a seed runs the whole budget from the start, on every split")
        }
        #expect(d.all.filter { $0.candidateId == lostSeed.candidateId }.map(\.attempt) == [1, 2])
        let others = d.all.filter { !seeds.contains($0.candidateId) }
        let firstRequests = Dictionary(grouping: others, by: \.candidateId).values.map { $0.min { $0.attempt < $1.attempt }! }
        #expect(firstRequests.count == 6 && firstRequests.allSatisfy { $0.rung == 0 }, "every other candidate starts at the lowest rung")
        #expect(others.filter { $0.rung == 1 }.allSatisfy { $0.continuation?.fromSteps == 15 })
        // The seeds' results are full-fidelity results; they were never ranked at the lower rung.
        #expect(seeds.isSubset(of: Set(try store.results().map(\.candidateId))))
        #expect(try store.rungResults().allSatisfy { !seeds.contains($0.candidateId) })
        let promoted = others.filter { $0.rung == 1 }.count
        let summary = try #require(d.finished.first)
        #expect(summary.qatSteps == 3 * 60 + 6 * 15 + promoted * 45)
        #expect(try Study.resume(at: directory, clock: clock, logger: StudyFixtures.quietLogger).qatSteps == summary.qatSteps)
    }
}
