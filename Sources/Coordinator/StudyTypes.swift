import Foundation
import Wire

/// What the event loop must do after a study call.
public enum StudyAction: Hashable, Sendable {
    /// Send `request` to the idle `worker`.
    case dispatch(EvaluationRequest, worker: String)
    /// Drop `worker` (its lease expired while it stayed connected, or its results are refused).
    case disconnect(worker: String, reason: String)
    /// The run is over (reported once); stop the loop.
    case finished(StudySummary)
}

/// What the study made of a FINAL.
public enum OutcomeDisposition: Hashable, Sendable {
    /// The first result for the candidate; `late` when its attempt had already lost its lease or been
    /// superseded by a re-issue.
    case accepted(late: Bool)
    /// The candidate already had a result; recorded as an event only.
    case duplicate
    /// The evaluation raised (or its result was unusable); the candidate is FAILED.
    case failed(reason: String)
    /// A failure from an attempt that was already superseded, or a `busy` refusal (the attempt is
    /// `interrupted` and the candidate re-queued); recorded, the candidate carries on.
    case failureIgnored
    /// Refused (wrong dataset fingerprint or checkpoint hash, wrong config, or the worker could not
    /// load data/checkpoint); the candidate is re-queued (or given up as stale) and the worker
    /// quarantined.
    case rejected(reason: String)
    /// No such candidate or attempt in this run.
    case unknown
    /// Sent by a worker that does not hold the attempt, or naming another attempt than its dispatch;
    /// dropped and recorded as an event, nothing else changes.
    case unbound(reason: String)
}

/// The answer to ``Study/outcome(_:from:)``.
public struct OutcomeReport: Hashable, Sendable {
    public var disposition: OutcomeDisposition
    public var actions: [StudyAction]
}

/// One dispatch of one candidate.
public struct AttemptKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var candidateId: Int64
    public var attempt: Int

    public init(candidateId: Int64, attempt: Int) {
        self.candidateId = candidateId
        self.attempt = attempt
    }

    public static func < (a: AttemptKey, b: AttemptKey) -> Bool { (a.candidateId, a.attempt) < (b.candidateId, b.attempt) }
    public var description: String { "\(candidateId)#\(attempt)" }
}

/// A running attempt bound to a worker, alive while news keeps coming.
public struct Lease: Hashable, Sendable {
    public var key: AttemptKey
    public var worker: String
    public var dispatchedAt: Date
    /// Dispatch time, then the time of the latest PARTIAL.
    public var lastProgress: Date
    public var progress: EvaluationProgress?
}

/// Why a run stops starting candidates.
public enum StopReason: String, Codable, Hashable, Sendable {
    case evaluationBudget = "evaluation-budget"
    case wallTime = "wall-time"
    /// Every configuration of the space has been proposed.
    case exhausted
    /// ``Study/stop(reason:)`` was called (e.g. SIGINT); the run can be resumed.
    case stopped
}

public enum StudyPhase: Hashable, Sendable {
    /// Starting candidates as workers become free.
    case running
    /// The budget is reached: no new candidates, waiting for in-flight ones (and their retries).
    case draining(since: Date, reason: StopReason)
    case finished(StopReason)
}

/// The end state of a run.
public struct StudySummary: Hashable, Sendable {
    public var reason: StopReason
    public var done: Int
    public var failed: Int
    public var stale: Int
    /// Candidates left pending at the end (grace expired or stopped); a resume can finish them.
    public var unfinished: Int
    public var hypervolume: Double
    public var activeSeconds: Double
    /// Candidates with a full-fidelity result (all done ones in a single-fidelity run).
    public var fullFidelity: Int = 0
    /// Fine-tune steps of all accepted results, at every rung: what the search cost.
    public var qatSteps: Int = 0
}

/// The study cannot go on (inconsistent saved state, a run that does not match).
public struct StudyError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
