import ContentHash
import Foundation
import QuantConfig
import Statistics

/// Range and format checks on a peer's result, run before anything from it is stored or used as a
/// name. A worker is not trusted to produce sane numbers: a buggy or hostile one can send any
/// well-formed JSON.
extension EvaluationResult {
    /// The largest packed model or layer count a result may describe; far above any real model.
    public static let maxLayers = 10_000
    public static let maxBytes = 1 << 40

    /// Everything wrong with this result's figures, in field order; empty when it is usable.
    public var problems: [String] {
        var problems: [String] = []
        func check(_ ok: Bool, _ message: @autoclosure () -> String) {
            if !ok { problems.append(message()) }
        }
        func nonNegative(_ value: Double) -> Bool { value.isFinite && value >= 0 }
        check(ContentHash.isSHA256(configHash), "configHash is not 64 lowercase hex digits")
        check(ContentHash.isSHA256(checkpointHash), "checkpointHash is not 64 lowercase hex digits")
        check(!accuracy.isEmpty, "accuracy has no split")
        for (split, value) in accuracy.sorted(by: { $0.key < $1.key }) {
            check(value.isFinite && (0...1).contains(value), "accuracy[\(split)] = \(value) is outside [0, 1]")
        }
        for (split, value) in reference.accuracy.sorted(by: { $0.key < $1.key }) {
            check(value.isFinite && (0...1).contains(value), "reference accuracy[\(split)] = \(value) is outside [0, 1]")
        }
        check(averageBits.isFinite && (1...32).contains(averageBits), "averageBits = \(averageBits) is outside [1, 32]")
        check(nonNegative(compression), "compression = \(compression) is not a finite non-negative number")
        check((0...Self.maxBytes).contains(packedBytes), "packedBytes = \(packedBytes) is out of range")
        check((0...Self.maxBytes).contains(reference.bytes), "reference bytes = \(reference.bytes) is out of range")
        for (model, figure) in energy.sorted(by: { $0.key < $1.key }) {
            check(nonNegative(figure.picojoules), "energy[\(model)] = \(figure.picojoules) pJ is not a finite non-negative number")
            check(nonNegative(figure.reduction), "energy[\(model)].reduction = \(figure.reduction) is not a finite non-negative number")
        }
        for (model, value) in reference.energy.sorted(by: { $0.key < $1.key }) {
            check(nonNegative(value), "reference energy[\(model)] = \(value) is not a finite non-negative number")
        }
        check(layers.count <= Self.maxLayers, "\(layers.count) layers is more than \(Self.maxLayers)")
        for layer in layers.prefix(Self.maxLayers) {
            let figures = [layer.inputFiringRate, layer.macs, layer.sops] + Array(layer.energy.values)
            check(layer.parameters >= 0 && figures.allSatisfy(nonNegative), "layer \(layer.name) has a negative or non-finite figure")
        }
        check(fineTune.epochs >= 0 && fineTune.steps >= 0 && (fineTune.resumedFrom ?? 0) >= 0, "fine-tune steps or epochs are negative")
        check(nonNegative(fineTune.seconds), "fine-tune seconds = \(fineTune.seconds) is not a finite non-negative number")
        if let loss = fineTune.finalLoss { check(loss.isFinite, "fine-tune final loss \(loss) is not finite") }
        check(nonNegative(wallSeconds), "wallSeconds = \(wallSeconds) is not a finite non-negative number")
        return problems
    }
}

extension EvaluationResult {
    /// The 95 % Wilson interval of the accuracy on `split`, from the per-sample outcomes (nil for
    /// results recorded without them). Small evaluation splits make this wide: read it before
    /// trusting a difference.
    public func accuracyInterval(split: String) -> Interval? {
        guard let outcomes = samples?[split], outcomes.count > 0 else { return nil }
        return Proportion.wilson(successes: outcomes.correctCount, trials: outcomes.count)
    }
}

extension SupernetResult {
    /// Everything wrong with this supernet result for `job`, in field order; empty when it is usable.
    public func problems(for job: SupernetJob) -> [String] {
        var problems: [String] = []
        func check(_ ok: Bool, _ message: @autoclosure () -> String) {
            if !ok { problems.append(message()) }
        }
        func nonNegative(_ value: Double) -> Bool { value.isFinite && value >= 0 }
        check(lambda == job.settings.lambda, "lambda \(lambda) is not the job's \(job.settings.lambda)")
        do {
            try job.space.validate(config)
        } catch {
            problems.append("the derived configuration is not in the run's space: \(error)")
        }
        check(configHash == config.hash, "configHash is not the derived configuration's hash")
        check(probabilities.count <= EvaluationResult.maxLayers, "probabilities has more than \(EvaluationResult.maxLayers) layers")
        for (layer, table) in probabilities.sorted(by: { $0.key < $1.key }).prefix(EvaluationResult.maxLayers) {
            check(table.values.allSatisfy { $0.isFinite && (0...1).contains($0) }, "probabilities[\(layer)] has a value outside [0, 1]")
        }
        check(nonNegative(referencePicojoules), "referencePicojoules = \(referencePicojoules) is not a finite non-negative number")
        check(nonNegative(expectedRelativeEnergy), "expectedRelativeEnergy = \(expectedRelativeEnergy) is not a finite non-negative number")
        check(nonNegative(derivedRelativeEnergy), "derivedRelativeEnergy = \(derivedRelativeEnergy) is not a finite non-negative number")
        check(averageBits.isFinite && (1...32).contains(averageBits), "averageBits = \(averageBits) is outside [1, 32]")
        check(expectedAverageBits.isFinite && (1...32).contains(expectedAverageBits), "expectedAverageBits = \(expectedAverageBits) is outside [1, 32]")
        check((0...EvaluationRequest.maxSteps).contains(steps), "steps = \(steps) is out of range")
        check(nonNegative(seconds), "seconds = \(seconds) is not a finite non-negative number")
        check(trajectory.count <= 10_000, "the trajectory has more than 10,000 points")
        return problems
    }
}
