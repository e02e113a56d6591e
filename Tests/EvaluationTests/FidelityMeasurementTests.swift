import Evaluation
import QuantConfig
import Search
import SpikingNN
import Testing
import TestSupport
import Wire

struct FidelityMeasurementTests {
    /// Every measurement is the validation accuracy of the same fine-tune a search rung runs: the
    /// short one a prefix of the long one (schedule over the last step count), the long one continued.
    @Test func measurementsAreTheSearchsRungs() throws {
        let evaluator = try CandidateEvaluator(
            checkpoint: ThirdsData.checkpoint, data: ThirdsData.data, energyModels: ThirdsData.energyModels, batchSize: 16, cacheDirectory: nil)
        let space = QuantizationSpace(layers: ThirdsData.config.quantizableLayerNames, bits: [2, 4, 8], fixed: ["head": .uniform(8)])
        let settings = FidelityMeasurement.Settings(configurations: 3, steps: [2, 5], seeds: [7, 8], drawSeed: 1, learningRate: 3e-4, batchSize: 16)
        let report = try FidelityMeasurement.run(evaluator: evaluator, space: space, settings: settings)
        #expect(report.configurations.count == 3 && report.levels.map(\.steps) == [2, 5])
        #expect(report.totalSteps == 3 * 2 * 5, "the long measurement continues the short one: 5 steps per fine-tune")
        #expect(report.validationSamples == ThirdsData.data.validation.count)
        let configs = FidelityMeasurement.drawConfigurations(3, from: try GenomeSpace(space), seed: 1)
        #expect(Set(configs.map(\.hash)).count == 3)
        let epochs = (5 + ThirdsData.data.train.count / 16 - 1) / (ThirdsData.data.train.count / 16)
        for (index, config) in configs.enumerated() {
            #expect(report.configurations[index].config == config.summary(order: ThirdsData.config.quantizableLayerNames))
            for (seedIndex, seed) in [UInt64(7), 8].enumerated() {
                for (stepIndex, steps) in [2, 5].enumerated() {
                    let budget = FineTuneBudget(epochs: epochs, maxSteps: steps, learningRate: 3e-4, batchSize: 16, scheduleSteps: 5)
                    let direct = try evaluator.evaluate(config, budget: budget, seed: seed, splits: ["validation"])
                    #expect(report.configurations[index].validation[seedIndex][stepIndex] == direct.result.accuracy["validation"])
                }
            }
        }
    }

    /// The per-step summaries against hand-computed ranks (3 configurations, 2 seeds, 2 step counts).
    @Test func summariesAgainstKnownAnswers() throws {
        let measured = [
            FidelityMeasurement.Configuration(config: "a", averageBits: 2, validation: [[0.5, 0.6], [0.4, 0.7]]),
            FidelityMeasurement.Configuration(config: "b", averageBits: 4, validation: [[0.6, 0.8], [0.6, 0.8]]),
            FidelityMeasurement.Configuration(config: "c", averageBits: 8, validation: [[0.7, 0.7], [0.5, 0.6]]),
        ]
        let short = FidelityMeasurement.level(at: 0, steps: 15, of: measured)
        // Seed 0: ranks (1, 2, 3) against the full budget's (1, 3, 2): ρ = 1 − 6·2/(3·8) = 0.5; seed 1 the same.
        #expect(isClose(try #require(short.rankAgainstFull), 0.5))
        #expect(isClose(try #require(short.rankBetweenSeeds), 0.5))
        #expect(isClose(try #require(short.meanSeedGapPoints), 10))
        #expect(isClose(short.meanValidation, 0.55))
        let full = FidelityMeasurement.level(at: 1, steps: 60, of: measured)
        #expect(isClose(try #require(full.rankAgainstFull), 1))
        #expect(isClose(try #require(full.rankBetweenSeeds), 0.5))
        #expect(isClose(try #require(full.meanSeedGapPoints), 20.0 / 3))
        let oneSeed = FidelityMeasurement.level(at: 0, steps: 15, of: measured.map { .init(config: $0.config, averageBits: 2, validation: [$0.validation[0]]) })
        #expect(oneSeed.rankBetweenSeeds == nil && oneSeed.meanSeedGapPoints == nil)
    }

    @Test func settingsThatCannotMeasureAreRefused() {
        func problem(_ steps: [Int], configurations: Int = 5, seeds: [UInt64] = [0]) -> String? {
            FidelityMeasurement.Settings(configurations: configurations, steps: steps, seeds: seeds, drawSeed: 0, learningRate: 1e-4, batchSize: 16).problem
        }
        #expect(problem([15, 60]) == nil)
        #expect(problem([60, 15]) != nil && problem([15, 15]) != nil && problem([0, 15]) != nil && problem([]) != nil)
        #expect(problem([15], configurations: 2) != nil)
        #expect(problem([15], seeds: []) != nil)
    }
}
