import Foundation
import QuantConfig
import Quantization
import SpikingNN
import Testing
import TestSupport
import Wire

import Evaluation

/// Multi-fidelity rungs are prefixes of the full fine-tune: continuing a short run from its exact state
/// must give the same model as running the long one at once, bit for bit.
struct ContinuationTests {
    func evaluator() throws -> CandidateEvaluator {
        try CandidateEvaluator(checkpoint: ThirdsData.checkpoint, data: ThirdsData.data, energyModels: ThirdsData.energyModels, batchSize: 16, cacheDirectory: nil)
    }

    var config: QuantizationConfig {
        var config = QuantizationConfig.uniformChoice(.uniform(4), layers: ThirdsData.config.quantizableLayerNames)
        config[ThirdsData.config.quantizableLayerNames[1]] = .pot(3)
        return config
    }

    /// 4 steps continued to 9 equal 9 steps at once (same seed, schedule over 9 steps; the data order
    /// crosses the epoch boundary at step 6).
    @Test func continuingFromTheStateEqualsOneLongRun() throws {
        let evaluator = try evaluator()
        let long = FineTuneBudget(epochs: 2, maxSteps: 9, learningRate: 3e-4, batchSize: 16, scheduleSteps: 9)
        var short = long
        short.maxSteps = 4
        let once = try evaluator.evaluate(config, budget: long, seed: 5)
        let first = try evaluator.evaluate(config, budget: short, seed: 5, splits: ["validation"])
        #expect(first.result.fineTune.steps == 4)
        #expect(first.result.accuracy["test"] == nil, "only validation was asked for")
        let continued = try evaluator.evaluate(config, budget: long, seed: 5, continuation: .state(first.state))
        #expect(continued.result.fineTune.steps == 5, "only the missing steps are run (and paid for)")
        #expect(continued.result.fineTune.resumedFrom == 4 && continued.result.fineTune.warmStart == .state)
        #expect(continued.result.fineTune.totalSteps == once.result.fineTune.steps)
        #expect(continued.packedModel == once.packedModel, "the packed models are identical")
        #expect(continued.result.accuracy == once.result.accuracy)
        #expect(continued.result.samples == once.result.samples)
    }

    /// From the packed model the weights and scales are those of the short run; the optimizer restarts,
    /// so the result is close to, not equal to, the long run, and the cost is still only the missing steps.
    @Test func continuingFromThePackedModel() throws {
        let evaluator = try evaluator()
        var short = FineTuneBudget(epochs: 2, maxSteps: 4, learningRate: 3e-4, batchSize: 16, scheduleSteps: 9)
        let first = try evaluator.evaluate(config, budget: short, seed: 5)
        short.maxSteps = 9
        let continued = try evaluator.evaluate(config, budget: short, seed: 5, continuation: .packed(first.packedModel, steps: 4))
        #expect(continued.result.fineTune.steps == 5 && continued.result.fineTune.warmStart == .packed)
        // A continuation of 0 further steps from the packed model reproduces the packed model itself.
        short.maxSteps = 4
        let same = try evaluator.evaluate(config, budget: short, seed: 5, continuation: .packed(first.packedModel, steps: 4))
        #expect(same.result.fineTune.steps == 0)
        #expect(same.result.accuracy["validation"] == first.result.accuracy["validation"])
        #expect(same.result.samples?["validation"] == first.result.samples?["validation"])
    }

    @Test func stateOfAnotherRunIsRefused() throws {
        let evaluator = try evaluator()
        let budget = FineTuneBudget(epochs: 1, maxSteps: 2, learningRate: 3e-4, batchSize: 16, scheduleSteps: 6)
        let first = try evaluator.evaluate(config, budget: budget, seed: 5)
        #expect(throws: EvaluationFailure.self) { try evaluator.evaluate(config, budget: budget, seed: 6, continuation: .state(first.state)) }
    }

    @Test func sampleOutcomesMatchTheAccuracy() throws {
        let evaluator = try evaluator()
        let result = try evaluator.evaluate(config, budget: FineTuneBudget(epochs: 0), seed: 1).result
        for split in ["validation", "test"] {
            let outcomes = try #require(result.samples?[split])
            #expect(outcomes.count == 48)
            #expect(Double(outcomes.correctCount) / 48 == result.accuracy[split])
        }
    }

    @Test func stateCacheKeepsTheNewestAndHandsEachOutOnce() throws {
        let evaluator = try evaluator()
        let budget = FineTuneBudget(epochs: 1, maxSteps: 1, learningRate: 3e-4, batchSize: 16, scheduleSteps: 4)
        let cache = FineTuneStateCache(capacity: 1)
        let a = try evaluator.evaluate(config, budget: budget, seed: 1).state
        let b = try evaluator.evaluate(config, budget: budget, seed: 2).state
        cache.insert(a)
        cache.insert(b)
        #expect(cache.count == 1)
        #expect(cache.take(key: a.key, steps: 1) == nil, "evicted")
        #expect(cache.take(key: b.key, steps: 2) == nil, "wrong step count")
        #expect(cache.take(key: b.key, steps: 1) === b)
        #expect(cache.take(key: b.key, steps: 1) == nil, "handed out once")
    }
}
