import Threading
import Foundation
import Transport
public import Wire

/// Runs one candidate evaluation. The worker calls it on a dedicated thread (never on its socket
/// thread), so it may take hours and block freely; heartbeats continue meanwhile.
///
/// Throw an ``EvaluationFailure`` to report a structured failure kind (`dataset`, `checkpoint-hash`,
/// `diverged` …); any other error is reported as kind `internal` with its text.
public protocol Evaluator: Sendable {
    func evaluate(_ request: EvaluationRequest, context: EvaluationContext) throws -> EvaluationReply
}

/// What an evaluation produces: the measured result and, optionally, the fine-tuned model in its
/// packed form, which the FINAL carries as a second body frame so the coordinator can export it
/// without re-training.
/// A supernet training job's reply carries its ``SupernetResult`` instead.
public struct EvaluationReply: Sendable {
    public var result: EvaluationResult?
    public var packedModel: Data?
    public var supernet: SupernetResult?

    public init(result: EvaluationResult, packedModel: Data? = nil) {
        self.result = result
        self.packedModel = packedModel
    }

    public init(supernet: SupernetResult) {
        self.supernet = supernet
    }
}

/// What an evaluation may use besides its request: progress reporting, the base checkpoint,
/// the thread budget and cancellation.
public struct EvaluationContext: Sendable {
    /// Compute threads the evaluation may use (the request's budget, else the worker's `--threads`).
    public let threads: Int
    /// The worker's name (also its routing id), for logs.
    public let workerName: String
    private let progressSink: @Sendable (EvaluationProgress) -> Void
    private let checkpoints: (any CheckpointProviding)?
    private let cancellation: Locked<Bool>

    public init(
        threads: Int, workerName: String, checkpoints: (any CheckpointProviding)?, cancellation: Locked<Bool> = Locked(false),
        progress: @escaping @Sendable (EvaluationProgress) -> Void
    ) {
        self.threads = threads
        self.workerName = workerName
        self.checkpoints = checkpoints
        self.cancellation = cancellation
        self.progressSink = progress
    }

    /// Reports progress; the worker forwards the latest report as a PARTIAL (at most a few per second).
    public func report(_ progress: EvaluationProgress) {
        progressSink(progress)
    }

    /// True once the worker is shutting down; long evaluations should check it and throw.
    public var isCancelled: Bool { cancellation.current }

    /// The local path of an artifact (the base checkpoint): from the worker's cache, or fetched from
    /// the coordinator's `spikeq.artifact` service and verified by SHA-256 first.
    ///
    /// - Throws: ``EvaluationFailure`` of kind `checkpoint` or `checkpoint-hash`.
    public func checkpoint(
        for reference: ArtifactReference, progress: (@Sendable (_ bytes: Int, _ total: Int) -> Void)? = nil
    ) throws -> URL {
        guard let checkpoints else {
            throw EvaluationFailure(kind: .checkpoint, message: "this worker has no checkpoint provider")
        }
        return try checkpoints.file(for: reference, progress: progress)
    }
}

/// Supplies local copies of content-addressed artifacts.
public protocol CheckpointProviding: Sendable {
    func file(for reference: ArtifactReference, progress: (@Sendable (Int, Int) -> Void)?) throws -> URL
}
