import ConfigFiles
import Evaluation
import Events
import Foundation
import Logging
import Quantization
import Tensor
public import Wire

/// The real evaluator: fine-tunes and measures a candidate on this machine (what `spikeq worker`
/// runs by default).
///
/// The dataset is read locally: the request's dataset config is prepared into the frame cache
/// (generated, for the synthetic set), and its fingerprint must equal the coordinator's or the
/// evaluation is refused (`dataset-mismatch`). The base checkpoint comes from the worker's cache
/// or the coordinator's artifact service, verified by hash. Both, and the FP32 reference
/// measurement, are reused across requests.
public final class SpikeQuantEvaluator: Evaluator, @unchecked Sendable {
    // @unchecked: the worker runs one evaluation at a time on its evaluation thread; `state` is
    // only touched there, and guarded by `lock` anyway.
    private let cacheDirectory: URL
    private let logger: Logger
    private let lock = NSLock()
    private var evaluators: [String: CandidateEvaluator] = [:]
    private var datasets: [String: EvaluationData] = [:]
    /// Training states of this worker's latest fine-tunes: a promotion of a candidate it evaluated
    /// continues exactly where that fine-tune stopped.
    private let states = FineTuneStateCache(capacity: 2)

    /// - Parameter cacheDirectory: where the FP32 reference measurements are cached.
    public init(cacheDirectory: URL, logger: Logger) {
        self.cacheDirectory = cacheDirectory
        self.logger = logger
        // Yams (behind ConfigYAML) compiles its scalar-resolution regular expressions
        // (NSRegularExpression, ICU) on first use. Doing that first use on the worker's evaluation
        // thread crashed inside ICU on Linux ("attempted to read an unowned reference"), so it
        // happens here, on the calling thread.
        _ = try? ConfigYAML.load("warm: up", file: nil)
    }

    public func evaluate(_ request: EvaluationRequest, context: EvaluationContext) throws -> EvaluationReply {
        lock.lock()
        defer { lock.unlock() }
        guard request.schema == EvaluationRequest.currentSchema || request.isSupernetJob else {
            throw EvaluationFailure(
                kind: .schema,
                message: "unknown request schema `\(request.schema)`; this worker speaks \(EvaluationRequest.currentSchema) and \(EvaluationRequest.supernetSchema)")
        }
        if Compute.threadCount != context.threads { Compute.setThreadCount(context.threads) }
        let report = { (phase: String) in
            context.report(EvaluationProgress(candidateId: request.candidateId, attempt: request.attempt, phase: phase))
        }
        let data = try dataset(for: request.dataset, report: report)
        report("fetch")
        let checkpoint = try context.checkpoint(for: request.baseCheckpoint)
        let evaluator = try candidateEvaluator(checkpoint: checkpoint, reference: request.baseCheckpoint, data: data, energyTexts: request.energyModels)
        if let job = request.supernet {
            let result = try evaluator.trainSupernet(
                space: job.space, settings: job.settings, budget: request.budget, seed: request.seed, candidateId: request.candidateId,
                attempt: request.attempt, progress: { context.report($0) }, isCancelled: { context.isCancelled })
            return EvaluationReply(supernet: result)
        }
        let continuation = try continuation(of: request, context: context)
        let outcome = try evaluator.evaluate(
            request.config, budget: request.budget, seed: request.seed, candidateId: request.candidateId, attempt: request.attempt,
            continuation: continuation, splits: request.splits.map(Set.init),
            progress: { context.report($0) }, isCancelled: { context.isCancelled })
        states.insert(outcome.state)
        return EvaluationReply(result: outcome.result, packedModel: Data(outcome.packedModel))
    }

    /// Where a promoted candidate's fine-tune resumes: this worker's own training state when it ran
    /// the earlier rung (exact), else the earlier rung's packed model from the coordinator (a warm
    /// start), else nothing (the whole budget from the base checkpoint; the result says so).
    private func continuation(of request: EvaluationRequest, context: EvaluationContext) throws -> FineTuneContinuation? {
        guard let continuation = request.continuation, continuation.fromSteps > 0 else { return nil }
        let key = FineTuneState.key(config: request.config, budget: request.budget, seed: request.seed)
        if let state = states.take(key: key, steps: continuation.fromSteps) { return .state(state) }
        guard let packed = continuation.packedModel else { return nil }
        let url = try context.checkpoint(for: packed)
        do {
            return .packed([UInt8](try Data(contentsOf: url)), steps: continuation.fromSteps)
        } catch {
            throw EvaluationFailure(kind: .checkpoint, message: "cannot read the earlier rung's model \(url.path): \(error)")
        }
    }

    private func dataset(for reference: DatasetReference, report: (String) -> Void) throws -> EvaluationData {
        if let cached = datasets[reference.configYAML] { return try checked(cached, reference) }
        report("load")
        let config: DatasetConfig
        do {
            config = try DatasetConfig.parse(reference.configYAML, file: "request.dataset.configYAML")
        } catch {
            throw EvaluationFailure(kind: .dataset, message: "\(error)")
        }
        let data: EvaluationData
        do {
            data = try EvaluationData.prepare(config, threads: Compute.threadCount)
        } catch {
            throw EvaluationFailure(kind: .dataset, message: "\(error)")
        }
        datasets[reference.configYAML] = data
        return try checked(data, reference)
    }

    private func checked(_ data: EvaluationData, _ reference: DatasetReference) throws -> EvaluationData {
        guard data.fingerprint == reference.fingerprint else {
            throw EvaluationFailure(
                kind: .datasetMismatch,
                message: "local dataset fingerprint \(data.fingerprint) differs from the coordinator's \(reference.fingerprint) (different files or frame settings)")
        }
        return data
    }

    private func candidateEvaluator(
        checkpoint: URL, reference: ArtifactReference, data: EvaluationData, energyTexts: [String: String]
    ) throws -> CandidateEvaluator {
        let key = "\(reference.sha256)|\(data.fingerprint)|\(energyTexts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ";"))"
        if let cached = evaluators[key] { return cached }
        var models: [EnergyModel] = []
        for (name, text) in energyTexts.sorted(by: { $0.key < $1.key }) {
            do {
                models.append(try EnergyModel.parse(text, file: "request.energyModels.\(name)"))
            } catch {
                throw EvaluationFailure(kind: .badRequest, message: "\(error)")
            }
        }
        let evaluator: CandidateEvaluator
        do {
            evaluator = try CandidateEvaluator(checkpoint: checkpoint, data: data, energyModels: models, cacheDirectory: cacheDirectory)
        } catch {
            throw EvaluationFailure(kind: .checkpoint, message: "\(error)")
        }
        guard evaluator.checkpointHash == reference.sha256 else {
            throw EvaluationFailure(kind: .checkpointHash, message: "\(checkpoint.path) hashes to \(evaluator.checkpointHash), expected \(reference.sha256)")
        }
        evaluators = [key: evaluator]
        logger.info("Evaluator ready", metadata: ["checkpoint.sha256": "\(reference.sha256)", "dataset.fingerprint": "\(data.fingerprint)"])
        return evaluator
    }
}
