import Coordinator
import Foundation
import QuantConfig
import RunStore
import Search
import Testing
import TestSupport
import Wire

/// The gumbel and hybrid strategies in the study: supernet jobs leased like candidates, their
/// derived configurations evaluated as candidates, resume, and refused results.
struct StudySupernetTests {
    let clock = ManualClock()
    static let lambdas = [0.0, 1, 10]

    static func setup(hybrid: Bool, evaluations: Int = 12) -> StudySetup {
        var setup = StudyFixtures.setup(evaluations: evaluations)
        setup.supernet = SupernetSweep(
            jobs: lambdas.map { SupernetSettings(lambda: $0, energyModel: "e45") }, budget: FineTuneBudget(epochs: 2), continuesWithNSGA2: hybrid)
        return setup
    }

    /// What a worker's supernet derives for a job: narrower for larger λ, and never a uniform baseline.
    static func derived(for request: EvaluationRequest, steps: Int = 40) -> SupernetResult {
        let job = request.supernet!
        let pattern: [LayerQuantization] =
            job.settings.lambda < 0.5
            ? [.uniform(8), .uniform(8), .uniform(4), .uniform(8)]
            : job.settings.lambda < 5 ? [.uniform(4), .pot(4), .uniform(4), .uniform(2)] : [.pot(2), .uniform(2), .pot(2), .uniform(2)]
        var config = QuantizationConfig(layers: [:])
        for (index, layer) in job.space.layers.enumerated() { config[layer] = job.space.fixed[layer] ?? pattern[index % pattern.count] }
        let choice = pattern[0]
        let probabilities = Dictionary(uniqueKeysWithValues: job.space.layers.map { ($0, [config[$0]!.description: 1.0]) })
        return SupernetResult(
            lambda: job.settings.lambda, config: config, probabilities: probabilities, energyModel: "e45", referencePicojoules: 100,
            expectedRelativeEnergy: 0.2, derivedRelativeEnergy: 0.2, averageBits: Double(choice.bits), expectedAverageBits: Double(choice.bits),
            trajectory: [], steps: steps, seconds: 1)
    }

    static func supernetOutcome(_ request: EvaluationRequest, worker: String = "w", _ edit: (inout SupernetResult) -> Void = { _ in }) -> EvaluationOutcome {
        var result = derived(for: request)
        edit(&result)
        return EvaluationOutcome(candidateId: request.candidateId, attempt: request.attempt, result: nil, error: nil, worker: worker, supernet: result)
    }

    /// Finishes whatever each worker holds (supernet jobs with their derived config, candidates with
    /// the fixture's measurement) until the run ends; returns every request in order.
    func runToEnd(_ study: Study, _ d: inout Dispatches, workers: [String]) throws {
        var turns = 0
        while d.finished.isEmpty {
            turns += 1
            try #require(turns < 200, "the run does not end")
            guard let worker = workers.first(where: { d.byWorker[$0] != nil }) else {
                Issue.record("no worker holds work but the run has not finished")
                return
            }
            clock.advance(5)
            try d.finish(worker, in: study) { request in
                request.supernet != nil ? Self.supernetOutcome(request, worker: worker) : StudyFixtures.success(request, worker: worker)
            }
        }
    }

    @Test func gumbelTrainsEachLambdaThenEvaluatesOnlyTheDerivedConfigurationsAndBaselines() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, Self.setup(hybrid: false))
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        for worker in ["w1", "w2", "w3", "w4"] { d.apply(try study.workerReady(worker)) }
        // The three jobs go out first, on the supernet schema, with the run's space and the sweep's budget.
        let jobs = d.all.prefix(3)
        #expect(jobs.allSatisfy { $0.schema == EvaluationRequest.supernetSchema && $0.supernet?.space == study.setup.space })
        #expect(jobs.map { $0.supernet!.settings.lambda } == Self.lambdas)
        #expect(jobs.allSatisfy { $0.budget.epochs == 2 && $0.problems.isEmpty })
        // The fourth worker gets a seed (a uniform baseline) while the sweep runs, nothing random.
        let fourth = try #require(d.byWorker["w4"])
        #expect(fourth.supernet == nil && Set(fourth.config.layers.values.map(\.bits)).count <= 2)

        try runToEnd(study, &d, workers: ["w1", "w2", "w3", "w4"])
        let candidates = try study.store.candidates()
        let origins = Dictionary(grouping: candidates, by: \.origin).mapValues(\.count)
        #expect(origins[.supernetTraining] == 3)
        #expect(origins[.supernet] == 3, "every derived configuration is a candidate")
        #expect(Set(candidates.map(\.origin)).isSubset(of: [.supernetTraining, .supernet, .baseline]), "gumbel proposes nothing else: \(origins)")
        // Derived candidates are evaluated like any other: results, on the front, from real requests.
        let results = try study.store.results()
        let derivedHashes = Set(try study.store.supernetResults().map(\.result.configHash))
        #expect(derivedHashes.count == 3)
        #expect(derivedHashes.isSubset(of: Set(results.map(\.configHash))))
        #expect(try study.store.supernetResults().map(\.result.lambda) == Self.lambdas)
        // Jobs cost QAT steps (40 each) besides the fine-tunes (5 each); they are not candidates in the counts.
        #expect(study.qatSteps == 3 * 40 + 5 * results.count)
        #expect(try study.store.qatSteps() == study.qatSteps)
        #expect(study.summary.done == results.count)
        #expect(try study.store.status().done == results.count)
    }

    @Test func hybridSeedsNSGA2WithTheDerivedConfigurationsFirstThenContinues() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, Self.setup(hybrid: true, evaluations: 14))
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        for worker in ["w1", "w2", "w3"] { d.apply(try study.workerReady(worker)) }
        #expect(d.all.count == 3 && d.all.allSatisfy { $0.supernet != nil })
        // A worker that joins during the sweep gets the baselines (seeds), then waits: no random candidate
        // starts before the derived configurations are in the population's queue.
        for worker in ["w4"] {
            d.apply(try study.workerReady(worker))
        }
        var seedsDuringSweep: [EvaluationRequest] = []
        while let request = d.byWorker["w4"] {
            seedsDuringSweep.append(request)
            clock.advance(1)
            try d.finish("w4", in: study)
        }
        #expect(seedsDuringSweep.count == 3, "the three uniform baselines, then w4 idles until the sweep ends")
        let originsSoFar = try study.store.candidates().filter { $0.origin != .supernetTraining }.map(\.origin)
        #expect(originsSoFar.allSatisfy { $0 == .baseline })

        for worker in ["w1", "w2", "w3"] {
            clock.advance(1)
            try d.finish(worker, in: study) { Self.supernetOutcome($0, worker: worker) }
        }
        // After the sweep the derived configurations come first, then NSGA-II's own proposals.
        let afterSweep = try study.store.candidates().filter { $0.origin != .supernetTraining && $0.origin != .baseline }
        #expect(afterSweep.prefix(3).allSatisfy { $0.origin == .supernet })
        try runToEnd(study, &d, workers: ["w1", "w2", "w3", "w4"])
        let origins = Set(try study.store.candidates().map(\.origin))
        #expect(origins.contains(.random) || origins.contains(.offspring), "NSGA-II continues after the seeds: \(origins)")
        #expect(study.summary.done == 14)
    }

    @Test func aCrashAfterASupernetResultResumesWithItsDerivedConfigurationAndDoesNotRetrain() throws {
        let directory = StudyFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var study: Study? = try Study.create(at: directory, setup: Self.setup(hybrid: false), clock: clock, logger: StudyFixtures.quietLogger)
        var d = Dispatches()
        for worker in ["w1", "w2", "w3"] { d.apply(try study!.workerReady(worker)) }
        let (job, _) = try d.finish("w1", in: study!) { Self.supernetOutcome($0, worker: "w1") }
        let derivedConfig = Self.derived(for: job).config
        // w1 got the derived configuration already; the crash comes before it finishes.
        #expect(d.byWorker["w1"]?.config == derivedConfig)
        study = nil
        clock.advance(60)
        let resumed = try Study.resume(at: directory, clock: clock, logger: StudyFixtures.quietLogger)
        clock.advance(StudyFixtures.setup().lease.heartbeatTimeout)  // the resume hold on interrupted work
        var after = Dispatches()
        for worker in ["v1", "v2", "v3", "v4"] { after.apply(try resumed.workerReady(worker)) }
        let reissued = after.all.map { $0.supernet?.settings.lambda.description ?? $0.config.hash }
        #expect(!after.all.contains { $0.candidateId == job.candidateId }, "the finished job is not trained again")
        #expect(after.all.filter { $0.supernet != nil }.count == 2, "the two interrupted jobs are re-issued: \(reissued)")
        #expect(after.all.contains { $0.config == derivedConfig && $0.attempt == 2 }, "the interrupted derived candidate is re-issued")
        try runToEnd(resumed, &after, workers: ["v1", "v2", "v3", "v4"])
        #expect(try resumed.store.supernetResults().count == 3)
        #expect(try resumed.store.candidates().filter { $0.origin == .supernet }.count == 3)
    }

    @Test func badSupernetResultsAreRefusedAndTheJobRetried() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, Self.setup(hybrid: false))
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        for worker in ["w1", "w2", "w3", "w4"] { d.apply(try study.workerReady(worker)) }
        // A configuration outside the space (the pinned head moved).
        let (job, report) = try d.finish("w1", in: study) { Self.supernetOutcome($0, worker: "w1") { $0.config["head"] = .uniform(2); $0.configHash = $0.config.hash } }
        guard case .rejected(let reason) = report.disposition else { throw Failure("expected a rejection, got \(report.disposition)") }
        #expect(reason.contains("space"))
        // Another λ than the job's, and a negative energy.
        let (_, lambda) = try d.finish("w2", in: study) { Self.supernetOutcome($0, worker: "w2") { $0.lambda = 99 } }
        #expect(lambda.disposition.isRejection)
        let (_, energy) = try d.finish("w3", in: study) { Self.supernetOutcome($0, worker: "w3") { $0.derivedRelativeEnergy = -1 } }
        #expect(energy.disposition.isRejection)
        // An evaluation result where a supernet result belongs.
        d.apply(try study.workerReady("w5"))
        let held = try #require(d.byWorker["w5"])
        #expect(held.supernet != nil, "a refused job is re-queued first")
        #expect(held.attempt == 2)
        let (_, wrongKind) = try d.finish("w5", in: study) { StudyFixtures.success($0, worker: "w5") }
        #expect(wrongKind.disposition.isRejection)
        // A supernet result for a plain candidate (w4 holds a baseline).
        let (_, forCandidate) = try d.finish("w4", in: study) { request in
            var outcome = Self.supernetOutcome(job, worker: "w4")
            outcome.candidateId = request.candidateId
            outcome.attempt = request.attempt
            return outcome
        }
        #expect(forCandidate.disposition.isRejection)
        #expect(try study.store.supernetResults().isEmpty, "nothing refused was stored")
        #expect(study.search.pendingSeeds.allSatisfy { $0.origin != .supernet })
    }
}

extension OutcomeDisposition {
    var isRejection: Bool {
        if case .rejected = self { return true }
        return false
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
