import Foundation
import RunStore
import Search
import Wire

/// How good a run's front got for what its search spent: hypervolume (validation objectives, the
/// run's reference point) against cumulative QAT steps, the currency `spikeq bench search-quality`
/// compares strategies in.
///
/// The fine-tuned FP32 reference is counted apart (``referenceSteps``): every run pays it once,
/// whatever the strategy, and it is not quantization-aware training, so it is a fixed cost of the
/// run rather than of the search.
public struct SearchQuality: Codable, Hashable, Sendable {
    public struct Point: Codable, Hashable, Sendable {
        /// Search steps spent so far: every rung, every full-fidelity result, every supernet
        /// training and a sensitivity table the run measured (not the fine-tuned reference).
        public var steps: Int
        /// Hypervolume of the full-fidelity results so far.
        public var hypervolume: Double
    }

    /// One point per accepted result, in arrival order.
    public var trajectory: [Point]
    /// Search steps of the whole run (the reference's excluded).
    public var totalSteps: Int
    /// Steps of the run's fine-tuned FP32 reference; nil in reports written before it was counted
    /// apart, whose steps include it.
    public var referenceSteps: Int?
    public var finalHypervolume: Double
    public var fullFidelityResults: Int
    public var lowerRungResults: Int
    /// Test accuracies of the final front, least energy first.
    public var frontTestAccuracies: [Double]

    /// Reads a finished (or running) run. Lower-rung results cost steps but never count towards the
    /// hypervolume, which is taken over full-fidelity results only, as the front is.
    public static func measure(_ store: RunStore) throws -> SearchQuality {
        let reference = try store.metadata().settings.referencePoint
        enum Entry { case full(StoredResult), rung(StoredRungResult), supernet(StoredSupernetResult) }
        let full = try store.results()
        let rungs = try store.rungResults()
        let supernets = try store.supernetResults()
        let entries =
            (full.map { (time: $0.receivedAt, entry: Entry.full($0)) } + rungs.map { (time: $0.receivedAt, entry: Entry.rung($0)) }
            + supernets.map { (time: $0.receivedAt, entry: Entry.supernet($0)) })
            .sorted { $0.time < $1.time }
        // A sensitivity table measured at creation comes first, before any candidate.
        var steps = try store.metadata().settings.sensitivitySteps ?? 0
        var points: [[Double]] = []
        var trajectory: [Point] = []
        for (_, entry) in entries {
            switch entry {
            case .full(let result):
                steps += result.result.fineTune.steps
                if result.isFeasible { points.append(result.objectives) }
            case .rung(let result):
                steps += result.result.fineTune.steps
            case .supernet(let result):
                // A supernet training costs its steps like a fine-tune (the gumbel and hybrid strategies).
                steps += result.result.steps
            }
            trajectory.append(Point(steps: steps, hypervolume: points.isEmpty ? 0 : Hypervolume.of(points, reference: reference)))
        }
        let front = try store.pareto().members
        return SearchQuality(
            trajectory: trajectory, totalSteps: steps, referenceSteps: try store.fineTunedReference()?.fineTune.steps ?? 0,
            finalHypervolume: trajectory.last?.hypervolume ?? 0,
            fullFidelityResults: full.count, lowerRungResults: rungs.count,
            frontTestAccuracies: front.compactMap { $0.result.accuracy["test"] })
    }

    /// Search steps spent until the hypervolume first reached `target`, or nil if it never did.
    public func steps(toReach target: Double) -> Int? {
        trajectory.first { $0.hypervolume >= target }?.steps
    }

    /// The same with the fine-tuned reference's steps added: what the whole run had spent.
    public func stepsWithReference(toReach target: Double) -> Int? {
        steps(toReach: target).map { $0 + (referenceSteps ?? 0) }
    }

    /// Hypervolume reached within `budget` steps.
    public func hypervolume(within budget: Int) -> Double {
        trajectory.last { $0.steps <= budget }?.hypervolume ?? 0
    }
}
