import ArgumentParser
import Foundation
import Logging
import Transport
import Wire
import Worker

/// `spikeq worker`: serve `spikeq.evaluate` requests from a coordinator.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Connect to a coordinator and evaluate the candidates it sends.",
        discussion: """
            Speaks 18/MDP over a ZeroMQ DEALER socket: heartbeats every second, reconnects with \
            exponential back-off (1 s to 32 s) when the coordinator goes silent, and keeps a finished \
            result until the coordinator has it. See docs/protocol.md.
            """)

    /// Which evaluator answers requests. Each kind is one case in ``makeEvaluator()``.
    enum EvaluatorKind: String, CaseIterable, ExpressibleByArgument {
        /// Fine-tunes and measures each candidate (the real thing).
        case spikeq
        /// Sleeps `--null-sleep-ms` and returns a fake result derived from the config (labelled);
        /// for benchmarks and tests of the distributed machinery.
        case null
    }

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The coordinator's endpoint.", valueName: "tcp://host:5555"))
    var connect: String

    @Option(help: "Compute threads an evaluation may use (unless the request sets its own).")
    var threads: Int = 1

    @Option(help: ArgumentHelp("The coordinator's public CURVE key file (NAME.key).", valueName: "file"))
    var curveServerKey: String?

    @Option(help: ArgumentHelp("This worker's CURVE key file (NAME.key_secret, or NAME.key with the secret beside it).", valueName: "file"))
    var curveKeys: String?

    @Option(help: ArgumentHelp("Where fetched checkpoints are cached (default: $XDG_CACHE_HOME/spikeq or ~/.cache/spikeq).", valueName: "dir"))
    var cacheDir: String?

    @Option(help: "The evaluator to run.")
    var evaluator: EvaluatorKind = .spikeq

    @Option(help: "For --evaluator null: milliseconds each evaluation takes.")
    var nullSleepMs: Int = 1000

    @Option(help: "Worker name and routing id (default host/pid/nonce).")
    var name: String?

    @Option(help: "Heartbeat interval in milliseconds; must match the coordinator's.")
    var heartbeatMs: Int = 1000

    @Option(help: "Heartbeats missed before the coordinator is presumed gone.")
    var heartbeatLiveness: Int = 5

    @Option(help: "The coordinator's --max-message-mib: a packed model that would not fit in a FINAL is not attached (the candidate cannot then be exported).")
    var maxMessageMib: Int = MDP.defaultMaxFrameBytes >> 20

    /// How commands are framed: 18/MDP for SpikeQuant's coordinator, `delimited` for a majortomo broker.
    enum Framing: String, CaseIterable, ExpressibleByArgument {
        case rfc, delimited
    }

    @Option(help: "MDP framing: rfc (18/MDP, the coordinator's) or delimited (a leading empty frame, for a majortomo broker).")
    var mdpFraming: Framing = .rfc

    func validate() throws {
        guard connect.contains("://") else {
            throw ValidationError("--connect takes a ZeroMQ endpoint such as tcp://head-node:5555, got '\(connect)'.")
        }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1.") }
        guard (curveServerKey == nil) == (curveKeys == nil) else {
            throw ValidationError("--curve-server-key and --curve-keys go together.")
        }
        guard nullSleepMs >= 0 else { throw ValidationError("--null-sleep-ms must not be negative.") }
        guard heartbeatMs >= 10 else { throw ValidationError("--heartbeat-ms must be at least 10.") }
        guard heartbeatLiveness >= 2 else { throw ValidationError("--heartbeat-liveness must be at least 2.") }
        guard (1...1024).contains(maxMessageMib) else { throw ValidationError("--max-message-mib must be in 1…1024.") }
    }

    func makeEvaluator(cacheDirectory: URL, logger: Logger) -> any Evaluator {
        switch evaluator {
        case .spikeq: SpikeQuantEvaluator(cacheDirectory: cacheDirectory.appendingPathComponent("reference"), logger: logger)
        case .null: NullEvaluator(sleep: .milliseconds(nullSleepMs))
        }
    }

    func run() async throws {
        global.bootstrapLogging()
        let logger = Logger(label: "spikeq.worker")
        var configuration = WorkerConfiguration(endpoint: connect)
        if let name { configuration.name = name }
        if let cacheDir { configuration.cacheDirectory = URL(fileURLWithPath: cacheDir, isDirectory: true) }
        configuration.threads = threads
        configuration.heartbeatInterval = .milliseconds(heartbeatMs)
        configuration.heartbeatLiveness = heartbeatLiveness
        configuration.maxPackedModelBytes = maxMessageMib << 20
        configuration.framing = mdpFraming == .rfc ? .rfc : .delimited
        if let curveServerKey, let curveKeys {
            guard ZMQLibrary.hasCurve else {
                throw CommandFailure("This libzmq (\(ZMQLibrary.version)) was built without CURVE support.")
            }
            let server = try CurveCertificate.load(from: URL(fileURLWithPath: curveServerKey))
            let own = try CurveCertificate.load(from: URL(fileURLWithPath: curveKeys))
            guard own.keys.secretKey != nil else {
                throw CommandFailure("\(curveKeys) has no secret key; pass the NAME.key_secret file.")
            }
            configuration.curve = CurveClientSettings(serverKey: server.keys.publicKey, clientKeys: own.keys)
        }
        let service = try WorkerService(
            context: try ZMQContext(), configuration: configuration, evaluator: makeEvaluator(cacheDirectory: configuration.cacheDirectory, logger: logger), logger: logger)
        logger.info(
            "Worker starting",
            metadata: [
                "worker.id": "\(configuration.name)", "zmq.endpoint": "\(connect)", "worker.evaluator": "\(evaluator)",
                "zmq.curve": "\(configuration.curve != nil)",
            ])
        try await service.runUntilSignalled()
    }
}
