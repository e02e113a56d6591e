import Threading
import Broker
import Foundation
public import Logging
import QuantConfig
import Transport
import Wire
import Worker

/// Measurements of the distributed machinery with null workers, for `spikeq bench search`:
/// dispatch round trips, coordinator CPU per evaluation, scaling efficiency with N local workers, and
/// a soak of many simulated workers heartbeating at once.
///
/// Everything runs in this process over loopback TCP, so numbers include real ZeroMQ framing, the
/// kernel's TCP stack and both sides' threads, but no network latency.
public struct TransportBenchmark: Sendable {
    public var heartbeatInterval: Duration = .seconds(1)
    public var logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    // MARK: Reports

    /// One run of back-to-back evaluations through the broker.
    public struct ThroughputReport: Codable, Sendable, Hashable {
        public var workers: Int
        public var evaluationSeconds: Double
        public var evaluations: Int
        public var wallSeconds: Double
        /// Evaluations per second.
        public var throughput: Double
        /// throughput / (workers / evaluationSeconds); 1 is perfect. Nil when evaluations take no time.
        public var efficiency: Double?
        /// Mean time the evaluator itself took, as it measured (the null evaluator's sleep overshoots a little).
        public var evaluatorMillisecondsMean: Double
        /// Mean wall time each evaluation spent outside the evaluator: dispatch, framing, wake-ups,
        /// result handling (workers × wall / evaluations − evaluator time).
        public var overheadMillisecondsPerEvaluation: Double
        /// Broker-thread CPU per evaluation.
        public var brokerCPUMicrosecondsPerEvaluation: Double
    }

    /// Many simulated workers heartbeating while a real one serves dispatches.
    public struct SoakReport: Codable, Sendable, Hashable {
        public var simulatedWorkers: Int
        public var seconds: Double
        public var heartbeatIntervalMilliseconds: Double
        /// Workers registered at the end (simulated + 1 real); should equal simulated + 1.
        public var registeredAtEnd: Int
        public var workersLost: Int
        public var heartbeatsSent: Int
        public var messagesReceived: Int
        /// Worst lateness of a broker heartbeat tick.
        public var maxTickLagMilliseconds: Double
        /// Broker-thread CPU as a fraction of one core.
        public var brokerCPUFraction: Double
        /// Dispatch → FINAL round trips to the real (zero-time) worker during the soak.
        public var roundTripMillisecondsMedian: Double
        public var roundTripMillisecondsMax: Double
    }

    // MARK: Throughput and scaling

    /// Runs `evaluationsPerWorker × workers` evaluations, keeping every worker busy.
    public func throughput(workers: Int, evaluationTime: Duration, evaluationsPerWorker: Int) async throws -> ThroughputReport {
        precondition(workers >= 1 && evaluationsPerWorker >= 1)
        let context = try ZMQContext(ioThreads: 1, maxSockets: 4096)
        var configuration = BrokerConfiguration(endpoint: "tcp://127.0.0.1:*")
        configuration.heartbeatInterval = heartbeatInterval
        let broker = try Broker(context: context, configuration: configuration, logger: logger)
        defer { broker.shutdown() }
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("spikeq-bench-cache")
        let services = try (0..<workers).map { index in
            var settings = WorkerConfiguration(endpoint: broker.endpoint, name: "bench-\(index)", cacheDirectory: cache)
            settings.heartbeatInterval = heartbeatInterval
            return try WorkerService(
                context: context, configuration: settings,
                evaluator: NullEvaluator(sleep: evaluationTime, progressReports: 1), logger: logger)
        }
        services.forEach { $0.start() }
        defer { services.forEach { $0.stop() } }

        let total = workers * evaluationsPerWorker
        var ready = 0
        var finished = 0
        var next: Int64 = 0
        var started = ContinuousClock.now
        var cpuStart = 0.0
        var evaluatorSeconds = 0.0
        for await event in broker.events {
            switch event {
            case .workerReady(let worker):
                ready += 1
                if ready == workers {
                    // All connected: start the clock and fill every worker.
                    started = .now
                    cpuStart = broker.statistics.loopCPUSeconds
                    for status in await broker.workers() {
                        broker.dispatch(Self.request(next), to: status.id)
                        next += 1
                    }
                }
                _ = worker
            case .final(let outcome, _, _, let worker, _):
                finished += 1
                evaluatorSeconds += outcome.result?.wallSeconds ?? 0
                if next < Int64(total) {
                    broker.dispatch(Self.request(next), to: worker)
                    next += 1
                }
            case .workerLost, .workerDisconnected, .dispatchFailed:
                throw BenchmarkError(message: "benchmark disturbed: \(event)")
            case .partial:
                break
            }
            if finished == total { break }
        }
        let wall = (ContinuousClock.now - started).seconds
        let cpu = broker.statistics.loopCPUSeconds - cpuStart
        let evaluationSeconds = evaluationTime.seconds
        let throughput = Double(total) / wall
        return ThroughputReport(
            workers: workers, evaluationSeconds: evaluationSeconds, evaluations: total, wallSeconds: wall,
            throughput: throughput,
            efficiency: evaluationSeconds > 0 ? throughput / (Double(workers) / evaluationSeconds) : nil,
            evaluatorMillisecondsMean: evaluatorSeconds / Double(total) * 1000,
            overheadMillisecondsPerEvaluation: (Double(workers) * wall - evaluatorSeconds) / Double(total) * 1000,
            brokerCPUMicrosecondsPerEvaluation: cpu / Double(total) * 1e6)
    }

    // MARK: Soak

    /// `count` simulated workers (DEALER sockets on one thread) register and heartbeat for `duration`
    /// while one real zero-time worker is dispatched to repeatedly.
    public func soak(simulatedWorkers count: Int, duration: Duration) async throws -> SoakReport {
        let context = try ZMQContext(ioThreads: 2, maxSockets: count + 64)
        var configuration = BrokerConfiguration(endpoint: "tcp://127.0.0.1:*")
        configuration.heartbeatInterval = heartbeatInterval
        let broker = try Broker(context: context, configuration: configuration, logger: logger)
        defer { broker.shutdown() }
        let stop = Locked(false)
        let simulatorError = Locked<String?>(nil)
        let (endpoint, interval) = (broker.endpoint, heartbeatInterval)
        let simulator = OwnerThread(name: "spikeq-bench-sim") {
            do {
                try Self.simulate(count: count, context: context, endpoint: endpoint, interval: interval, stop: stop)
            } catch {
                simulatorError.withLock { $0 = "\(error)" }
            }
        }
        defer {
            stop.withLock { $0 = true }
            simulator.join()
        }
        var settings = WorkerConfiguration(
            endpoint: broker.endpoint, name: "soak-real",
            cacheDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("spikeq-bench-cache"))
        settings.heartbeatInterval = heartbeatInterval
        let real = try WorkerService(
            context: context, configuration: settings, evaluator: NullEvaluator(sleep: .zero, progressReports: 1), logger: logger)
        real.start()
        defer { real.stop() }

        // Wait for everyone to register.
        let registerDeadline = ContinuousClock.now + .seconds(30)
        while broker.statistics.workers < count + 1 {
            if let error = simulatorError.current { throw BenchmarkError(message: "simulator failed: \(error)") }
            guard ContinuousClock.now < registerDeadline else {
                throw BenchmarkError(message: "only \(broker.statistics.workers) of \(count + 1) workers registered")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let realID = WorkerID(routingID: Data("soak-real".utf8))
        let before = broker.statistics
        let started = ContinuousClock.now
        var roundTrips: [Double] = []
        var iterator = broker.events.makeAsyncIterator()
        var next: Int64 = 0
        while ContinuousClock.now - started < duration {
            let sent = ContinuousClock.now
            let id = broker.dispatch(Self.request(next), to: realID)
            next += 1
            while let event = await iterator.next() {
                if case .final(_, _, let dispatch, _, _) = event, dispatch == id { break }
                if case .dispatchFailed(let dispatch, _, _, let reason) = event, dispatch == id {
                    throw BenchmarkError(message: "dispatch failed during soak: \(reason)")
                }
            }
            roundTrips.append((ContinuousClock.now - sent).seconds * 1000)
            try await Task.sleep(for: .milliseconds(50))
        }
        let elapsed = (ContinuousClock.now - started).seconds
        let after = broker.statistics
        roundTrips.sort()
        return SoakReport(
            simulatedWorkers: count, seconds: elapsed, heartbeatIntervalMilliseconds: heartbeatInterval.seconds * 1000,
            registeredAtEnd: after.workers, workersLost: after.workersLost, heartbeatsSent: after.heartbeatsSent - before.heartbeatsSent,
            messagesReceived: after.messagesReceived - before.messagesReceived,
            maxTickLagMilliseconds: after.maxTickLag.seconds * 1000,
            brokerCPUFraction: (after.loopCPUSeconds - before.loopCPUSeconds) / elapsed,
            roundTripMillisecondsMedian: roundTrips.isEmpty ? 0 : roundTrips[roundTrips.count / 2],
            roundTripMillisecondsMax: roundTrips.last ?? 0)
    }

    /// The simulated workers: READY once, then HEARTBEAT every interval, draining whatever arrives.
    private static func simulate(count: Int, context: ZMQContext, endpoint: String, interval: Duration, stop: Locked<Bool>) throws {
        let poller = ZMQPoller()
        var sockets: [ZMQSocket] = []
        for index in 0..<count {
            let socket = try ZMQSocket(context: context, type: .dealer)
            try socket.setRoutingID(Data("sim-\(index)".utf8))
            try socket.connect(endpoint)
            try socket.send(MDPWorkerMessage.ready(service: MDP.evaluateService).frames)
            poller.add(socket)
            sockets.append(socket)
        }
        var nextBeat = ContinuousClock.now + interval
        while !stop.current {
            _ = try poller.poll(timeout: min(max(nextBeat - .now, .zero), .milliseconds(50)))
            for (index, socket) in sockets.enumerated() where poller.isReadable(index) {
                while let frames = try socket.receive(dontWait: true) {
                    if (try? MDPWorkerMessage(frames: frames)) == .disconnect {
                        try socket.send(MDPWorkerMessage.ready(service: MDP.evaluateService).frames)
                    }
                }
            }
            if ContinuousClock.now >= nextBeat {
                for socket in sockets { _ = try socket.trySend(MDPWorkerMessage.heartbeat.frames) }
                nextBeat = nextBeat + interval
            }
        }
    }

    static func request(_ candidate: Int64) -> EvaluationRequest {
        EvaluationRequest(
            candidateId: candidate, attempt: 1,
            config: QuantizationConfig(layers: ["blocks.0.mlp.fc1": .uniform(4), "head": .uniform(8)]),
            budget: FineTuneBudget(epochs: 1), seed: UInt64(candidate),
            baseCheckpoint: ArtifactReference(sha256: String(repeating: "0", count: 64), bytes: 0, name: "none"),
            dataset: DatasetReference(configYAML: "", fingerprint: "bench"), energyModels: [:])
    }
}

/// The benchmark could not run as designed (a worker was lost, a dispatch failed).
public struct BenchmarkError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
