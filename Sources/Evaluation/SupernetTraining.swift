import Foundation
import QuantConfig
import Quantization
import Search
import SpikingNN
import Tensor
import Wire

extension CandidateEvaluator {
    /// Trains a Gumbel-softmax supernet over `space` for one energy weight and derives the
    /// configuration (per-layer argmax of θ): the seed paper's search, at about the cost of one
    /// fine-tune of `budget`.
    ///
    /// Every quantizable layer gets a ``MixedQuantizer`` over the choices `space` allows it; the
    /// energy of choice k of layer l, E_lk, is the layer's energy under that choice at the FP32
    /// model's firing rates (the same per-layer table the knapsack seeding uses). See
    /// ``SupernetSettings`` for the loss and the schedules.
    ///
    /// - Throws: ``EvaluationFailure`` (`bad-request` for settings or a space that do not fit,
    ///   `diverged` when the loss becomes NaN, `internal` on cancellation) or data errors.
    public func trainSupernet(
        space: QuantizationSpace, settings: SupernetSettings, budget: FineTuneBudget, seed: UInt64, candidateId: Int64 = 0,
        attempt: Int = 1, progress: (EvaluationProgress) -> Void = { _ in }, isCancelled: () -> Bool = { false }
    ) throws -> SupernetResult {
        let clock = ContinuousClock()
        let started = clock.now
        if let problem = settings.problem { throw EvaluationFailure(kind: .badRequest, message: "supernet: \(problem)") }
        guard budget.epochs > 0 else { throw EvaluationFailure(kind: .badRequest, message: "supernet: the budget has no training epochs") }
        let energyModel = try supernetEnergyModel(settings.energyModel)
        let reference = try reference(progress: progress)
        let model = try baseModel()
        let layers = model.quantizableLayers
        guard layers.map(\.name) == space.layers else {
            throw EvaluationFailure(kind: .badRequest, message: "supernet: the space's layers are not this model's quantizable layers")
        }
        do { try space.validate() } catch { throw EvaluationFailure(kind: .badRequest, message: "supernet: space: \(error)") }
        let allChoices = Array(Set(space.layers.flatMap { space.choices(for: $0) })) + [.float]
        let table = Self.costTable(reference: reference, model: energyModel, choices: allChoices)
        let mixed = try layers.enumerated().map { index, layer -> SupernetLayer in
            let choices = space.choices(for: layer.name)
            let costs = try choices.map { choice -> Double in
                guard let cost = table.cost(layer: layer.name, choice: choice) else {
                    throw EvaluationFailure(kind: .badRequest, message: "supernet: no energy for \(layer.name) as \(choice)")
                }
                return cost
            }
            let quantizer = MixedQuantizer(layer: layer.name, choices: choices, weight: layer.weight.value, seed: seed &+ UInt64(index))
            quantizer.hardSampling = settings.hardSampling
            quantizer.sampling = true
            layer.quantizer = quantizer
            return SupernetLayer(quantizer: quantizer, costs: costs, weights: layer.weightCount)
        }
        let referencePicojoules = table.referencePicojoules
        guard referencePicojoules > 0 else { throw EvaluationFailure(kind: .badRequest, message: "supernet: the FP32 model's energy is zero") }
        let costWeight = settings.lambda / referencePicojoules
        let logits = mixed.map(\.quantizer.architectureLogits)
        let architectureOptimizer = AdamW(learningRate: Float(settings.architectureLearningRate), weightDecay: 0)
        var lastRelativeEnergy = 0.0
        var temperature = settings.temperatureStart
        let hooks = TrainingHooks(
            excluded: Set(logits.map(ObjectIdentifier.init)),
            beforeStep: { step, total in
                temperature = settings.temperature(atStep: step, of: total)
                for layer in mixed { layer.quantizer.temperature = Float(temperature) }
            },
            afterBackward: {
                var expected = table.fixedPicojoules
                for layer in mixed {
                    expected += layer.quantizer.expectedCost(layer.costs)
                    layer.quantizer.accumulateCostGradient(layer.costs, weight: costWeight)
                }
                architectureOptimizer.update(logits)
                lastRelativeEnergy = expected / referencePicojoules
                return settings.lambda * lastRelativeEnergy
            })
        let training = TrainingConfig(
            epochs: budget.epochs, batchSize: budget.batchSize, learningRate: Float(budget.learningRate),
            minimumLearningRate: Float(budget.learningRate) * 0.01, weightDecay: Float(budget.weightDecay), warmupEpochs: 0,
            labelSmoothing: Float(budget.labelSmoothing), augment: true, seed: seed, maxSteps: budget.maxSteps)
        let stepsPerEpoch = max(1, (data.train.count + budget.batchSize - 1) / budget.batchSize)
        let totalSteps = min(stepsPerEpoch * budget.epochs, budget.maxSteps ?? .max)
        let interval = max(1, totalSteps / 20)
        var trajectory: [SupernetTrajectoryPoint] = []
        var window = (steps: 0, crossEntropy: 0.0, accuracy: 0.0, energy: 0.0)
        let optimizer = AdamW(learningRate: Float(budget.learningRate), weightDecay: Float(budget.weightDecay))
        let summary = try Trainer.train(model, on: data.train, config: training, optimizer: optimizer, hooks: hooks) { step in
            if isCancelled() { throw EvaluationFailure(kind: .internal, message: "cancelled") }
            guard step.loss.isFinite else {
                throw EvaluationFailure(kind: .diverged, message: "supernet loss became \(step.loss) at step \(step.globalStep + 1)")
            }
            window.steps += 1
            window.crossEntropy += step.loss - settings.lambda * lastRelativeEnergy
            window.accuracy += step.accuracy
            window.energy += lastRelativeEnergy
            if (step.globalStep + 1) % interval == 0 || step.globalStep + 1 == totalSteps {
                let n = Double(window.steps)
                trajectory.append(
                    SupernetTrajectoryPoint(
                        step: step.globalStep + 1, temperature: temperature, crossEntropy: window.crossEntropy / n,
                        accuracy: window.accuracy / n, expectedRelativeEnergy: window.energy / n))
                window = (0, 0, 0, 0)
            }
            progress(
                EvaluationProgress(
                    candidateId: candidateId, attempt: attempt, phase: "supernet", epoch: step.epoch + 1, epochs: budget.epochs,
                    step: step.step + 1, steps: step.stepsPerEpoch, loss: step.loss, accuracy: step.accuracy))
        }
        return derive(
            mixed, settings: settings, table: table, energyModel: energyModel.name, trajectory: trajectory, steps: summary.steps,
            seconds: seconds(clock.now - started))
    }

    private func supernetEnergyModel(_ name: String?) throws -> EnergyModel {
        if let name {
            guard let found = energyModels.first(where: { $0.name == name }) else {
                throw EvaluationFailure(kind: .badRequest, message: "supernet: no energy table named `\(name)`")
            }
            return found
        }
        guard let first = energyModels.first else { throw EvaluationFailure(kind: .badRequest, message: "supernet: no energy table") }
        return first
    }

    /// The derived configuration and the final π table (noise off, τ at its end value).
    private func derive(
        _ mixed: [SupernetLayer], settings: SupernetSettings, table: LayerCostTable, energyModel: String,
        trajectory: [SupernetTrajectoryPoint], steps: Int, seconds: Double
    ) -> SupernetResult {
        var config = QuantizationConfig(layers: [:])
        var probabilities: [String: [String: Double]] = [:]
        var expected = table.fixedPicojoules
        var derived = table.fixedPicojoules
        var weightedBits = 0.0
        var totalWeights = 0.0
        for layer in mixed {
            let quantizer = layer.quantizer
            quantizer.sampling = false
            quantizer.temperature = Float(settings.temperatureEnd)
            let pi = quantizer.probabilities.map(Double.init)
            let choice = quantizer.derivedChoice
            config[quantizer.layer] = choice
            probabilities[quantizer.layer] = Dictionary(uniqueKeysWithValues: zip(quantizer.choices.map(\.description), pi))
            for (p, cost) in zip(pi, layer.costs) { expected += p * cost }
            derived += layer.costs[quantizer.choices.firstIndex(of: choice)!]
            var bits = 0.0
            for (p, choice) in zip(pi, quantizer.choices) { bits += p * Double(choice.bits) }
            weightedBits += Double(layer.weights) * bits
            totalWeights += Double(layer.weights)
        }
        let counts = Dictionary(uniqueKeysWithValues: mixed.map { ($0.quantizer.layer, $0.weights) })
        return SupernetResult(
            lambda: settings.lambda, config: config, probabilities: probabilities, energyModel: energyModel,
            referencePicojoules: table.referencePicojoules, expectedRelativeEnergy: expected / table.referencePicojoules,
            derivedRelativeEnergy: derived / table.referencePicojoules, averageBits: config.averageBits(parameterCounts: counts),
            expectedAverageBits: totalWeights > 0 ? weightedBits / totalWeights : 32, trajectory: trajectory, steps: steps, seconds: seconds)
    }
}

/// One layer of the supernet: its mixed quantizer, the energy of each choice, its weight count.
private struct SupernetLayer {
    let quantizer: MixedQuantizer
    let costs: [Double]
    let weights: Int
}
