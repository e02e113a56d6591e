import Foundation
import QuantConfig
import Quantization
import Search
import Seeding
import SpikingNN
public import Statistics
import Wire

/// Measures what a multi-fidelity ladder rests on, on the user's own task: how well a short
/// fine-tune ranks configurations like the full one, and how much one configuration's accuracy moves
/// with the fine-tune seed alone. When seeds reorder configurations as much as budgets do, a longer
/// rung buys nothing, and a larger validation split is worth more than more steps.
///
/// Random configurations of a space are each fine-tuned once per seed; every fine-tune is measured
/// on the validation split after each step count in `steps`, continuing its own exact state between
/// them, so a short measurement is exactly a prefix of the long one (as the search's rungs are).
public enum FidelityMeasurement {
    public struct Settings: Sendable {
        public var configurations: Int
        /// Step counts to measure at, ascending; the last is the full fine-tune.
        public var steps: [Int]
        /// Fine-tune seeds; every configuration is fine-tuned once with each.
        public var seeds: [UInt64]
        /// Seeds the draw of configurations.
        public var drawSeed: UInt64
        public var learningRate: Double
        public var batchSize: Int

        public init(configurations: Int, steps: [Int], seeds: [UInt64], drawSeed: UInt64, learningRate: Double, batchSize: Int) {
            self.configurations = configurations
            self.steps = steps
            self.seeds = seeds
            self.drawSeed = drawSeed
            self.learningRate = learningRate
            self.batchSize = batchSize
        }

        /// What is wrong with these settings, if anything.
        public var problem: String? {
            if configurations < 3 { return "at least 3 configurations are needed for a rank correlation" }
            if steps.isEmpty || steps.contains(where: { $0 < 1 }) { return "step counts must be at least 1" }
            if steps != steps.sorted() || Set(steps).count != steps.count { return "step counts must be distinct and ascending" }
            if seeds.isEmpty { return "at least one seed is needed" }
            if batchSize < 1 { return "the batch size must be at least 1" }
            return nil
        }
    }

    /// One configuration: its validation accuracy per seed (outer) and step count (inner).
    public struct Configuration: Codable, Sendable {
        public var config: String
        public var averageBits: Double
        public var validation: [[Double]]

        public init(config: String, averageBits: Double, validation: [[Double]]) {
            self.config = config
            self.averageBits = averageBits
            self.validation = validation
        }
    }

    /// Per step count: the mean accuracy, the rank agreement with the full fine-tune and between
    /// seeds, and the mean accuracy gap between two seeds of the same configuration.
    public struct Level: Codable, Sendable {
        public var steps: Int
        public var meanValidation: Double
        /// Spearman's ρ of the configurations' accuracies here against after the last step count,
        /// averaged over seeds (1 at the last step count).
        public var rankAgainstFull: Double?
        /// Spearman's ρ between two seeds at this step count, averaged over seed pairs (nil with one seed).
        public var rankBetweenSeeds: Double?
        /// Mean |accuracy(seed a) − accuracy(seed b)| of one configuration, in points (nil with one seed).
        public var meanSeedGapPoints: Double?
        /// 95 % intervals of the two ρ for one seed's measurement of this many configurations
        /// (``RankCorrelation/spearmanInterval(_:count:confidence:)``), around the seed average.
        public var rankAgainstFullInterval: Interval?
        public var rankBetweenSeedsInterval: Interval?
    }

    public struct Report: Codable, Sendable {
        public var validationSamples: Int
        /// One binomial standard error at the mean full-budget accuracy, in points: the noise floor
        /// of a single measurement on this split.
        public var standardErrorPoints: Double
        public var seeds: [UInt64]
        public var levels: [Level]
        public var configurations: [Configuration]
        /// QAT steps run in all.
        public var totalSteps: Int
        public var seconds: Double
    }

    /// Runs the measurement; `progress(done, total)` after every fine-tune.
    public static func run(
        evaluator: CandidateEvaluator, space: QuantizationSpace, settings: Settings, progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> Report {
        if let problem = settings.problem { throw EvaluationFailure(kind: .badRequest, message: "fidelity measurement: \(problem)") }
        let started = ContinuousClock.now
        let genomes = try GenomeSpace(space)
        let configs = drawConfigurations(settings.configurations, from: genomes, seed: settings.drawSeed)
        let base = try evaluator.baseModel()
        let layers = base.quantizableLayers.map(\.name)
        let weights = base.quantizableWeightCounts
        let full = settings.steps.last!
        let stepsPerEpoch = max(1, evaluator.data.train.count / settings.batchSize)
        let epochs = (full + stepsPerEpoch - 1) / stepsPerEpoch
        var measured: [Configuration] = []
        var totalSteps = 0
        for (index, config) in configs.enumerated() {
            var bySeed: [[Double]] = []
            for seed in settings.seeds {
                var state: FineTuneState?
                var accuracies: [Double] = []
                for steps in settings.steps {
                    let budget = FineTuneBudget(
                        epochs: epochs, maxSteps: steps, learningRate: settings.learningRate, batchSize: settings.batchSize, scheduleSteps: full)
                    let outcome = try evaluator.evaluate(
                        config, budget: budget, seed: seed, continuation: state.map { .state($0) }, splits: ["validation"])
                    totalSteps += outcome.result.fineTune.steps
                    accuracies.append(outcome.result.accuracy["validation"] ?? .nan)
                    state = outcome.state
                }
                bySeed.append(accuracies)
            }
            measured.append(Configuration(
                config: config.summary(order: layers), averageBits: config.averageBits(parameterCounts: weights), validation: bySeed))
            progress(index + 1, configs.count)
        }
        let levels = settings.steps.indices.map { level(at: $0, steps: settings.steps[$0], of: measured) }
        let validationSamples = evaluator.data.validation.count
        let fullMean = levels.last!.meanValidation
        return Report(
            validationSamples: validationSamples,
            standardErrorPoints: 100 * (fullMean * (1 - fullMean) / Double(max(1, validationSamples))).squareRoot(),
            seeds: settings.seeds, levels: levels, configurations: measured, totalSteps: totalSteps,
            seconds: Double((ContinuousClock.now - started).components.seconds))
    }

    /// `count` distinct configurations drawn uniformly from the space (fewer if the space is smaller).
    package static func drawConfigurations(_ count: Int, from space: GenomeSpace, seed: UInt64) -> [QuantizationConfig] {
        var rng = SeededGenerator(seed: seed, stream: "fidelity.configurations")
        var seen = Set<String>()
        var configs: [QuantizationConfig] = []
        var attempts = 0
        while configs.count < count && attempts < count * 100 {
            attempts += 1
            let config = space.config(of: space.randomGenome(using: &rng))
            if seen.insert(config.hash).inserted { configs.append(config) }
        }
        return configs
    }

    /// The summary of step count `index` over the measured configurations.
    package static func level(at index: Int, steps: Int, of measured: [Configuration]) -> Level {
        let seedCount = measured.first?.validation.count ?? 0
        let last = (measured.first?.validation.first?.count ?? 1) - 1
        func column(seed: Int, step: Int) -> [Double] { measured.map { $0.validation[seed][step] } }
        let all = measured.flatMap { configuration in configuration.validation.map { $0[index] } }
        let againstFull = (0..<seedCount).compactMap { RankCorrelation.spearman(column(seed: $0, step: index), column(seed: $0, step: last)) }
        var betweenSeeds: [Double] = []
        var gaps: [Double] = []
        for a in 0..<seedCount {
            for b in (a + 1)..<max(a + 1, seedCount) {
                if let rho = RankCorrelation.spearman(column(seed: a, step: index), column(seed: b, step: index)) { betweenSeeds.append(rho) }
                gaps += zip(column(seed: a, step: index), column(seed: b, step: index)).map { 100 * abs($0 - $1) }
            }
        }
        func mean(_ values: [Double]) -> Double? { values.isEmpty ? nil : values.reduce(0, +) / Double(values.count) }
        let (rankAgainstFull, rankBetweenSeeds) = (mean(againstFull), mean(betweenSeeds))
        return Level(
            steps: steps, meanValidation: mean(all) ?? .nan, rankAgainstFull: rankAgainstFull, rankBetweenSeeds: rankBetweenSeeds,
            meanSeedGapPoints: mean(gaps),
            rankAgainstFullInterval: index == last ? nil : rankAgainstFull.flatMap { RankCorrelation.spearmanInterval($0, count: measured.count) },
            rankBetweenSeedsInterval: rankBetweenSeeds.flatMap { RankCorrelation.spearmanInterval($0, count: measured.count) })
    }
}
