/// A metric the search optimises.
///
/// The search minimises every objective internally, on a scale where the FP32 model sits near 1 so
/// that one fixed reference point fits every run:
///
/// | metric          | direction | internal value                      | FP32 model |
/// |-----------------|-----------|-------------------------------------|------------|
/// | `accuracy`      | maximise  | 1 − accuracy (the error rate)       | its error  |
/// | `energy`        | minimise  | energy / FP32 energy (1/reduction)  | 1          |
/// | `averageBits`   | minimise  | average bits / 32                   | 1          |
/// | `packedBytes`   | minimise  | packed bytes / FP32 bytes           | 1          |
///
/// The default hypervolume reference point is 1 in every objective (zero accuracy, FP32 cost).
public enum ObjectiveSpec: Codable, Hashable, Sendable, CustomStringConvertible {
    /// Top-1 accuracy on a split (`validation` by default; never select on `test`).
    case accuracy(split: String)
    /// Energy per inference under a named energy model (e.g. `spikformer-45nm`).
    case energy(model: String)
    /// Parameter-weighted average weight bits.
    case averageBits
    /// Bytes of the packed model.
    case packedBytes

    public var maximised: Bool {
        if case .accuracy = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .accuracy(let split): "accuracy(\(split))"
        case .energy(let model): "energy(\(model))"
        case .averageBits: "average-bits"
        case .packedBytes: "packed-bytes"
        }
    }

    /// The default pair: maximise validation accuracy, minimise energy under `energyModel`.
    public static func defaults(energyModel: String) -> [ObjectiveSpec] {
        [.accuracy(split: "validation"), .energy(model: energyModel)]
    }
}

/// An optional limit a candidate must respect; candidates breaking one are ranked by Deb's rules
/// (``Fitness/constrainedDominates(_:)``).
///
/// Each limit yields one constraint value g, positive when violated, normalised so that different
/// limits add up sensibly: accuracy drop in absolute accuracy (fractions of 1), the others relative
/// to the limit, e.g. 10 % above a maximum energy gives g = 0.1.
public enum ConstraintSpec: Codable, Hashable, Sendable, CustomStringConvertible {
    /// FP32 accuracy − accuracy on `split` must be at most `limit` (a fraction, 0.02 = 2 points).
    case maxAccuracyDrop(split: String, limit: Double)
    /// Energy per inference under `model` at most `picojoules`.
    case maxEnergy(model: String, picojoules: Double)
    /// Average weight bits at most `limit`.
    case maxAverageBits(Double)
    /// Packed model size at most `limit` bytes.
    case maxPackedBytes(Int)

    public var description: String {
        switch self {
        case .maxAccuracyDrop(let split, let limit): "accuracy drop (\(split)) ≤ \(limit)"
        case .maxEnergy(let model, let pj): "energy (\(model)) ≤ \(pj) pJ"
        case .maxAverageBits(let bits): "average bits ≤ \(bits)"
        case .maxPackedBytes(let bytes): "packed size ≤ \(bytes) B"
        }
    }

    /// The normalised constraint value for a measured quantity (positive when violated).
    ///
    /// - Parameter measured: accuracy drop, picojoules, average bits or bytes, matching the case.
    public func value(measured: Double) -> Double {
        switch self {
        case .maxAccuracyDrop(_, let limit): measured - limit
        case .maxEnergy(_, let limit): (measured - limit) / limit
        case .maxAverageBits(let limit): (measured - limit) / limit
        case .maxPackedBytes(let limit): (measured - Double(limit)) / Double(limit)
        }
    }
}
