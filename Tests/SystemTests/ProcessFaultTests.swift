import Coordinator
import Export
import Foundation
import RunStore
import Search
import Statistics
import Wire
import Testing

/// Faults injected into real `spikeq` processes (`kill -9`), checked against the run database:
/// nothing lost, nothing evaluated twice as two candidates, the budget met.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct ProcessFaultTests {
    let directory = Net.temporaryDirectory("faults")
    var cache: URL { directory.appendingPathComponent("frames") }
    var environment: [String: String] { ["SPIKEQ_CACHE_DIR": cache.path] }

    func worker(_ name: String, endpoint: String, sleepMs: Int) throws -> SpikeqProcess {
        try SpikeqProcess(
            ["worker", "--connect", endpoint, "--name", name, "--evaluator", "null", "--null-sleep-ms", "\(sleepMs)",
             "--heartbeat-ms", "200", "--threads", "1", "--cache-dir", directory.appendingPathComponent("cache-\(name)").path],
            log: directory.appendingPathComponent("\(name).log"), environment: environment)
    }

    func coordinator(_ arguments: [String], log: String) throws -> SpikeqProcess {
        try SpikeqProcess(["search"] + arguments + ["--heartbeat-ms", "200", "--threads", "1"],
                          log: directory.appendingPathComponent(log), environment: environment)
    }

    @Test func killingAWorkerMidEvaluationLosesNothing() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = try MiniRun.write(into: directory, evaluations: 8, nullEvaluator: true, heartbeatTimeout: "3s")
        let run = directory.appendingPathComponent("run")
        let search = try coordinator(["--config", config.path, "--run", run.path, "--bind", "tcp://127.0.0.1:*"], log: "coordinator.log")
        let endpoint = try #require(await search.listeningEndpoint(within: .seconds(180)), "no endpoint: \(search.output)")
        let doomed = try worker("doomed", endpoint: endpoint, sleepMs: 60_000)
        let steady = try worker("steady", endpoint: endpoint, sleepMs: 300)

        // Kill the slow worker while it holds a lease.
        let store = try RunStore.open(at: run, readOnly: true)
        let held = await poll(within: .seconds(60)) { try store.attempts(state: .running).first { $0.worker == "doomed" } }
        let lease = try #require(held, "the doomed worker never got work")
        doomed.kill9()

        #expect(await search.exitStatus(within: .seconds(240)) == 0, "\(search.output)")
        steady.kill9()
        #expect(try MiniRun.checkNothingLostOrRepeated(store, evaluations: 8) == [])
        // The attempt the kill interrupted is lost (stale) and redone by the other worker. On a
        // starved machine doomed may also have been declared lost once before the kill (3 s of
        // missed heartbeats), so its loss count is at least one, and the attempt is found by number.
        let attempts = try store.attempts(candidateId: lease.candidateId)
        let killed = attempts.first { $0.number == lease.number }
        #expect(killed?.state == .stale && killed?.worker == "doomed")
        #expect(attempts.last?.state == .done && attempts.last?.worker == "steady")
        #expect(try store.workers().first { $0.name == "doomed" }?.lost ?? 0 >= 1)
    }

    @Test func killingTheCoordinatorAndResumingLosesNothing() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = try MiniRun.write(into: directory, evaluations: 10, nullEvaluator: true)
        let run = directory.appendingPathComponent("run")
        let first = try coordinator(["--config", config.path, "--run", run.path, "--bind", "tcp://127.0.0.1:*"], log: "first.log")
        let endpoint = try #require(await first.listeningEndpoint(within: .seconds(180)), "no endpoint: \(first.output)")
        let workers = try ["w1", "w2"].map { try worker($0, endpoint: endpoint, sleepMs: 400) }
        defer { workers.forEach { $0.kill9() } }

        // kill -9 after some results, while both workers are evaluating.
        let store = try RunStore.open(at: run, readOnly: true)
        let reached = await poll(within: .seconds(60)) { try store.results().count >= 3 ? true : nil }
        #expect(reached == true)
        first.kill9()
        let beforeCrash = try store.results().count
        #expect(beforeCrash < 10)

        // The same endpoint, so the workers (which never stopped) reconnect by themselves. Restarted
        // the way a Kubernetes pod or a requeued job restarts it: the original command line plus
        // --resume-existing.
        let resumed = try coordinator(
            ["--config", config.path, "--run", run.path, "--resume-existing", "--bind", endpoint], log: "resumed.log")
        #expect(await resumed.exitStatus(within: .seconds(240)) == 0, "\(resumed.output)")
        #expect(try MiniRun.checkNothingLostOrRepeated(store, evaluations: 10) == [])
        #expect(try store.results().count > beforeCrash)
        // Both sessions are in the database; the interrupted attempts were settled, none is left running.
        #expect(try store.attempts(state: .running).isEmpty)
        #expect(Set(try store.attempts().map(\.worker)) == ["w1", "w2"])
        // Restarted once more, the finished run ends at once instead of waiting for work.
        let again = try coordinator(
            ["--config", config.path, "--run", run.path, "--resume-existing", "--bind", endpoint], log: "again.log")
        #expect(await again.exitStatus(within: .seconds(60)) == 0, "\(again.output)")
        #expect(try MiniRun.checkNothingLostOrRepeated(store, evaluations: 10) == [])
    }

    /// The coordinator dies (SIGKILL, at a failpoint) after a FINAL arrived and before its result
    /// was committed. The worker keeps the unacknowledged FINAL and re-sends it to the resumed
    /// coordinator, which holds the interrupted candidate back meanwhile: the result is recorded
    /// once and the candidate is not evaluated again.
    @Test func killingTheCoordinatorBetweenAFinalAndItsCommitLosesAndRepeatsNothing() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = try MiniRun.write(into: directory, evaluations: 4, nullEvaluator: true)
        let run = directory.appendingPathComponent("run")
        let first = try SpikeqProcess(
            ["search", "--config", config.path, "--run", run.path, "--bind", "tcp://127.0.0.1:*", "--heartbeat-ms", "200", "--threads", "1"],
            log: directory.appendingPathComponent("first.log"), environment: environment.merging(["SPIKEQ_FAILPOINT": "coordinator-before-commit"]) { $1 })
        let endpoint = try #require(await first.listeningEndpoint(within: .seconds(180)), "no endpoint: \(first.output)")
        let only = try worker("only", endpoint: endpoint, sleepMs: 300)
        defer { only.kill9() }
        #expect(await first.exitStatus(within: .seconds(60)) == SIGKILL, "\(first.output)")
        #expect(first.output.contains("failpoint coordinator-before-commit"))
        let store = try RunStore.open(at: run, readOnly: true)
        #expect(try store.results().isEmpty, "the crash came before the first commit")
        let interrupted = try #require(try store.attempts(state: .running).first, "the attempt whose FINAL was in flight")

        let resumed = try coordinator(["--config", config.path, "--run", run.path, "--resume-existing", "--bind", endpoint], log: "resumed.log")
        #expect(await resumed.exitStatus(within: .seconds(240)) == 0, "\(resumed.output)")
        #expect(try MiniRun.checkNothingLostOrRepeated(store, evaluations: 4) == [])
        let attempts = try store.attempts(candidateId: interrupted.candidateId)
        #expect(attempts.count == 1, "evaluated once: \(attempts.map { "\($0.number): \($0.state)" })")
        #expect(try store.events(kind: "result").contains { $0.candidateId == interrupted.candidateId && $0.attempt == 1 })
        #expect(try store.attempts().count == 4, "no candidate was dispatched twice")
    }

    /// The gumbel strategy with null workers: the coordinator is killed after the first supernet
    /// result; the resumed run trains no λ twice and evaluates every derived configuration once.
    @Test func killingTheCoordinatorDuringAGumbelSweepLosesNoSupernet() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        // Null supernets derive all-u8 (a baseline), all-u5 and all-u2 for λ = 0, 1, 10.
        let config = try MiniRun.write(into: directory, evaluations: 20, nullEvaluator: true, strategy: "gumbel", lambdas: [0, 1, 10])
        let run = directory.appendingPathComponent("run")
        let first = try coordinator(["--config", config.path, "--run", run.path, "--bind", "tcp://127.0.0.1:*"], log: "first.log")
        let endpoint = try #require(await first.listeningEndpoint(within: .seconds(180)), "no endpoint: \(first.output)")
        let workers = try ["w1", "w2"].map { try worker($0, endpoint: endpoint, sleepMs: 1500) }
        defer { workers.forEach { $0.kill9() } }

        let store = try RunStore.open(at: run, readOnly: true)
        let reached = await poll(within: .seconds(60)) { try store.supernetResults().count >= 1 ? true : nil }
        #expect(reached == true)
        first.kill9()
        let trainedBeforeCrash = Set(try store.supernetResults().map(\.candidateId))

        let resumed = try coordinator(["--config", config.path, "--run", run.path, "--resume-existing", "--bind", endpoint], log: "resumed.log")
        #expect(await resumed.exitStatus(within: .seconds(240)) == 0, "\(resumed.output)")
        let supernets = try store.supernetResults()
        #expect(supernets.map(\.result.lambda) == [0, 1, 10])
        for job in trainedBeforeCrash {
            #expect(try store.attempts(candidateId: job).filter { $0.state == .done }.count == 1, "job \(job) trained once")
        }
        // Three baselines and the two new derived configurations (all-u8 is a baseline), each evaluated once.
        #expect(try MiniRun.checkNothingLostOrRepeated(store, evaluations: 5) == [])
        let candidates = try store.candidates()
        #expect(candidates.filter { $0.origin == .supernet }.count == 2)
        #expect(candidates.filter { $0.origin == .supernetTraining }.count == 3)
        #expect(Set(candidates.map(\.origin)).isSubset(of: [.supernet, .supernetTraining, .baseline]))
    }

    /// A worker killed while it trains a supernet: the job's lease goes stale and another worker
    /// trains it; every λ is trained once to completion and its configuration evaluated once.
    @Test func killingAWorkerDuringASupernetJobLosesNothing() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = try MiniRun.write(
            into: directory, evaluations: 20, nullEvaluator: true, heartbeatTimeout: "3s", strategy: "gumbel", lambdas: [1, 10])
        let run = directory.appendingPathComponent("run")
        let search = try coordinator(["--config", config.path, "--run", run.path, "--bind", "tcp://127.0.0.1:*"], log: "coordinator.log")
        let endpoint = try #require(await search.listeningEndpoint(within: .seconds(180)), "no endpoint: \(search.output)")
        // The doomed worker connects first, so it takes the first job (λ = 1).
        let doomed = try worker("doomed", endpoint: endpoint, sleepMs: 60_000)
        let store = try RunStore.open(at: run, readOnly: true)
        let held = await poll(within: .seconds(60)) { try store.attempts(state: .running).first { $0.worker == "doomed" } }
        let lease = try #require(held, "the doomed worker never got work")
        #expect(try store.candidates().first { $0.id == lease.candidateId }?.origin == .supernetTraining)
        let steady = try worker("steady", endpoint: endpoint, sleepMs: 300)
        doomed.kill9()

        #expect(await search.exitStatus(within: .seconds(240)) == 0, "\(search.output)")
        steady.kill9()
        let attempts = try store.attempts(candidateId: lease.candidateId)
        #expect(attempts.first?.state == .stale && attempts.first?.worker == "doomed")
        #expect(attempts.last?.state == .done && attempts.last?.worker == "steady")
        #expect(try store.supernetResults().map(\.result.lambda) == [1, 10])
        // all-u5 and all-u2 (null supernets) and the three baselines.
        #expect(try MiniRun.checkNothingLostOrRepeated(store, evaluations: 5) == [])
    }

    /// The seed paper's search end to end with the real engine: supernets trained by a worker, their
    /// derived configurations fine-tuned and evaluated, `spikeq status` reading the run.
    @Test func realGumbelSearchEvaluatesItsDerivedConfigurations() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = try MiniRun.write(into: directory, evaluations: 10, nullEvaluator: false, strategy: "gumbel", lambdas: [0, 30])
        let run = directory.appendingPathComponent("run")
        let search = try coordinator(
            ["--config", config.path, "--run", run.path, "--bind", "tcp://127.0.0.1:*", "--local-workers", "1"], log: "search.log")
        #expect(await search.exitStatus(within: .seconds(420)) == 0, "\(search.output)")
        let store = try RunStore.open(at: run, readOnly: true)
        let supernets = try store.supernetResults()
        #expect(supernets.map(\.result.lambda) == [0, 30])
        #expect(supernets.allSatisfy { $0.result.steps == 3 && !$0.result.trajectory.isEmpty })
        let results = try store.results()
        for supernet in supernets {
            #expect(results.contains { $0.configHash == supernet.result.configHash }, "λ = \(supernet.result.lambda): its configuration was evaluated")
        }
        #expect(try MiniRun.checkNothingLostOrRepeated(store, evaluations: results.count) == [])
        #expect(try store.qatSteps() == results.reduce(0) { $0 + $1.result.fineTune.steps } + 6)
        let status = try SpikeqProcess(["status", run.path], log: directory.appendingPathComponent("status.log"), environment: environment)
        #expect(await status.exitStatus(within: .seconds(60)) == 0, "\(status.output)")
        #expect(status.output.contains("supernet"), "\(status.output)")
    }

    @Test func realSearchReportExportAndInferAgree() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = try MiniRun.write(into: directory, evaluations: 3, nullEvaluator: false, reseeds: 1, knapsackSeeds: 2)
        let run = directory.appendingPathComponent("run")
        let search = try coordinator(
            ["--config", config.path, "--run", run.path, "--bind", "tcp://127.0.0.1:*", "--local-workers", "1"], log: "search.log")
        #expect(await search.exitStatus(within: .seconds(420)) == 0, "\(search.output)")
        let store = try RunStore.open(at: run, readOnly: true)
        #expect(try MiniRun.checkNothingLostOrRepeated(store, evaluations: 3) == [])
        // `sensitivity: {method: fisher, batches: 2}`: built when the run was created from the Fisher
        // recorded while the base model trained (beside the checkpoint, so no gradient passes are
        // charged), kept in the run directory, its two knapsack optima proposed first.
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("base.fisher.safetensors").path))
        let table = try JSONDecoder().decode(SensitivityTable.self, from: Data(contentsOf: run.appendingPathComponent("sensitivity.json")))
        #expect(table.method == .fisher && table.energy != nil && !table.accuracyDrop.isEmpty && table.gradientPasses == 0)
        #expect(search.output.contains("recorded while the base model trained"), "\(search.output)")
        let origins = try store.candidates().map(\.origin)
        #expect(origins.prefix(2) == [.knapsack, .knapsack], "\(origins)")
        let fineTuned = try store.results().reduce(0) { $0 + $1.result.fineTune.steps } + store.reseedResults().reduce(0) { $0 + $1.result.fineTune.steps }
        #expect(try store.qatSteps() == fineTuned)

        let report = try SpikeqProcess(["report", run.path], log: directory.appendingPathComponent("report.log"), environment: environment)
        #expect(await report.exitStatus(within: .seconds(60)) == 0, "\(report.output)")
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("report/index.html").path))

        let export = directory.appendingPathComponent("export")
        let exporter = try SpikeqProcess(
            ["export", run.path, "--out", export.path, "--select", "pareto", "--format", "both"],
            log: directory.appendingPathComponent("export.log"), environment: environment)
        #expect(await exporter.exitStatus(within: .seconds(60)) == 0, "\(exporter.output)")
        let manifest = try JSONDecoder().decode(ExportManifest.self, from: Data(contentsOf: export.appendingPathComponent("manifest.json")))
        #expect(!manifest.models.isEmpty)
        #expect(manifest.models.allSatisfy { $0.file != nil && $0.floatFile != nil })
        // `final.reseeds: 1`: each front model fine-tuned once more; the manifest gives the spread
        // over both seeds, while the files stay the models the search measured (checked by infer).
        let front = try store.pareto().members
        let reseeds = try store.reseedResults()
        #expect(Set(reseeds.map(\.of)) == Set(front.map(\.candidateId)) && reseeds.count == front.count)
        for model in manifest.models {
            #expect(model.accuracyOverSeeds?["validation"]?.count == 2, "candidate \(model.candidateId): \(String(describing: model.accuracyOverSeeds))")
        }

        // `infer --manifest` re-evaluates every exported model and fails if one disagrees with the search.
        let infer = try SpikeqProcess(
            ["infer", "--manifest", export.appendingPathComponent("manifest.json").path, "--data", directory.appendingPathComponent("data.yaml").path],
            log: directory.appendingPathComponent("infer.log"), environment: environment)
        #expect(await infer.exitStatus(within: .seconds(120)) == 0, "\(infer.output)")
        // Both forms were run: the packed file and the dequantized float checkpoint.
        #expect(infer.output.components(separatedBy: ".float.safetensors  validation").count - 1 == manifest.models.count, "\(infer.output)")
    }
}
