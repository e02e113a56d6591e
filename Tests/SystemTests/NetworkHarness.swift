import Threading
import Broker
import Coordinator
import Foundation
import Logging
import QuantConfig
import Transport
import Wire
import Worker

/// Shared pieces of the broker + worker tests: fast heartbeats, event collection, request builders.
enum Net {
    static let logger: Logger = {
        var logger = Logger(label: "spikeq.test.net")
        logger.logLevel = TestEnvironmentLevel.level
        return logger
    }()

    /// Heartbeat settings scaled down so expiry and reconnect happen within a test's time, yet with a
    /// 0.5 s expiry so a loaded CI machine (training tests run beside these) does not expire workers.
    static func brokerConfiguration(endpoint: String = "tcp://127.0.0.1:*") -> BrokerConfiguration {
        var configuration = BrokerConfiguration(endpoint: endpoint)
        configuration.heartbeatInterval = .milliseconds(100)
        configuration.heartbeatLiveness = 5
        return configuration
    }

    /// For tests whose peers are ``RawWorker``s and that do not test expiry: raw peers never
    /// heartbeat, so a long expiry keeps them registered while the test task waits on a machine busy
    /// with training tests (seen: 10 s between READY and the dispatch).
    static func rawPeerBrokerConfiguration() -> BrokerConfiguration {
        var configuration = brokerConfiguration()
        configuration.heartbeatInterval = .seconds(1)
        configuration.heartbeatLiveness = 600
        return configuration
    }

    static func workerConfiguration(endpoint: String, name: String, cache: URL? = nil) -> WorkerConfiguration {
        var configuration = WorkerConfiguration(
            endpoint: endpoint, name: name, cacheDirectory: cache ?? temporaryDirectory("cache"))
        configuration.heartbeatInterval = .milliseconds(100)
        configuration.heartbeatLiveness = 5
        configuration.reconnectInitial = .milliseconds(50)
        configuration.reconnectMax = .milliseconds(400)
        configuration.progressInterval = .milliseconds(10)
        return configuration
    }

    static func request(candidate: Int64, attempt: Int = 1, bits: Int = 4) -> EvaluationRequest {
        EvaluationRequest(
            candidateId: candidate, attempt: attempt,
            config: QuantizationConfig(layers: ["blocks.0.mlp.fc1": .uniform(bits), "head": .pot(max(2, bits - 1))]),
            budget: FineTuneBudget(epochs: 1), seed: UInt64(candidate),
            baseCheckpoint: ArtifactReference(sha256: String(repeating: "0", count: 64), bytes: 0, name: "base.safetensors"),
            dataset: DatasetReference(configYAML: "name: synthetic\n", fingerprint: "fp"), energyModels: [:])
    }

    static func temporaryDirectory(_ label: String) -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("spikeq-net-\(label)-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

enum TestEnvironmentLevel {
    /// `SPIKEQ_TEST_LOG=debug` shows the network logs while debugging a test.
    static var level: Logger.Level {
        ProcessInfo.processInfo.environment["SPIKEQ_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    }
}

/// Runs the jobs of tasks that prefer it on one dedicated OS thread, so a task that must keep up
/// (the event log's consumer) is not queued behind CPU-heavy tests on Swift's two-thread pool.
final class DedicatedThreadExecutor: TaskExecutor {
    private let thread: SerialThread

    init(name: String) {
        thread = SerialThread(name: name)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        thread.submit { job.runSynchronously(on: executor) }
    }

    deinit {
        thread.finish()
    }
}

/// Collects a broker's events in the background so tests can wait for conditions on them.
///
/// The consumer runs on its own thread: on a 2-core CI machine the training tests beside these can
/// hold both cooperative threads for seconds, and a pool-scheduled consumer then missed events the
/// broker had already sent within a test's whole wait.
final class EventLog: Sendable {
    private let events = Locked<[BrokerEvent]>([])
    private let executor = DedicatedThreadExecutor(name: "spikeq.test.event-log")
    private let task: Task<Void, Never>

    init(_ broker: Broker) {
        let events = self.events
        let stream = broker.events
        task = Task(executorPreference: executor) {
            for await event in stream { events.withLock { $0.append(event) } }
        }
    }

    var all: [BrokerEvent] { events.current }

    /// Waits until `predicate` holds for the events so far, or `timeout` passes.
    @discardableResult
    func wait(
        for timeout: Duration = .seconds(5), _ predicate: @Sendable ([BrokerEvent]) -> Bool
    ) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if predicate(all) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return predicate(all)
    }

    var readyWorkers: [WorkerID] {
        all.compactMap { if case .workerReady(let id) = $0 { id } else { nil } }
    }

    var finals: [(EvaluationOutcome, DispatchID, WorkerID, Bool)] {
        all.compactMap { if case .final(let o, _, let d, let w, let late) = $0 { (o, d, w, late) } else { nil } }
    }

    deinit {
        task.cancel()
    }
}

/// A hand-driven MDP worker socket, for behaviour the real worker never shows (going silent,
/// replaying FINALs, sending garbage).
final class RawWorker {
    let socket: ZMQSocket

    init(context: ZMQContext, endpoint: String, name: String) throws {
        socket = try ZMQSocket(context: context, type: .dealer)
        try socket.setRoutingID(Data(name.utf8))
        try socket.connect(endpoint)
    }

    func send(_ message: MDPWorkerMessage) throws {
        try socket.send(message.frames)
    }

    /// The next message that is not a HEARTBEAT, within `timeout`.
    func next(timeout: Duration = .seconds(3)) throws -> MDPWorkerMessage? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let frames = try socket.receive(timeout: deadline - .now) else { return nil }
            let message = try MDPWorkerMessage(frames: frames)
            if message != .heartbeat { return message }
        }
        return nil
    }
}
