import Foundation
import GRDB
import Search

/// The non-dominated results of a run.
public struct ParetoSummary: Hashable, Sendable {
    /// The first front under constrained domination, ordered by the first objective.
    public var members: [StoredResult]
    /// False when no result meets the constraints; the members are then the least-violating results.
    public var feasible: Bool
    /// Results the front was taken from.
    public var evaluated: Int
}

/// A run at a glance, for `spikeq status`.
public struct RunStatus: Hashable, Sendable {
    public var metadata: RunMetadata
    /// Search candidates by status (the fine-tuned FP32 reference is not counted).
    public var candidates: [CandidateStatus: Int]
    public var attempts: [AttemptState: Int]
    /// Attempts still running, with their latest progress.
    public var inFlight: [AttemptRecord]
    public var hypervolume: HypervolumeRecord?
    public var workers: [WorkerRecord]
    public var front: ParetoSummary
    public var lastEvent: Date?

    /// Candidates with an accepted result.
    public var done: Int { candidates[.done, default: 0] }
    /// Candidates that will not be dispatched again (done, failed, stale): what the evaluation budget counts.
    public var finished: Int { done + candidates[.failed, default: 0] + candidates[.stale, default: 0] }
}

extension RunStore {
    /// The non-dominated set of every accepted result (constrained domination, Deb's rules).
    public func pareto() throws -> ParetoSummary {
        let all = try results()
        guard !all.isEmpty else { return ParetoSummary(members: [], feasible: true, evaluated: 0) }
        let fronts = ParetoRanking.fronts(all.map(\.fitness))
        let members = fronts[0].map { all[$0] }.sorted { (a: StoredResult, b: StoredResult) -> Bool in
            let x = a.objectives.first ?? 0
            let y = b.objectives.first ?? 0
            return x != y ? x < y : a.candidateId < b.candidateId
        }
        return ParetoSummary(members: members, feasible: members.allSatisfy { $0.isFeasible }, evaluated: all.count)
    }

    public func status() throws -> RunStatus {
        let counts: ([CandidateStatus: Int], [AttemptState: Int], Date?) = try read { db in
            var candidates: [CandidateStatus: Int] = [:]
            // The fine-tuned FP32 reference, supernet training jobs and final re-fine-tunes run like
            // candidates but are not the search's.
            for row in try Row.fetchAll(
                db, sql: "SELECT status, count(*) AS n FROM candidate WHERE origin NOT IN ('reference', 'supernet-training', 'reseed') GROUP BY status")
            {
                if let status = CandidateStatus(rawValue: try row.value("status")) { candidates[status] = try row.value("n") }
            }
            var attempts: [AttemptState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, count(*) AS n FROM attempt GROUP BY state") {
                if let state = AttemptState(rawValue: try row.value("state")) { attempts[state] = try row.value("n") }
            }
            let last = try Double.fetchOne(db, sql: "SELECT max(time) FROM event").map(Date.init(timeIntervalSince1970:))
            return (candidates, attempts, last)
        }
        return RunStatus(
            metadata: try metadata(), candidates: counts.0, attempts: counts.1, inFlight: try attempts(state: .running),
            hypervolume: try hypervolumeHistory().last, workers: try workers(), front: try pareto(), lastEvent: counts.2)
    }
}
