import Coordinator
import Foundation
import QuantConfig
import RunStore
import Search
import Testing
import Wire

/// Well-formed but hostile (or buggy) FINALs: none may end the study, reach a file name, or touch
/// an attempt its sender does not hold.
struct HostileOutcomeTests {
    let clock = ManualClock()

    private func outcome(_ request: EvaluationRequest, worker: String, _ edit: (inout EvaluationResult) -> Void) -> EvaluationOutcome {
        var result = StudyFixtures.result(for: request.config)
        edit(&result)
        return EvaluationOutcome(candidateId: request.candidateId, attempt: request.attempt, result: result, error: nil, worker: worker)
    }

    @Test func constraintsThatOverflowWhenSummedAreRejectedAndTheRunGoesOn() throws {
        let setup = StudyFixtures.setup(constraints: [.maxEnergy(model: "e45", picojoules: 1), .maxEnergy(model: "e45", picojoules: 1)])
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock, setup)
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("evil"))
        let request = d.take("evil")
        // Each violation is finite (1.5e308), their sum is +inf: the search's own check refuses it.
        let report = try study.outcome(
            outcome(request, worker: "evil") { $0.energy["e45"] = EnergyFigure(picojoules: 1.5e308, reduction: 0) }, from: "evil")
        guard case .rejected(let reason) = report.disposition else {
            Issue.record("expected a rejection, got \(report.disposition)")
            return
        }
        #expect(reason.contains("unusable result"))
        // An honest worker then evaluates the same candidate.
        d.apply(try study.workerReady("honest"))
        let retry = d.take("honest")
        #expect(retry.candidateId == request.candidateId && retry.attempt == 2)
        guard case .accepted = try study.outcome(StudyFixtures.success(retry), from: "honest").disposition else {
            Issue.record("the honest result was not accepted")
            return
        }
    }

    /// Edits that make a result unusable, by name.
    private static func spoil(_ result: inout EvaluationResult, _ label: String) {
        switch label {
        case "accuracy 5": result.accuracy["validation"] = 5
        case "negative energy": result.energy["e45"] = EnergyFigure(picojoules: -3, reduction: 1)
        case "NaN bits": result.averageBits = .nan
        case "64 bits": result.averageBits = 64
        case "negative bytes": result.packedBytes = -1
        case "other config": result.config.layers["attn.q"] = .uniform(result.config.layers["attn.q"]!.bits == 8 ? 2 : 8)
        case "traversal hash": result.configHash = "../base"
        default: Issue.record("unknown edit \(label)")
        }
    }

    @Test(arguments: ["accuracy 5", "negative energy", "NaN bits", "64 bits", "negative bytes", "other config", "traversal hash"])
    func outOfRangeResultsAreRejectedBeforeAnythingIsStored(label: String) throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock)
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w"))
        let request = d.take("w")
        let bad = outcome(request, worker: "w") { Self.spoil(&$0, label) }
        #expect(study.artifactName(for: bad, from: "w") == nil, "\(label): no file is written for it")
        guard case .rejected = try study.outcome(bad, from: "w").disposition else {
            Issue.record("\(label): expected a rejection")
            return
        }
        #expect(try study.store.results().isEmpty, "\(label)")
        #expect(study.quarantined["w"] != nil, "\(label): the sender is quarantined")
    }

    @Test func theArtifactNameIsTheCandidatesOwnHash() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock)
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w"))
        let request = d.take("w")
        let good = StudyFixtures.success(request)
        #expect(study.artifactName(for: good, from: "w") == request.config.hash)
        #expect(study.artifactName(for: good, from: "intruder") == nil)
        _ = try study.outcome(good, from: "w")
        #expect(study.artifactName(for: good, from: "w") == nil, "a done candidate's model is not replaced")
    }

    @Test func onlyTheHolderCanFinishAnAttempt() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock)
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("victim"))
        d.apply(try study.workerReady("thief"))
        let victims = d.byWorker["victim"]!
        // The thief reports a failure, then a success, for the victim's attempt.
        for stolen in [StudyFixtures.failure(victims, worker: "thief"), StudyFixtures.success(victims, worker: "thief")] {
            guard case .unbound = try study.outcome(stolen, from: "thief").disposition else {
                Issue.record("a non-holder's FINAL was not refused")
                return
            }
        }
        // Its PARTIAL does not refresh the victim's lease either.
        _ = try study.progress(EvaluationProgress(candidateId: victims.candidateId, attempt: 1, phase: "finetune", step: 1, steps: 2), from: "thief")
        #expect(study.inFlight.first { $0.key.candidateId == victims.candidateId }?.progress == nil)
        #expect(try study.store.results().isEmpty)
        #expect(try study.store.events(kind: "unbound-final").count == 2)
        // The victim's own FINAL is accepted.
        let (_, report) = try d.finish("victim", in: study)
        #expect(report.disposition == .accepted(late: false))
    }

    @Test func aFinalMustNameTheAttemptItsDispatchCarried() throws {
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock)
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w"))
        let request = d.take("w")
        let wrongDispatch = AttemptKey(candidateId: request.candidateId + 100, attempt: 1)
        guard case .unbound = try study.outcome(StudyFixtures.success(request), from: "w", dispatched: wrongDispatch).disposition else {
            Issue.record("a FINAL on another dispatch was accepted")
            return
        }
        let right = AttemptKey(candidateId: request.candidateId, attempt: request.attempt)
        #expect(try study.outcome(StudyFixtures.success(request), from: "w", dispatched: right).disposition == .accepted(late: false))
    }

    @Test func peerTextIsEscapedBeforeItIsStoredOrShown() throws {
        #expect(PeerText.escaped("\u{1b}[31mred\nline\u{7}") == "\\u{1b}[31mred\\u{a}line\\u{7}")
        #expect(PeerText.escaped(String(repeating: "x", count: 2000)).count == PeerText.maxLength + 1, "capped, with an ellipsis")
        #expect(PeerText.escaped("ünïcödé ok") == "ünïcödé ok")
        let (study, directory) = try StudyFixtures.makeStudy(clock: clock)
        defer { try? FileManager.default.removeItem(at: directory) }
        var d = Dispatches()
        d.apply(try study.workerReady("w"))
        let request = d.take("w")
        let hostile = EvaluationOutcome(
            candidateId: request.candidateId, attempt: request.attempt, result: nil,
            error: EvaluationFailure(kind: .diverged, message: "\u{1b}]0;pwned\u{7}\u{1b}[2J"), worker: "w")
        _ = try study.outcome(hostile, from: "w")
        let stored = try #require(try study.store.candidates().first { $0.id == request.candidateId }?.reason)
        #expect(!stored.unicodeScalars.contains { $0.value < 0x20 }, "\(stored)")
        #expect(stored.contains("\\u{1b}"))
    }

    @Test func resultValidationNamesEveryProblem() {
        var result = StudyFixtures.result(
            for: QuantizationConfig(layers: Dictionary(uniqueKeysWithValues: StudyFixtures.layers.map { ($0, LayerQuantization.uniform(4)) })))
        #expect(result.problems.isEmpty)
        result.accuracy["test"] = -0.1
        result.averageBits = 0.5
        result.wallSeconds = .infinity
        result.configHash = "ABC"
        #expect(result.problems.count == 4)
        #expect(result.problems.first == "configHash is not 64 lowercase hex digits")
    }
}
