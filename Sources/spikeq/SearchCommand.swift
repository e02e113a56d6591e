import Broker
import ContentHash
import ArgumentParser
import Coordinator
import Dashboard
import Evaluation
import Events
import Foundation
import Report
import Logging
import RunStore
import SpikingNN
import Tensor
import Transport
import Wire

/// `spikeq search`: the coordinator. Runs (or resumes) a search and serves it to workers.
struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Run the coordinator: search per-layer quantization configs with workers over ZeroMQ.",
        discussion: """
            Creates runs/NAME (or --run DIR): prepares the dataset to learn its fingerprint, trains the FP32 base \
            model if the config's checkpoint does not exist yet, binds the 18/MDP broker and dispatches candidates \
            from a steady-state NSGA-II to every worker that connects. --local-workers N also starts N workers on \
            this machine. Ctrl-C stops cleanly; `--resume RUN` continues a stopped or crashed run (even after \
            kill -9) without losing or repeating an evaluation.
            """)

    enum WorkerEvaluator: String, CaseIterable, ExpressibleByArgument { case spikeq, null }

    @OptionGroup var global: GlobalOptions
    @Option(help: "Search config (configs/search/*.yaml).") var config: String?
    @Option(help: "Run directory (default: runs/<name from the config>).") var run: String?
    @Option(help: ArgumentHelp("Resume this run (directory or name under runs/).", valueName: "RUN")) var resume: String?
    @Option(help: "Endpoint to bind (tcp://*:5555 accepts remote workers).") var bind: String = "tcp://127.0.0.1:5555"
    @Option(help: "Start this many workers on this machine.") var localWorkers: Int = 0
    @Option(help: "Compute threads per local worker.") var workerThreads: Int = 1
    @Option(help: "Evaluator of the local workers (null: fake results, for testing the machinery).") var workerEvaluator: WorkerEvaluator = .spikeq
    @Option(help: "For --worker-evaluator null: milliseconds per evaluation.") var nullSleepMs: Int = 1000
    @Option(help: ArgumentHelp("CURVE: this coordinator's secret key file (NAME.key_secret); enables encryption.", valueName: "file"))
    var curveSecret: String?
    @Option(help: ArgumentHelp("CURVE: directory of the public keys (NAME.key) of the workers allowed in.", valueName: "dir"))
    var authorizedKeys: String?
    @Option(help: "On --resume: a new evaluation budget (e.g. to extend a finished run).") var evaluations: Int?
    @Flag(help: "With --config: if --run already holds a run of this config, resume it (restarted pods, requeued jobs).")
    var resumeExisting = false
    @Option(help: "Heartbeat interval in milliseconds (workers must use the same).") var heartbeatMs: Int = 1000
    @Option(help: "Largest frame a peer may send, in MiB: bounds what one connection can make the coordinator buffer; a FINAL's packed model must fit (give workers the same).")
    var maxMessageMib: Int = MDP.defaultMaxFrameBytes >> 20
    @Flag(help: "Allow plain TCP (no CURVE) on a non-loopback --bind: only on a network you trust.") var insecure = false
    @Option(help: "Compute threads for preparing data and training the base model (default: all cores).") var threads: Int?
    @Option(help: ArgumentHelp("Also serve the live dashboard at this address (e.g. 127.0.0.1:8080).", valueName: "HOST:PORT"))
    var dashboard: String?

    func validate() throws {
        guard (config == nil) != (resume == nil) else { throw ValidationError("Pass --config for a new run or --resume RUN, not both.") }
        guard (curveSecret == nil) == (authorizedKeys == nil) else {
            throw ValidationError("--curve-secret and --authorized-keys go together.")
        }
        guard !resumeExisting || (config != nil && run != nil) else { throw ValidationError("--resume-existing needs --config and --run.") }
        guard localWorkers >= 0, workerThreads >= 1 else { throw ValidationError("--local-workers ≥ 0 and --worker-threads ≥ 1.") }
        guard (1...1024).contains(maxMessageMib) else { throw ValidationError("--max-message-mib must be in 1…1024.") }
        if let dashboard {
            do { _ = try DashboardServer.parseAddress(dashboard) } catch { throw ValidationError("--dashboard: \(error)") }
        }
    }

    func run() async throws {
        global.bootstrapLogging()
        let logger = Logger(label: "spikeq.coordinator")
        Compute.setThreadCount(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let (directory, study) = try (resume ?? existingRunToResume(cwd: cwd)).map { name in
            let directory = RunInspection.locate(name, workingDirectory: cwd)
            return (directory, try Study.resume(at: directory, budget: try resumedBudget(directory), logger: logger))
        } ?? createRun(logger: logger, cwd: cwd)
        let checkpointURL = directory.appendingPathComponent("base.safetensors")

        let context = try ZMQContext()
        var brokerConfiguration = BrokerConfiguration(endpoint: bind)
        brokerConfiguration.heartbeatInterval = .milliseconds(heartbeatMs)
        brokerConfiguration.maxMessageBytes = maxMessageMib << 20
        brokerConfiguration.heartbeatLiveness = BrokerConfiguration.liveness(
            timeout: study.setup.lease.heartbeatTimeout, interval: brokerConfiguration.heartbeatInterval)
        if let curveSecret, let authorizedKeys {
            let certificate = try CurveCertificate.load(from: URL(fileURLWithPath: curveSecret))
            brokerConfiguration.curve = CurveServerSettings(serverKeys: certificate.keys, authorizedKeysDirectory: URL(fileURLWithPath: authorizedKeys))
        } else if !EndpointScope.isLocalOnly(bind) {
            guard insecure else {
                throw ValidationError(
                    "\(bind) is not a loopback address and CURVE is off: anyone who can reach it could act as a worker. "
                        + "Pass --curve-secret and --authorized-keys, or --insecure on a trusted network.")
            }
            logger.warning("Plain TCP on a non-loopback address (--insecure): anyone who can reach it can act as a worker", metadata: ["zmq.endpoint": "\(bind)"])
        }
        let broker = try Broker(context: context, configuration: brokerConfiguration, logger: logger)
        let reference = try broker.artifacts.add(fileAt: checkpointURL, name: "base.safetensors")
        guard reference.sha256 == study.setup.template.baseCheckpoint.sha256 else {
            throw ValidationError("\(checkpointURL.path) hashes to \(reference.sha256) but the run was created with \(study.setup.template.baseCheckpoint.sha256).")
        }
        FileHandle.standardError.write(Data("coordinator listening on \(broker.endpoint) (run \(directory.path))\n".utf8))

        let pool = try startLocalWorkers(endpoint: broker.endpoint, directory: directory, logger: logger)
        let coordinator = try SearchCoordinator(study: study, broker: broker, artifactsDirectory: directory.appendingPathComponent(RunStore.artifactsDirectoryName), logger: logger)
        let line = StatusLine()
        let dashboardTask = try dashboard.map { address in
            let store = try RunStore.open(at: directory, readOnly: true)
            return Task {
                do {
                    try await DashboardLauncher.serve(store: store, address: address, logger: Logger(label: "spikeq.dashboard"))
                } catch {
                    logger.error("Dashboard stopped", metadata: ["error": "\(error)"])
                }
            }
        }
        defer { dashboardTask?.cancel() }
        let task = Task { try await coordinator.run { line.show($0) } }
        let signals = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { task.cancel() }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }
        let summary: StudySummary
        do {
            summary = try await task.value
        } catch {
            pool?.stop()
            broker.shutdown()
            throw error
        }
        line.finish()
        pool?.stop()
        broker.shutdown()
        print("search \(summary.reason.rawValue): \(summary.done) done (\(summary.fullFidelity) at full fidelity), \(summary.failed) failed, "
            + "\(summary.stale) stale, \(summary.unfinished) unfinished; \(summary.qatSteps) QAT steps; "
            + String(format: "hypervolume %.4f; %.1f min active", summary.hypervolume, summary.activeSeconds / 60))
        print(try RunInspection.paretoTable(try RunStore.open(at: directory, readOnly: true)), terminator: "")
        print("next: spikeq report \(directory.path) && spikeq export \(directory.path) --out \(directory.path)/export")
    }

    /// With `--resume-existing`: the `--run` directory if it holds a run of the same config name.
    private func existingRunToResume(cwd: URL) throws -> String? {
        guard resumeExisting, let run, let config else { return nil }
        let directory = URL(fileURLWithPath: run, relativeTo: cwd).standardizedFileURL
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent(RunStore.databaseName).path) else { return nil }
        let name = runName(of: try SearchConfig.load(from: URL(fileURLWithPath: config, relativeTo: cwd)))
        let stored = try RunStore.open(at: directory, readOnly: true).metadata().name
        guard stored == name else {
            throw ValidationError("\(directory.path) holds run '\(stored)', not '\(name)' from \(config); pick another --run.")
        }
        return directory.path
    }

    private func resumedBudget(_ directory: URL) throws -> StudyBudget? {
        guard let evaluations else { return nil }
        let store = try RunStore.open(at: directory, readOnly: true)
        let settings = try store.metadata().settings
        return StudyBudget(evaluations: evaluations, wallSeconds: settings.wallTimeBudget)
    }

    /// The config's `name`, else its file name without the extension.
    private func runName(of searchConfig: SearchConfig) -> String {
        searchConfig.name ?? searchConfig.file.deletingPathExtension().lastPathComponent
    }

    /// A new run: data (for its fingerprint), base checkpoint (trained if needed), study.
    private func createRun(logger: Logger, cwd: URL) throws -> (URL, Study) {
        let searchConfig = try SearchConfig.load(from: URL(fileURLWithPath: config!, relativeTo: cwd))
        let name = runName(of: searchConfig)
        let directory = run.map { URL(fileURLWithPath: $0, relativeTo: cwd).standardizedFileURL } ?? cwd.appendingPathComponent("runs/\(name)")
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent(RunStore.databaseName).path) {
            throw ValidationError("\(directory.path) already holds a run; continue it with --resume \(directory.path), or pick another --run.")
        }
        let modelConfig = try SpikformerConfig.load(contentsOf: searchConfig.model)
        let datasetText = try String(contentsOf: searchConfig.dataset, encoding: .utf8)
        let data = try prepareData(path: searchConfig.dataset.path)
        let checkpoint = try baseCheckpoint(searchConfig, model: modelConfig, data: data, runDirectory: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let local = directory.appendingPathComponent("base.safetensors")
        if checkpoint.standardizedFileURL != local.standardizedFileURL {
            try? FileManager.default.removeItem(at: local)
            try FileManager.default.copyItem(at: checkpoint, to: local)
        }
        let bytes = try Data(contentsOf: local)
        let template = RequestTemplate(
            fineTune: searchConfig.fineTune,
            baseCheckpoint: ArtifactReference(sha256: ContentHash.sha256(bytes), bytes: bytes.count, name: "base.safetensors"),
            dataset: DatasetReference(configYAML: datasetText, fingerprint: data.fingerprint),
            energyModels: try searchConfig.energyModelTexts())
        let setup = try searchConfig.studySetup(name: name, layers: modelConfig.quantizableLayerNames, template: template)
        return (directory, try Study.create(at: directory, setup: setup, logger: logger))
    }

    /// The config's checkpoint, trained with its recipe first when the file does not exist.
    private func baseCheckpoint(_ config: SearchConfig, model: SpikformerConfig, data: EvaluationData, runDirectory: URL) throws -> URL {
        let target = config.checkpoint.path ?? runDirectory.appendingPathComponent("base.safetensors")
        if FileManager.default.fileExists(atPath: target.path) { return target }
        guard let recipe = config.checkpoint.train else {
            throw ValidationError("\(config.file.path): checkpoint \(target.path) does not exist and checkpoint.train is not set.")
        }
        FileHandle.standardError.write(Data("training the FP32 base model (\(recipe.epochs) epochs) into \(target.path)\n".utf8))
        let training = TrainingConfig(
            epochs: recipe.epochs, batchSize: recipe.batchSize, learningRate: Float(recipe.learningRate),
            minimumLearningRate: recipe.schedule == .constant ? Float(recipe.learningRate) : 1e-5, weightDecay: Float(recipe.weightDecay),
            warmupEpochs: Double(recipe.warmupEpochs), labelSmoothing: Float(recipe.labelSmoothing), augment: true, seed: config.seed)
        let network = try trainFP32(model, on: data, training: training, seed: config.seed)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try network.save(to: target, extraMetadata: ["spikeq.dataset_fingerprint": data.fingerprint])
        let validation = try Trainer.evaluate(network, on: data.validation, batchSize: 32)
        FileHandle.standardError.write(Data(String(format: "FP32 base model: validation accuracy %.2f%%\n", validation.accuracy * 100).utf8))
        return target
    }

    private func startLocalWorkers(endpoint: String, directory: URL, logger: Logger) throws -> LocalWorkerPool? {
        guard localWorkers > 0 else { return nil }
        // Local workers connect over loopback whatever the bind address.
        let port = endpoint.split(separator: ":").last.map(String.init) ?? "5555"
        let connect = "tcp://127.0.0.1:\(port)"
        let pool = LocalWorkerPool(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath(),
            logDirectory: directory.appendingPathComponent("logs"), logger: logger
        ) { [self] index in
            var arguments = [
                "worker", "--connect", connect, "--threads", "\(workerThreads)", "--name", "local-\(index)",
                "--evaluator", workerEvaluator.rawValue, "--heartbeat-ms", "\(heartbeatMs)", "--max-message-mib", "\(maxMessageMib)",
                "--cache-dir", directory.appendingPathComponent("cache").path, "--log-level", global.logLevel.rawValue,
            ]
            if workerEvaluator == .null { arguments += ["--null-sleep-ms", "\(nullSleepMs)"] }
            return arguments
        }
        try pool.start(count: localWorkers)
        return pool
    }
}

/// The live status line on standard error: redrawn in place on a terminal, a line every 10 s in logs.
final class StatusLine: @unchecked Sendable {
    // @unchecked: only called from the coordinator's loop.
    private let interactive = isatty(2) != 0
    private var lastLogged = Date.distantPast

    func show(_ status: CoordinatorStatus) {
        let budget = status.budget.map { "/\($0)" } ?? ""
        let front = status.front.prefix(4).map { String(format: "%.1f%%@%.2fµJ", $0.accuracy * 100, $0.energyPicojoules / 1e6) }.joined(separator: " ")
        let text = "evals \(status.done)\(budget) (\(status.failed) failed, \(status.stale) stale) | in flight \(status.inFlight) | workers \(status.workers) | "
            + String(format: "HV %.4f | %.1f min | front: ", status.hypervolume, status.activeSeconds / 60) + front
        if interactive {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
        } else if Date().timeIntervalSince(lastLogged) >= 10 {
            lastLogged = Date()
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }

    func finish() {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
