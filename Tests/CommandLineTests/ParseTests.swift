import ArgumentParser
import Benchmarks
import Evaluation
import Export
import SpikingNN
import Testing

@testable import spikeq

/// Every subcommand parses a typical invocation into the right command with the right values, and
/// rejects the argument combinations its `validate()` forbids with a usage error naming the option.
/// Nothing runs: parsing only.
struct ParseTests {
    /// Parses `arguments` as `spikeq …` and returns the command, which must be of type `T`.
    func parse<T: ParsableCommand>(_ arguments: [String], as: T.Type = T.self) throws -> T {
        let command = try SpikeQ.parseAsRoot(arguments)
        return try #require(command as? T, "\(arguments) parsed as \(type(of: command))")
    }

    /// The usage-error message for `arguments` (ArgumentParser's text for a failed parse or validate).
    func rejection(_ arguments: [String]) -> String? {
        do {
            _ = try SpikeQ.parseAsRoot(arguments)
            return nil
        } catch {
            #expect(SpikeQ.exitCode(for: error) == .validationFailure, "\(arguments): \(error)")
            return SpikeQ.message(for: error)
        }
    }

    @Test func search() throws {
        let new = try parse(["search", "--config", "configs/search/demo.yaml", "--local-workers", "2", "--dashboard", "127.0.0.1:0"], as: SearchCommand.self)
        #expect(new.config == "configs/search/demo.yaml" && new.localWorkers == 2 && new.dashboard == "127.0.0.1:0")
        #expect(new.bind == "tcp://127.0.0.1:5555" && new.resume == nil && !new.insecure)
        let resumed = try parse(["search", "--resume", "demo", "--evaluations", "40"], as: SearchCommand.self)
        #expect(resumed.resume == "demo" && resumed.evaluations == 40)
        #expect(rejection(["search", "--config", "a.yaml", "--resume", "b"])?.contains("not both") == true)
        #expect(rejection(["search"])?.contains("--config for a new run or --resume") == true)
        #expect(rejection(["search", "--config", "a.yaml", "--curve-secret", "k.key_secret"])?.contains("go together") == true)
        #expect(rejection(["search", "--config", "a.yaml", "--resume-existing"])?.contains("--resume-existing needs") == true)
        #expect(rejection(["search", "--config", "a.yaml", "--max-message-mib", "0"])?.contains("1…1024") == true)
        #expect(rejection(["search", "--config", "a.yaml", "--bind", "tcp://*:5555"])?.contains("CURVE is off") == true)
        #expect(try parse(["search", "--config", "a.yaml", "--bind", "tcp://*:5555", "--insecure"], as: SearchCommand.self).insecure)
    }

    @Test func worker() throws {
        let worker = try parse(
            ["worker", "--connect", "tcp://head:5555", "--threads", "2", "--evaluator", "null", "--mdp-framing", "delimited"], as: WorkerCommand.self)
        #expect(worker.connect == "tcp://head:5555" && worker.threads == 2 && worker.evaluator == .null && worker.mdpFraming == .delimited)
        #expect(worker.heartbeatMs == 1000 && worker.heartbeatLiveness == 5)
        #expect(rejection(["worker"]) != nil)
        #expect(rejection(["worker", "--connect", "head:5555"])?.contains("ZeroMQ endpoint") == true)
        #expect(rejection(["worker", "--connect", "tcp://h:1", "--threads", "0"])?.contains("--threads") == true)
        #expect(rejection(["worker", "--connect", "tcp://h:1", "--curve-keys", "w.key_secret"])?.contains("go together") == true)
        #expect(rejection(["worker", "--connect", "tcp://h:1", "--heartbeat-ms", "5"])?.contains("--heartbeat-ms") == true)
    }

    @Test func runReaders() throws {
        #expect(try parse(["status", "demo"], as: StatusCommand.self).runArgument.name == "demo")
        let pareto = try parse(["pareto", "runs/demo", "--json"], as: ParetoCommand.self)
        #expect(pareto.runArgument.name == "runs/demo" && pareto.json)
        #expect(try parse(["report", "demo", "--out", "/tmp/r"], as: ReportCommand.self).out == "/tmp/r")
        let export = try parse(["export", "demo", "--out", "e", "--select", "knee", "--format", "both"], as: ExportCommand.self)
        #expect(export.out == "e" && export.select == .knee && export.format == .both)
        #expect(try parse(["dashboard", "demo"], as: DashboardCommand.self).bind == "127.0.0.1:8080")
        #expect(rejection(["status"]) != nil)
        #expect(rejection(["export", "demo"]) != nil)
        #expect(rejection(["export", "demo", "--out", "e", "--select", "best"]) != nil)
        #expect(rejection(["dashboard", "demo", "--bind", "nonsense"])?.contains("--bind") == true)
    }

    @Test func infer() throws {
        let infer = try parse(["infer", "--model", "m.safetensors", "--data", "d.yaml", "--split", "validation"], as: InferCommand.self)
        #expect(infer.model == "m.safetensors" && infer.manifest == nil && infer.split == "validation")
        #expect(rejection(["infer", "--data", "d.yaml"])?.contains("exactly one of --model and --manifest") == true)
        #expect(rejection(["infer", "--model", "m", "--manifest", "x", "--data", "d"])?.contains("exactly one") == true)
        #expect(rejection(["infer", "--model", "m", "--data", "d", "--split", "dev"])?.contains("--split") == true)
        #expect(try parse(["infer", "--model", "m", "--data", "d", "--json"], as: InferCommand.self).json)
        #expect(rejection(["infer", "--manifest", "x", "--data", "d", "--json"])?.contains("--json goes with --model") == true)
    }

    @Test func evaluateSupernetAndSensitivity() throws {
        let common = ["--checkpoint", "base.safetensors", "--data", "d.yaml"]
        let evaluate = try parse(["evaluate"] + common + ["--quant", "q.yaml", "--finetune-steps", "15", "--lr", "3e-4"], as: EvaluateCommand.self)
        #expect(evaluate.options.checkpoint == "base.safetensors" && evaluate.quant == "q.yaml")
        #expect(evaluate.finetuneSteps == 15 && evaluate.learningRate == 3e-4 && evaluate.finetuneEpochs == 1)
        let outputs = try parse(["evaluate"] + common + ["--quant", "q.yaml", "--packed-out", "p", "--float-out", "f"], as: EvaluateCommand.self)
        #expect(outputs.packedOut == "p" && outputs.floatOut == "f")
        #expect(rejection(["evaluate"] + common) != nil)
        #expect(rejection(["evaluate"] + common + ["--quant", "q", "--threads", "0"])?.contains("--threads") == true)

        let supernet = try parse(["supernet"] + common + ["--lambda", "3", "--hard", "--steps", "30"], as: SupernetCommand.self)
        #expect(supernet.lambda == 3 && supernet.hard && supernet.steps == 30 && supernet.epochs == 1)
        #expect(rejection(["supernet"] + common + ["--lambda", "1", "--batch", "0"])?.contains("--batch") == true)
        #expect(rejection(["supernet"] + common + ["--lambda", "1", "--temperature-start", "0.1", "--temperature-end", "1"]) != nil)

        let sensitivity = try parse(["sensitivity"] + common + ["--out", "s.json", "--bits", "2", "4", "--method", "fisher"], as: SensitivityCommand.self)
        #expect(sensitivity.bits == [2, 4] && sensitivity.method == .fisher && sensitivity.out == "s.json")
        #expect(sensitivity.recorded)
        #expect(try parse(["sensitivity"] + common + ["--out", "s.json", "--method", "fisher", "--no-recorded"], as: SensitivityCommand.self).recorded == false)
        #expect(rejection(["sensitivity"] + common + ["--out", "s", "--bits", "9"])?.contains("outside 2…8") == true)
        #expect(rejection(["sensitivity"] + common + ["--out", "s", "--schemes", "log"])?.contains("not uniform or pot") == true)
    }

    @Test func trainDatasetModelAndKeys() throws {
        let train = try parse(["train", "--model", "m.yaml", "--data", "d.yaml", "--out", "c.safetensors", "--epochs", "12"], as: TrainCommand.self)
        #expect(train.epochs == 12 && train.batch == 16 && train.out == "c.safetensors" && train.fisherBatches == 32)
        #expect(rejection(["train", "--model", "m", "--data", "d", "--out", "c", "--epochs", "0"])?.contains("positive") == true)
        #expect(rejection(["train", "--model", "m", "--data", "d", "--out", "c", "--fisher-batches", "-1"])?.contains("--fisher-batches") == true)

        let inspect = try parse(["dataset", "inspect", "f.aedat", "--orientation", "jaer", "--first", "3"], as: DatasetCommand.Inspect.self)
        #expect(inspect.file == "f.aedat" && inspect.orientation == .jaer && inspect.first == 3)
        let synth = try parse(["dataset", "synth", "--out", "data/s", "--per-class", "10", "--seed", "7"], as: DatasetCommand.Synth.self)
        #expect(synth.out == "data/s" && synth.perClass == 10 && synth.seed == 7)
        #expect(rejection(["dataset", "synth", "--out", "s", "--per-class", "1"])?.contains("at least 2") == true)
        #expect(try parse(["dataset", "prepare", "--data", "d.yaml", "--json"], as: DatasetCommand.Prepare.self).json)

        #expect(try parse(["model", "info", "--model", "m.yaml"], as: ModelCommand.Info.self).model == "m.yaml")
        let keys = try parse(["keys", "generate", "--out", "keys", "--name", "worker-1"], as: KeysCommand.Generate.self)
        #expect(keys.out == "keys" && keys.name == "worker-1" && !keys.force)
        #expect(rejection(["keys", "generate", "--out", "k", "--name", "../evil"])?.contains("plain file name") == true)
    }

    @Test func benchmarks() throws {
        let train = try parse(["bench", "train", "--model", "m.yaml", "--batch", "4", "--products", "dense"], as: EngineBench.Train.self)
        #expect(train.options.model == "m.yaml" && train.options.batch == 4 && train.options.products == .dense)
        #expect(try parse(["bench", "infer", "--model", "m.yaml", "--json"], as: EngineBench.Infer.self).options.json)
        #expect(rejection(["bench", "infer", "--model", "m", "--steps", "0"])?.contains("--steps") == true)
        #expect(try parse(["bench", "data", "--events", "1000"], as: DataBench.self).events == 1000)
        let search = try parse(["bench", "search", "--workers", "1,2", "--soak-workers", "0"], as: BenchSearchCommand.self)
        #expect(search.workers == "1,2" && search.soakWorkers == 0)
        #expect(rejection(["bench", "search", "--workers", "two"])?.contains("positive counts") == true)
        let quality = try parse(
            ["bench", "search-quality", "--config", "c.yaml", "--strategies", "nsga2,hybrid", "--seeds", "2"], as: BenchSearchQualityCommand.self)
        #expect(quality.parsedStrategies?.map(\.rawValue) == ["nsga2", "hybrid"] && quality.seeds == 2)
        #expect(rejection(["bench", "search-quality", "--config", "c", "--strategies", "nsga3"])?.contains("--strategies takes") == true)
        #expect(rejection(["bench", "search-quality", "--config", "c", "--target", "1.5"])?.contains("fraction") == true)
        let fidelity = try parse(
            ["bench", "fidelity", "--checkpoint", "c.safetensors", "--data", "d.yaml", "--steps", "5, 20,60", "--seeds", "3", "--seed", "4"],
            as: BenchFidelityCommand.self)
        #expect(try fidelity.settings.steps == [5, 20, 60] && fidelity.settings.seeds == [4, 5, 6])
        #expect(rejection(["bench", "fidelity", "--checkpoint", "c", "--data", "d", "--steps", "60,15"])?.contains("ascending") == true)
        #expect(rejection(["bench", "fidelity", "--checkpoint", "c", "--data", "d", "--steps", "15,x"])?.contains("not a number") == true)
        #expect(rejection(["bench", "fidelity", "--checkpoint", "c", "--data", "d", "--configurations", "2"])?.contains("3 configurations") == true)
    }

    @Test func globalOptionsAndUnknownCommands() throws {
        let status = try parse(["status", "demo", "--log-level", "debug", "--log-format", "json"], as: StatusCommand.self)
        #expect(status.global.logLevel == .debug && status.global.logFormat == .json)
        #expect(rejection(["status", "demo", "--log-level", "loud"]) != nil)
        #expect(rejection(["serach"]) != nil)
    }
}
