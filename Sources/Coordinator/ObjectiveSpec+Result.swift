import Search
import Wire

/// A result that lacks a figure an objective or constraint needs.
public struct MissingFigure: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
}

extension ObjectiveSpec {
    /// The internal (minimised) value of this objective for `result`; see ``ObjectiveSpec`` for the scales.
    public func value(in result: EvaluationResult) throws(MissingFigure) -> Double {
        switch self {
        case .accuracy(let split):
            guard let accuracy = result.accuracy[split] else { throw MissingFigure(description: "no \(split) accuracy in the result") }
            return 1 - accuracy
        case .energy(let model):
            guard let energy = result.energy[model] else { throw MissingFigure(description: "no energy under model \(model) in the result") }
            guard let reference = result.reference.energy[model], reference > 0 else {
                throw MissingFigure(description: "no positive FP32 reference energy under model \(model)")
            }
            return energy.picojoules / reference
        case .averageBits:
            return result.averageBits / 32
        case .packedBytes:
            guard result.reference.bytes > 0 else { throw MissingFigure(description: "no FP32 reference size") }
            return Double(result.packedBytes) / Double(result.reference.bytes)
        }
    }

    /// The value in natural units (accuracy, picojoules, bits, bytes), for tables.
    public func naturalValue(in result: EvaluationResult) -> Double? {
        switch self {
        case .accuracy(let split): result.accuracy[split]
        case .energy(let model): result.energy[model]?.picojoules
        case .averageBits: result.averageBits
        case .packedBytes: Double(result.packedBytes)
        }
    }
}

extension ConstraintSpec {
    /// The normalised constraint value for `result` (positive when violated).
    public func value(in result: EvaluationResult) throws(MissingFigure) -> Double {
        switch self {
        case .maxAccuracyDrop(let split, _):
            guard let accuracy = result.accuracy[split], let reference = result.reference.accuracy[split] else {
                throw MissingFigure(description: "no \(split) accuracy (or FP32 reference) in the result")
            }
            return value(measured: reference - accuracy)
        case .maxEnergy(let model, _):
            guard let energy = result.energy[model] else { throw MissingFigure(description: "no energy under model \(model) in the result") }
            return value(measured: energy.picojoules)
        case .maxAverageBits:
            return value(measured: result.averageBits)
        case .maxPackedBytes:
            return value(measured: Double(result.packedBytes))
        }
    }
}
