import Foundation
import QuantConfig
import Quantization
import SpikingNN
import Testing
import Wire
import TestSupport

import Evaluation

/// The Gumbel-softmax supernet on the three-class fixture: a valid derived configuration, and
/// the energy weight λ steering it.
struct SupernetTests {
    func evaluator() throws -> CandidateEvaluator {
        try CandidateEvaluator(checkpoint: ThirdsData.checkpoint, data: ThirdsData.data, energyModels: ThirdsData.energyModels, batchSize: 16, cacheDirectory: nil)
    }

    var space: QuantizationSpace {
        QuantizationSpace(layers: ThirdsData.config.quantizableLayerNames, bits: [2, 4, 8], fixed: ["head": .uniform(8)])
    }

    static let budget = FineTuneBudget(epochs: 3, learningRate: 1e-3)

    @Test func derivesAValidConfigurationWithConsistentFigures() throws {
        let evaluator = try evaluator()
        var phases: Set<String> = []
        let result = try evaluator.trainSupernet(space: space, settings: SupernetSettings(lambda: 1), budget: Self.budget, seed: 3) {
            phases.insert($0.phase)
        }
        #expect(phases.contains("supernet"))
        #expect(result.steps == 18, "96 samples, batch 16, 3 epochs")
        try space.validate(result.config)
        #expect(result.config["head"] == .uniform(8), "a fixed layer keeps its one choice")
        #expect(result.configHash == result.config.hash)
        #expect(result.energyModel == "spikformer-45nm")
        for layer in space.layers {
            let pi = try #require(result.probabilities[layer])
            #expect(Set(pi.keys) == Set(space.choices(for: layer).map(\.description)))
            #expect(isClose(pi.values.reduce(0, +), 1, relative: 1e-5))
            // The derived choice is the most likely one (argmax θ = argmax softmax(θ/τ)).
            #expect(pi[result.config[layer]!.description] == pi.values.max())
        }
        #expect(result.trajectory.count == 18, "one point per step when there are fewer than 20 steps")
        #expect(result.trajectory.first!.temperature == 5 && isClose(result.trajectory.last!.temperature, 0.5, relative: 1e-9))
        #expect(result.trajectory.allSatisfy { $0.crossEntropy.isFinite && $0.expectedRelativeEnergy > 0 && $0.expectedRelativeEnergy < 1 })
        #expect(result.averageBits > 2 && result.averageBits <= 8)
        #expect(result.expectedAverageBits > 2 && result.expectedAverageBits <= 8)
        #expect(result.derivedRelativeEnergy > 0 && result.derivedRelativeEnergy < 1)

    }

    /// The property the strategy rests on: a larger energy weight never derives a costlier configuration.
    @Test func largerLambdaDerivesCheaperConfigurations() throws {
        let evaluator = try evaluator()
        let lambdas = [0.0, 0.5, 2, 8]
        let results = try lambdas.map { lambda in
            try evaluator.trainSupernet(space: space, settings: SupernetSettings(lambda: lambda), budget: Self.budget, seed: 3)
        }
        let expected = results.map(\.expectedRelativeEnergy)
        let derived = results.map(\.derivedRelativeEnergy)
        for i in 1..<results.count {
            #expect(expected[i] < expected[i - 1], "expected energy across λ = \(lambdas): \(expected)")
            #expect(derived[i] <= derived[i - 1], "derived energy across λ = \(lambdas): \(derived)")
        }
        #expect(derived.last! < derived.first!, "λ must move the derived configuration: \(derived)")
    }

    @Test func sameSeedReproducesTheRun() throws {
        let settings = SupernetSettings(lambda: 1, hardSampling: true)
        let budget = FineTuneBudget(epochs: 1, learningRate: 1e-3)
        let first = try evaluator().trainSupernet(space: space, settings: settings, budget: budget, seed: 9)
        let second = try evaluator().trainSupernet(space: space, settings: settings, budget: budget, seed: 9)
        #expect(first.config == second.config)
        #expect(first.probabilities == second.probabilities)
        #expect(first.trajectory.map(\.crossEntropy) == second.trajectory.map(\.crossEntropy))
    }

    @Test func badSettingsAndSpacesAreBadRequests() throws {
        let evaluator = try evaluator()
        func failure(_ body: () throws -> Void) -> EvaluationFailure? {
            do { try body() } catch let failure as EvaluationFailure { return failure } catch { return nil }
            return nil
        }
        let negative = failure { _ = try evaluator.trainSupernet(space: space, settings: SupernetSettings(lambda: -1), budget: Self.budget, seed: 1) }
        #expect(negative?.kind == .badRequest && negative!.message.contains("lambda"))
        let rising = failure {
            _ = try evaluator.trainSupernet(
                space: space, settings: SupernetSettings(lambda: 1, temperatureStart: 0.5, temperatureEnd: 5), budget: Self.budget, seed: 1)
        }
        #expect(rising?.kind == .badRequest && rising!.message.contains("anneal"))
        let otherModel = QuantizationSpace(layers: ["a", "b"])
        let wrongLayers = failure { _ = try evaluator.trainSupernet(space: otherModel, settings: SupernetSettings(lambda: 1), budget: Self.budget, seed: 1) }
        #expect(wrongLayers?.kind == .badRequest && wrongLayers!.message.contains("layers"))
        let noTraining = failure {
            _ = try evaluator.trainSupernet(space: space, settings: SupernetSettings(lambda: 1), budget: FineTuneBudget(epochs: 0), seed: 1)
        }
        #expect(noTraining?.kind == .badRequest)
        let unknownTable = failure {
            _ = try evaluator.trainSupernet(space: space, settings: SupernetSettings(lambda: 1, energyModel: "nope"), budget: Self.budget, seed: 1)
        }
        #expect(unknownTable?.kind == .badRequest && unknownTable!.message.contains("nope"))
    }
}
