import Threading
import Broker
import Foundation
import Logging
import QuantConfig
import RunStore
import Search
import Transport
import Wire

/// A snapshot for the live status line.
public struct CoordinatorStatus: Sendable {
    public var done: Int
    public var failed: Int
    public var stale: Int
    public var budget: Int?
    public var inFlight: Int
    public var workers: Int
    public var hypervolume: Double
    /// The front as (energy reduction or objective, accuracy) pairs, least energy first.
    public var front: [(accuracy: Double, energyPicojoules: Double)]
    public var activeSeconds: Double
}

/// Runs a study over a broker: the coordinator's event loop.
///
/// Every broker event goes to the ``Study``; every action the study returns goes back to the
/// broker. A successful FINAL's packed model is written to `artifacts/<config hash>.safetensors`
/// (atomically) *before* the study records the result, so an accepted result always has its model
/// on disk, even across a crash; the name is the candidate's own hash, and only for a FINAL the
/// study would accept. Each FINAL is acknowledged to its worker once its transaction has
/// committed (the worker re-sends it until then). The loop also ticks the study every second
/// (lease timeouts, wall-time budget) and reports a status snapshot every `statusInterval`.
///
/// No message from the network ends the loop: only run-store failures do.
///
/// - Important: `@unchecked Sendable` so a service can hand it to its task: its mutable state is
///   touched only by ``run(statusInterval:status:)``, which runs once.
public final class SearchCoordinator: @unchecked Sendable {
    public let study: Study
    public let broker: Broker
    public let artifactsDirectory: URL
    private let logger: Logger
    private var workersByName: [String: WorkerID] = [:]
    /// The attempt each dispatch of this session carried, so a FINAL is matched by its dispatch.
    private var dispatched: [DispatchID: AttemptKey] = [:]
    /// Bounds the progress events waiting for the study (see ``ProgressGate``).
    private let progressGate = ProgressGate(capacity: 256)

    /// PARTIALs dropped because the study had fallen behind on progress events.
    public var progressShed: Int { progressGate.shed }

    public init(study: Study, broker: Broker, artifactsDirectory: URL, logger: Logger) throws {
        self.study = study
        self.broker = broker
        self.artifactsDirectory = artifactsDirectory
        self.logger = logger
        try FileManager.default.createDirectory(at: artifactsDirectory, withIntermediateDirectories: true)
    }

    private enum Input {
        case broker(BrokerEvent)
        case tick
    }

    /// Runs until the study finishes or the task is cancelled (then the run is stopped cleanly and
    /// can be resumed).
    ///
    /// - Parameter status: called on the loop every `statusInterval` and once at the end.
    public func run(
        statusInterval: Duration = .seconds(2), status: (CoordinatorStatus) -> Void = { _ in }
    ) async throws -> StudySummary {
        let (inputs, continuation) = AsyncStream.makeStream(of: Input.self)
        let progressGate = progressGate
        let forward = Task { [broker] in
            for await event in broker.events {
                if case .partial = event, !progressGate.admit() { continue }
                continuation.yield(.broker(event))
            }
            continuation.finish()
        }
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                continuation.yield(.tick)
            }
        }
        defer {
            forward.cancel()
            ticker.cancel()
        }
        let clock = ContinuousClock()
        var lastStatus = clock.now
        // A resumed run may already be over (its budget spent): the first tick then finishes it.
        if let summary = try perform(try study.tick()) {
            status(try snapshot())
            return summary
        }
        for await input in inputs {
            if Task.isCancelled { break }
            var actions: [StudyAction]
            switch input {
            case .tick:
                actions = try study.tick()
            case .broker(let event):
                if case .partial = event { progressGate.consumed() }
                do {
                    actions = try handle(event)
                } catch let error as RunStoreError {
                    throw error
                } catch {
                    // A peer's message must not end the run; the study changed nothing it had not
                    // committed, so dropping the message is safe.
                    logger.error("Dropped a broker event the study could not handle", metadata: ["error": "\(error)"])
                    actions = []
                }
            }
            if let summary = try perform(actions) {
                status(try snapshot())
                return summary
            }
            if clock.now - lastStatus >= statusInterval {
                lastStatus = clock.now
                status(try snapshot())
            }
        }
        try study.stop(reason: "interrupted")
        logger.notice("Search stopped; resume it with --resume", metadata: ["run.directory": "\(study.store.directory.path)"])
        return study.summary
    }

    private func handle(_ event: BrokerEvent) throws -> [StudyAction] {
        switch event {
        case .workerReady(let id):
            workersByName[id.description] = id
            return try study.workerReady(id.description)
        case .partial(let progress, _, let id):
            workersByName[id.description] = id
            return try study.progress(progress, from: id.description)
        case .final(let outcome, let artifact, let dispatch, let id, _):
            if outcome.result != nil { Failpoint.trigger(.beforeCommittingAResult) }
            let bound = dispatched[dispatch]
            if let artifact, let name = study.artifactName(for: outcome, from: id.description, dispatched: bound) {
                saveArtifact(artifact, configHash: name)
            }
            let report = try study.outcome(outcome, from: id.description, dispatched: bound)
            // Committed: the worker may forget it. Unbound FINALs are acknowledged too (there is
            // nothing more this coordinator will do with them, so re-sending is pointless).
            dispatched[dispatch] = nil
            broker.acknowledge(dispatch, to: id)
            return report.actions
        case .workerLost(let id, let held):
            workersByName[id.description] = nil
            return try study.workerLost(id.description, holding: held?.request, reason: "no heartbeat for \(broker.configuration.expiry)")
        case .workerDisconnected(let id, let held, let reason):
            workersByName[id.description] = nil
            return try study.workerLost(id.description, holding: held?.request, reason: reason)
        case .dispatchFailed(let dispatch, let request, let id, let reason):
            dispatched[dispatch] = nil
            return try study.dispatchFailed(request, worker: id?.description, reason: reason)
        }
    }

    /// Carries out the study's actions; returns the summary when the run is over.
    @discardableResult
    private func perform(_ actions: [StudyAction]) throws -> StudySummary? {
        for action in actions {
            switch action {
            case .dispatch(let request, let worker):
                guard let id = workersByName[worker] else {
                    _ = try perform(try study.dispatchFailed(request, worker: worker, reason: "unknown worker"))
                    continue
                }
                let dispatch = broker.dispatch(withContinuationModel(request), to: id)
                dispatched[dispatch] = AttemptKey(candidateId: request.candidateId, attempt: request.attempt)
            case .disconnect(let worker, let reason):
                logger.warning("Disconnecting worker", metadata: ["worker.id": "\(worker)", "reason": "\(reason)"])
                if let id = workersByName[worker] { broker.disconnect(id) }
            case .finished(let summary):
                return summary
            }
        }
        return nil
    }

    /// A promotion continues the earlier rung: attach that rung's packed model (served by the
    /// broker's artifact service) for a worker that does not hold the training state itself.
    private func withContinuationModel(_ request: EvaluationRequest) -> EvaluationRequest {
        guard var continuation = request.continuation, continuation.packedModel == nil else { return request }
        let url = RunDirectory.artifact(in: artifactsDirectory, configHash: request.config.hash)
        guard FileManager.default.fileExists(atPath: url.path) else { return request }
        do {
            continuation.packedModel = try broker.artifacts.add(fileAt: url, name: url.lastPathComponent)
        } catch {
            logger.warning("Cannot serve the earlier rung's model; the worker starts over", metadata: ["file": "\(url.path)", "error": "\(error)"])
            return request
        }
        var request = request
        request.continuation = continuation
        return request
    }

    private func saveArtifact(_ data: Data, configHash: String) {
        let url = RunDirectory.artifact(in: artifactsDirectory, configHash: configHash)
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            logger.error("Cannot save packed model", metadata: ["file": "\(url.path)", "error": "\(error)"])
        }
    }

    private func snapshot() throws -> CoordinatorStatus {
        let summary = study.summary
        var energyModel: String?
        var accuracySplit = "validation"
        for objective in study.setup.objectives.reversed() {
            switch objective {
            case .energy(let model): energyModel = model
            case .accuracy(let split): accuracySplit = split
            case .averageBits, .packedBytes: break
            }
        }
        let front = try study.store.pareto().members.map { member in
            (
                accuracy: member.result.accuracy[accuracySplit] ?? 0,
                energyPicojoules: energyModel.flatMap { member.result.energy[$0]?.picojoules } ?? 0
            )
        }
        return CoordinatorStatus(
            done: summary.done, failed: summary.failed, stale: summary.stale, budget: study.setup.budget.evaluations,
            inFlight: study.inFlight.count, workers: workersByName.count,
            hypervolume: summary.hypervolume, front: front, activeSeconds: summary.activeSeconds)
    }
}

/// Bounds how many progress events (PARTIALs) wait for the study. Progress only refreshes a lease and
/// the status line, so when the study falls behind (a slow disk, a flood of PARTIALs from many
/// workers) the surplus is shed before it queues; FINALs and worker events are never shed (they are
/// bounded by dispatches, registrations and the broker's per-peer rate limits).
package final class ProgressGate: Sendable {
    private let state = Locked((queued: 0, shed: 0))
    package let capacity: Int

    package init(capacity: Int) {
        self.capacity = capacity
    }

    /// Whether one more progress event may be queued; counts it if so, counts it as shed if not.
    package func admit() -> Bool {
        state.withLock { state in
            guard state.queued < capacity else {
                state.shed += 1
                return false
            }
            state.queued += 1
            return true
        }
    }

    /// The study took one queued progress event.
    package func consumed() {
        state.withLock { $0.queued = max(0, $0.queued - 1) }
    }

    package var queued: Int { state.withLock { $0.queued } }
    package var shed: Int { state.withLock { $0.shed } }
}
