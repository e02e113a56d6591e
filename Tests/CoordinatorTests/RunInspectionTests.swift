import Coordinator
import Foundation
import QuantConfig
import Report
import RunStore
import Search
import Testing
import TestSupport
import Wire

struct RunInspectionTests {
    let clock = ManualClock()

    /// A run with results, one failure and one attempt in flight. Set SPIKEQ_KEEP_RUN=/path to keep it
    /// (for trying `spikeq pareto` and `spikeq status` by hand).
    func sampleRun(screening: SurrogateScreening? = nil) throws -> (Study, URL, keep: Bool) {
        let kept = TestEnvironment.variable("SPIKEQ_KEEP_RUN")
        let directory = kept.map { URL(fileURLWithPath: $0) } ?? StudyFixtures.temporaryDirectory()
        var setup = StudyFixtures.setup(evaluations: 20, constraints: [.maxAccuracyDrop(split: "validation", limit: 0.1)])
        setup.parameters.screening = screening
        let study = try Study.create(at: directory, setup: setup, clock: clock, logger: StudyFixtures.quietLogger)
        var d = Dispatches()
        d.apply(try study.workerReady("node-a/101"))
        d.apply(try study.workerReady("node-b/202"))
        for round in 0..<10 {
            let worker = round % 2 == 0 ? "node-a/101" : "node-b/202"
            let request = d.take(worker)
            clock.advance(30)
            let outcome = round == 4 ? StudyFixtures.failure(request) : StudyFixtures.success(request)
            d.apply(try study.outcome(outcome, from: worker).actions)
        }
        let running = d.byWorker["node-a/101"]!
        _ = try study.progress(
            EvaluationProgress(candidateId: running.candidateId, attempt: running.attempt, phase: "finetune", epoch: 1, epochs: 1, step: 12, steps: 60, loss: 1.234),
            from: "node-a/101")
        return (study, directory, kept != nil)
    }

    @Test func paretoTableAndJSONShowTheFront() throws {
        let (study, directory, keep) = try sampleRun()
        defer { if !keep { try? FileManager.default.removeItem(at: directory) } }
        let reader = try RunStore.open(at: directory, readOnly: true)
        let front = try reader.pareto()
        #expect(!front.members.isEmpty && front.feasible)
        let table = try RunInspection.paretoTable(reader)
        #expect(table.contains("id  config"))
        #expect(table.contains("energy (e45)") && table.contains("reduction"))
        let lines = table.split(separator: "\n")
        #expect(lines.count == 3 + front.members.count, "\(table)")
        for member in front.members {
            #expect(table.contains(member.result.config.summary(order: StudyFixtures.layers)))
        }
        let json = try RunInspection.paretoJSON(reader)
        let rows = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]
        #expect(rows?.count == front.members.count)
        #expect(rows?.first?["config_hash"] as? String == front.members.first?.configHash)
        #expect(rows?.first?["energy_model"] as? String == "e45")
        _ = study
    }

    @Test func statusShowsProgressFailuresAndWorkers() throws {
        let (study, directory, keep) = try sampleRun()
        defer { if !keep { try? FileManager.default.removeItem(at: directory) } }
        let reader = try RunStore.open(at: directory, readOnly: true)
        let text = try RunInspection.statusText(reader, now: clock.now)
        #expect(text.contains("evaluations: 9 done, 10 of 20 finished"), "\(text)")
        #expect(text.contains("failed 1"))
        #expect(text.contains("in flight: 2"))
        #expect(text.contains("finetune epoch 1/1 step 12/60 loss 1.234"))
        #expect(text.contains("hypervolume: "))
        #expect(text.contains("best validation accuracy at each energy (e45)"))
        #expect(text.contains("workers seen: 2") && text.contains("node-a/101") && text.contains("node-b/202"))
        #expect(!text.contains("surrogate:"), "no surrogate in this run")
        _ = study
    }

    /// With surrogate screening, status and the report say how well it ranked results it had not seen.
    @Test func statusAndReportShowTheSurrogatesHeldBackRankCorrelation() throws {
        let (study, directory, keep) = try sampleRun(screening: SurrogateScreening(candidates: 4, minimumResults: 3))
        defer { if !keep { try? FileManager.default.removeItem(at: directory) } }
        let reader = try RunStore.open(at: directory, readOnly: true)
        let summary = try #require(try RunInspection.surrogateSummary(reader))
        // 9 results, the first 3 before it could predict: 6 held back, one ρ per objective.
        #expect(summary.hasPrefix("Spearman ρ on 6 held-back results: "), "\(summary)")
        #expect(summary.components(separatedBy: ", ").count == 2, "\(summary)")
        #expect(try RunInspection.statusText(reader, now: clock.now).contains("surrogate: \(summary)"))
        let report = try ReportInput.load(from: reader)
        #expect(report.facts.contains { $0.0 == "surrogate screening" && $0.1 == summary })
        _ = study
    }
}
