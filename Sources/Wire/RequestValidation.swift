import ContentHash
import Foundation
import QuantConfig

/// Range checks on a request before a worker acts on it: a coordinator (or anything that reached
/// the broker's port) is not trusted to send values the engine's preconditions would trap on.
extension EvaluationRequest {
    /// Upper bounds far above any real budget, so a typo or a hostile value is refused, not run.
    public static let maxThreads = 1024
    public static let maxEpochs = 100_000
    public static let maxSteps = 100_000_000
    public static let maxBatchSize = 1 << 16

    /// Everything wrong with this request, in field order; empty when a worker may run it.
    public var problems: [String] {
        var problems: [String] = []
        func check(_ ok: Bool, _ message: @autoclosure () -> String) {
            if !ok { problems.append(message()) }
        }
        check(candidateId >= 0, "candidateId \(candidateId) is negative")
        check(attempt >= 1, "attempt \(attempt) is below 1")
        check((0...Self.maxEpochs).contains(budget.epochs), "budget.epochs \(budget.epochs) is outside 0…\(Self.maxEpochs)")
        if let steps = budget.maxSteps { check((0...Self.maxSteps).contains(steps), "budget.maxSteps \(steps) is outside 0…\(Self.maxSteps)") }
        if let steps = budget.scheduleSteps {
            check((1...Self.maxSteps).contains(steps), "budget.scheduleSteps \(steps) is outside 1…\(Self.maxSteps)")
        }
        check(budget.learningRate.isFinite && budget.learningRate >= 0, "budget.learningRate \(budget.learningRate) is not a finite non-negative number")
        check(budget.weightDecay.isFinite && budget.weightDecay >= 0, "budget.weightDecay \(budget.weightDecay) is not a finite non-negative number")
        check((1...Self.maxBatchSize).contains(budget.batchSize), "budget.batchSize \(budget.batchSize) is outside 1…\(Self.maxBatchSize)")
        check(budget.labelSmoothing.isFinite && (0...1).contains(budget.labelSmoothing), "budget.labelSmoothing \(budget.labelSmoothing) is outside [0, 1]")
        if let threads = budget.threads { check((1...Self.maxThreads).contains(threads), "budget.threads \(threads) is outside 1…\(Self.maxThreads)") }
        check(ContentHash.isSHA256(baseCheckpoint.sha256), "baseCheckpoint.sha256 is not 64 lowercase hex digits")
        check(baseCheckpoint.bytes >= 0, "baseCheckpoint.bytes \(baseCheckpoint.bytes) is negative")
        if let rung { check(rung >= 0, "rung \(rung) is negative") }
        if let continuation {
            check((0...Self.maxSteps).contains(continuation.fromSteps), "continuation.fromSteps \(continuation.fromSteps) is out of range")
            if let packed = continuation.packedModel {
                check(ContentHash.isSHA256(packed.sha256), "continuation.packedModel.sha256 is not 64 lowercase hex digits")
            }
        }
        if let splits { check(!splits.isEmpty, "splits is empty") }
        if let supernet {
            if let problem = supernet.settings.problem { problems.append("supernet.settings: \(problem)") }
            do {
                try supernet.space.validate()
            } catch {
                problems.append("supernet.space: \(error)")
            }
            check(supernet.space.layers.count <= EvaluationResult.maxLayers, "supernet.space has more than \(EvaluationResult.maxLayers) layers")
            check(budget.epochs >= 1, "a supernet job needs at least one training epoch")
        }
        return problems
    }
}
