import Broker
import ArgumentParser
import Coordinator
import Dashboard
import Foundation
import Report
import Logging
import RunSetup
import RunStore
import Wire
import Tensor
import Transport

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
        if curveSecret == nil, !EndpointScope.isLocalOnly(bind), !insecure {
            throw ValidationError(
                "\(bind) is not a loopback address and CURVE is off: anyone who can reach it could act as a worker. "
                    + "Pass --curve-secret and --authorized-keys, or --insecure on a trusted network.")
        }
    }

    func run() async throws {
        global.bootstrapLogging()
        let logger = Logger(label: "spikeq.coordinator")
        Compute.setThreadCount(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        var setup = RunSetup(workingDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath), logger: logger)
        setup.prepareData = { try prepareData($0) }
        setup.trainBaseModel = { try trainFP32($0, on: $1, training: $2, seed: $3) }
        setup.note = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        let resumeTarget = try resume ?? (resumeExisting ? setup.existingRun(configPath: config!, runPath: run!)?.url.path : nil)
        let (directory, study) = try resumeTarget.map { try setup.resume($0, evaluations: evaluations) }
            ?? setup.create(configPath: config!, runPath: run)

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
            logger.warning("Plain TCP on a non-loopback address (--insecure): anyone who can reach it can act as a worker", metadata: ["zmq.endpoint": "\(bind)"])
        }
        let broker = try Broker(context: context, configuration: brokerConfiguration, logger: logger)
        defer { broker.shutdown() }
        try RunSetup.verifyBaseCheckpoint(
            try broker.artifacts.add(fileAt: directory.baseCheckpoint, name: RunDirectory.baseCheckpointName), of: study, in: directory)
        FileHandle.standardError.write(Data("coordinator listening on \(broker.endpoint) (run \(directory.url.path))\n".utf8))

        let pool = try startLocalWorkers(endpoint: broker.endpoint, directory: directory, logger: logger)
        defer { pool?.stop() }
        let coordinator = try SearchCoordinator(study: study, broker: broker, artifactsDirectory: directory.artifacts, logger: logger)
        let liveDashboard = try dashboard.map { address in
            try DashboardLauncher.start(store: try RunStore.open(at: directory.url, readOnly: true), address: address, logger: Logger(label: "spikeq.dashboard"))
        }
        let line = StatusLine()
        let service = CoordinatorService(coordinator: coordinator, logger: logger) { line.show($0) }
        let summary: StudySummary?
        do { summary = try await service.runUntilSignalled() } catch {
            await liveDashboard?.stop()
            throw error
        }
        await liveDashboard?.stop()
        line.finish()
        guard let summary else { return }
        print("search \(summary.reason.rawValue): \(summary.done) done (\(summary.fullFidelity) at full fidelity), \(summary.failed) failed, "
            + "\(summary.stale) stale, \(summary.unfinished) unfinished; \(summary.qatSteps) QAT steps; "
            + String(format: "hypervolume %.4f; %.1f min active", summary.hypervolume, summary.activeSeconds / 60))
        print(try RunInspection.paretoTable(try RunStore.open(at: directory.url, readOnly: true)), terminator: "")
        print("next: spikeq report \(directory.url.path) && spikeq export \(directory.url.path) --out \(directory.url.path)/export")
    }

    private func startLocalWorkers(endpoint: String, directory: RunDirectory, logger: Logger) throws -> LocalWorkerPool? {
        guard localWorkers > 0 else { return nil }
        // Local workers connect over loopback whatever the bind address.
        let port = endpoint.split(separator: ":").last.map(String.init) ?? "5555"
        let connect = "tcp://127.0.0.1:\(port)"
        let pool = LocalWorkerPool(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath(),
            logDirectory: directory.logs, logger: logger
        ) { [self] index in
            var arguments = [
                "worker", "--connect", connect, "--threads", "\(workerThreads)", "--name", "local-\(index)",
                "--evaluator", workerEvaluator.rawValue, "--heartbeat-ms", "\(heartbeatMs)", "--max-message-mib", "\(maxMessageMib)",
                "--cache-dir", directory.cache.path, "--log-level", global.logLevel.rawValue,
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
