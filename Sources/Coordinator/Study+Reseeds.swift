import Foundation
import Logging
import QuantConfig
import RunStore
import Search
import Wire

/// `final.reseeds`: once the search's work is done, every member of the final front and the
/// fine-tuned FP32 reference are fine-tuned again with K more seeds. The front was selected as the
/// best of noisy evaluations, so its accuracies are biased upwards (the winner's curse); the
/// re-fine-tunes show each member's mean ± sd and the spread of the drop against the reference.
///
/// A re-fine-tune is a candidate row of origin `reseed` whose parent is the model it re-tunes and
/// whose config hash is its own (``reseedRowHash(configHash:replicate:)``). It runs like the
/// reference (top rung, from the start, every split) and its result goes to `reseed_result` only:
/// never to the search, the front, the hypervolume or the artifacts.
extension Study {
    /// The candidate-row hash of replicate `replicate` of the config with `configHash`.
    static func reseedRowHash(configHash: String, replicate: Int) -> String { "reseed-\(replicate)-\(configHash)" }

    /// The replicate a re-fine-tune row's hash names, or nil for any other hash.
    static func reseedReplicate(rowHash: String) -> Int? {
        let parts = rowHash.split(separator: "-", maxSplits: 2)
        guard parts.count == 3, parts[0] == "reseed", let replicate = Int(parts[1]), replicate >= 1 else { return nil }
        return replicate
    }

    /// The fine-tune seed of replicate `replicate`: a stream of its own, apart from every attempt
    /// seed. With common random numbers every model's replicate r shares one seed, so the
    /// comparison with the reference stays paired seed by seed.
    func reseedSeed(configHash: String, replicate: Int) -> UInt64 {
        let key = setup.commonRandomNumbers == true ? "common" : configHash
        return Self.candidateSeed(runSeed: setup.seed, configHash: Self.reseedRowHash(configHash: key, replicate: replicate), attempt: 1)
    }

    /// Queues the re-fine-tunes of the stored front and the fine-tuned reference, once per model:
    /// after a budget extension only the front's new members get theirs. Returns whether it queued
    /// any.
    func queueReseeds(at now: Date) throws -> Bool {
        let replicates = setup.reseeds ?? 0
        guard replicates > 0 else { return false }
        let retuned = Set(candidates.values.compactMap { candidate -> Int64? in
            if case .reseed(let of, _) = candidate.kind { return of }
            return nil
        })
        var targets = candidates.values.filter { $0.isReference && $0.status == .done }.map(\.id)
        targets += try store.pareto().members.map(\.candidateId)
        targets.removeAll { retuned.contains($0) }
        guard !targets.isEmpty else { return false }
        var queued: [CandidateState] = []
        try store.write { w in
            // Replicate-major, so a run stopped part-way has every model at the same count.
            for replicate in 1...replicates {
                for of in targets {
                    guard let config = candidates[of]?.config else { continue }
                    let hash = Self.reseedRowHash(configHash: config.hash, replicate: replicate)
                    let id = try w.insertCandidate(NewCandidate(config: config, configHash: hash, origin: .reseed, parents: [of], createdAt: now))
                    queued.append(
                        CandidateState(
                            id: id, hash: hash, config: config, status: .pending, dispatched: 0, lost: 0, rung: setup.schedule.topRung,
                            kind: .reseed(of: of, replicate: replicate)))
                }
            }
            try w.appendEvent("reseeds-queued", at: now, payload: ["models": String(targets.count), "replicates": String(replicates)])
        }
        for candidate in queued {
            candidates[candidate.id] = candidate
            idByHash[candidate.hash] = candidate.id
            queue.append(candidate.id)
        }
        logger.info("Re-fine-tuning the front with more seeds", metadata: ["models": "\(targets.count)", "replicates": "\(replicates)"])
        return !queued.isEmpty
    }

    /// A re-fine-tune's result: stored for the report, told to nothing else.
    func acceptReseed(
        _ result: EvaluationResult, of: Int64, replicate: Int, key: AttemptKey, worker: String, late: Bool, at now: Date
    ) throws -> OutcomeDisposition {
        try store.write { w in
            try w.finishAttempt(candidateId: key.candidateId, number: key.attempt, state: .done, at: now)
            try w.endBusy(candidateId: key.candidateId, attempt: key.attempt, at: now)
            try w.insertReseedResult(candidateId: key.candidateId, attempt: key.attempt, of: of, replicate: replicate, result: result, at: now)
            try w.setCandidateStatus(key.candidateId, .done, finishedAt: now)
            try w.workerSeen(worker, at: now)
            try w.appendEvent(
                "reseed-result", at: now, candidateId: key.candidateId, attempt: key.attempt, worker: worker,
                payload: result.accuracy.mapValues { String($0) }.merging(["of": String(of), "replicate": String(replicate)]) { $1 })
            try w.touchSession(sessionID, at: now)
        }
        qatSteps += result.fineTune.steps
        lastTouch = now
        candidates[key.candidateId]?.status = .done
        queue.removeAll { $0 == key.candidateId }
        return .accepted(late: late)
    }
}
