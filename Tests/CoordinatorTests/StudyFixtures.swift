import Coordinator
import Foundation
import Logging
import QuantConfig
import RunStore
import Search
import Synchronization
import Testing
import Wire

/// A clock the test moves by hand.
final class ManualClock: StudyClock {
    private let time: Mutex<Date>

    init(_ start: Date = Date(timeIntervalSince1970: 1_700_000_000)) { time = Mutex(start) }

    var now: Date { time.withLock { $0 } }
    func advance(_ seconds: Double) { time.withLock { $0 += seconds } }
}

enum StudyFixtures {
    static let layers = ["sps.conv", "attn.q", "attn.k", "mlp.fc1", "head"]
    static let fingerprint = "dataset-fingerprint-0001"
    static let checkpoint = String(repeating: "c1", count: 32)

    /// A new study in a fresh temporary directory (the caller removes it), on `clock`.
    static func makeStudy(clock: ManualClock, _ setup: StudySetup = StudyFixtures.setup()) throws -> (Study, URL) {
        let directory = temporaryDirectory()
        return (try Study.create(at: directory, setup: setup, clock: clock, logger: quietLogger), directory)
    }

    static func temporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("spikeq-study-\(UUID().uuidString)")
    }

    static func setup(
        evaluations: Int? = 12, wallSeconds: Double? = nil, grace: Double? = nil, population: Int = 4, maxAttempts: Int = 3,
        constraints: [ConstraintSpec] = [], lease: LeaseTimings = LeaseTimings(progressTimeout: 900, heartbeatTimeout: 30)
    ) -> StudySetup {
        let space = QuantizationSpace(layers: layers, schemes: [.uniform, .pot], bits: [2, 4, 8], fixed: ["head": .uniform(8)])
        return StudySetup(
            name: "test", configYAML: "name: test\n", space: space, objectives: ObjectiveSpec.defaults(energyModel: "e45"), constraints: constraints,
            parameters: NSGA2Parameters(populationSize: population), seed: 7,
            budget: StudyBudget(evaluations: evaluations, wallSeconds: wallSeconds, graceSeconds: grace), maxAttempts: maxAttempts, lease: lease,
            template: RequestTemplate(
                fineTune: FineTuneBudget(epochs: 1), baseCheckpoint: ArtifactReference(sha256: checkpoint, bytes: 1000, name: "base.safetensors"),
                dataset: DatasetReference(configYAML: "name: synthetic\n", fingerprint: fingerprint), energyModels: ["e45": "name: e45\n"]))
    }

    /// A deterministic measurement of a configuration: narrower layers lose accuracy and save energy.
    static func result(for config: QuantizationConfig, fingerprint: String = fingerprint, checkpoint: String = checkpoint) -> EvaluationResult {
        var accuracy = 0.9
        var energy = 0.0
        for (index, name) in layers.enumerated() {
            let choice = config.layers[name]!
            let sensitivity = 0.01 + 0.02 * Double(index % 3)
            accuracy -= sensitivity * Double(8 - choice.bits) / 6 * (choice.scheme == .pot ? 1.2 : 1)
            energy += 20 * Double(choice.bits) / 32 * (choice.scheme == .pot ? 0.8 : 1)
        }
        return EvaluationResult(
            configHash: config.hash, config: config, accuracy: ["validation": accuracy, "test": accuracy - 0.005], averageBits: 4, compression: 8,
            packedBytes: 5000, energy: ["e45": EnergyFigure(picojoules: energy, reduction: 100 / energy)], layers: [],
            reference: ReferenceFigures(accuracy: ["validation": 0.9, "test": 0.895], energy: ["e45": 100], bytes: 40000),
            fineTune: FineTuneSummary(epochs: 1, steps: 5, finalLoss: 0.5, seconds: 1), wallSeconds: 1, datasetFingerprint: fingerprint,
            checkpointHash: checkpoint)
    }

    static func success(_ request: EvaluationRequest, worker: String = "w") -> EvaluationOutcome {
        EvaluationOutcome(candidateId: request.candidateId, attempt: request.attempt, result: result(for: request.config), error: nil, worker: worker)
    }

    static func failure(_ request: EvaluationRequest, kind: FailureKind = .diverged, worker: String = "w") -> EvaluationOutcome {
        EvaluationOutcome(
            candidateId: request.candidateId, attempt: request.attempt, result: nil, error: EvaluationFailure(kind: kind, message: "loss became NaN"),
            worker: worker)
    }

    /// The refusal a worker sends for a REQUEST that reached it while it was still evaluating another.
    static func busy(_ request: EvaluationRequest, worker: String) -> EvaluationOutcome {
        EvaluationOutcome(
            candidateId: request.candidateId, attempt: request.attempt, result: nil,
            error: EvaluationFailure(kind: .busy, message: "worker \(worker) is still evaluating another candidate"), worker: worker)
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "test.study")
        logger.logLevel = .critical
        return logger
    }
}

/// What the event loop would do with the study's actions, recorded for assertions: the request each
/// worker is working on, as the worker sees it.
struct Dispatches {
    var byWorker: [String: EvaluationRequest] = [:]
    var disconnected: [String] = []
    var finished: [StudySummary] = []
    var all: [EvaluationRequest] = []

    /// Records `actions`. A dispatch to a worker that still holds a request is a study bug (the
    /// worker would refuse it as busy): it is reported as a test issue and replaces the old request.
    mutating func apply(_ actions: [StudyAction], sourceLocation: SourceLocation = #_sourceLocation) {
        for action in actions {
            switch action {
            case .dispatch(let request, let worker):
                if let held = byWorker[worker] {
                    Issue.record("dispatched \(request.candidateId)#\(request.attempt) to \(worker), which still holds \(held.candidateId)#\(held.attempt)", sourceLocation: sourceLocation)
                }
                byWorker[worker] = request
                all.append(request)
            case .disconnect(let worker, _):
                disconnected.append(worker)
            case .finished(let summary):
                finished.append(summary)
            }
        }
    }

    /// Takes the request `worker` holds.
    mutating func take(_ worker: String) -> EvaluationRequest {
        byWorker.removeValue(forKey: worker)!
    }

    /// `worker` sends its FINAL for the request it holds (a success unless `outcome` says otherwise).
    /// The request leaves the record before the study answers, since the answer may already give
    /// the same worker its next request.
    @discardableResult
    mutating func finish(
        _ worker: String, in study: Study, sourceLocation: SourceLocation = #_sourceLocation,
        _ outcome: (EvaluationRequest) -> EvaluationOutcome = { StudyFixtures.success($0) }
    ) throws -> (request: EvaluationRequest, report: OutcomeReport) {
        let held = byWorker.removeValue(forKey: worker)
        let request = try #require(held, "\(worker) holds no request", sourceLocation: sourceLocation)
        let report = try study.outcome(outcome(request), from: worker)
        apply(report.actions, sourceLocation: sourceLocation)
        return (request, report)
    }
}

extension [StudyAction] {
    /// The requests these actions send to `worker`.
    func requests(to worker: String) -> [EvaluationRequest] {
        compactMap { action in
            guard case .dispatch(let request, let target) = action, target == worker else { return nil }
            return request
        }
    }

    /// The workers these actions send requests to, in order.
    var dispatchedWorkers: [String] {
        compactMap { action in
            guard case .dispatch(_, let worker) = action else { return nil }
            return worker
        }
    }
}
