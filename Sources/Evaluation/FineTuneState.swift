import ContentHash
import Threading
import Foundation
import QuantConfig
import SpikingNN
import Wire

/// A fine-tune's model and optimizer after it stopped, so a promoted candidate continues instead of
/// starting over. Identified by everything that decides the training trajectory except its length:
/// configuration, seed and recipe (learning rate, batch size, schedule length …).
///
/// - Important: Continuing trains `model` in place; a state is used at most once.
public final class FineTuneState: @unchecked Sendable {
    // @unchecked: handed from the evaluation thread to a cache and back to one evaluation at a time;
    // never used by two threads at once.
    public let model: Spikformer
    public let optimizer: AdamW
    public let key: String
    /// Optimizer steps taken so far.
    public let steps: Int

    init(model: Spikformer, optimizer: AdamW, key: String, steps: Int) {
        self.model = model
        self.optimizer = optimizer
        self.key = key
        self.steps = steps
    }

    /// The identity of a trajectory: the same key and more steps means "further along the same run".
    public static func key(config: QuantizationConfig, budget: FineTuneBudget, seed: UInt64) -> String {
        let recipe = [
            config.hash, String(seed), String(budget.epochs), String(budget.learningRate), String(budget.weightDecay), String(budget.batchSize),
            String(budget.labelSmoothing), budget.scheduleSteps.map(String.init) ?? "-",
        ].joined(separator: "|")
        return ContentHash.sha256(recipe)
    }
}

/// Where a continued fine-tune starts.
public enum FineTuneContinuation: Sendable {
    /// The exact state an earlier evaluation left (same worker): one long run, bit for bit.
    case state(FineTuneState)
    /// The earlier evaluation's packed model (weights and scales as quantized), a fresh optimizer,
    /// continuing the data order and schedule after `steps`.
    case packed([UInt8], steps: Int)
}

/// The latest training states of one worker, newest first, bounded in count.
public final class FineTuneStateCache: Sendable {
    private let entries = Locked<[FineTuneState]>([])
    public let capacity: Int

    public init(capacity: Int) { self.capacity = max(0, capacity) }

    public func insert(_ state: FineTuneState) {
        entries.withLock { entries in
            entries.removeAll { $0.key == state.key }
            entries.insert(state, at: 0)
            if entries.count > capacity { entries.removeLast(entries.count - capacity) }
        }
    }

    /// Removes and returns the state for `key` if it has exactly `steps` steps.
    public func take(key: String, steps: Int) -> FineTuneState? {
        entries.withLock { entries in
            guard let index = entries.firstIndex(where: { $0.key == key && $0.steps == steps }) else { return nil }
            return entries.remove(at: index)
        }
    }

    public var count: Int { entries.withLock { $0.count } }
}
