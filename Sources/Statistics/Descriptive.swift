/// Mean and spread of repeated measurements (e.g. one configuration fine-tuned with several seeds).
public struct Spread: Codable, Hashable, Sendable {
    public var count: Int
    public var mean: Double
    /// Sample standard deviation (n − 1 in the denominator); 0 for a single value.
    public var standardDeviation: Double
    public var minimum: Double
    public var maximum: Double

    public init(_ values: [Double]) {
        precondition(!values.isEmpty, "spread of no values")
        count = values.count
        mean = values.reduce(0, +) / Double(values.count)
        let m = mean
        let squares = values.reduce(0) { $0 + ($1 - m) * ($1 - m) }
        standardDeviation = values.count > 1 ? (squares / Double(values.count - 1)).squareRoot() : 0
        minimum = values.min()!
        maximum = values.max()!
    }
}

/// Quantiles of sorted data, linear interpolation between order statistics (type 7, R's default).
public enum Quantiles {
    public static func sorted(_ values: [Double], _ q: Double) -> Double {
        precondition(!values.isEmpty && q >= 0 && q <= 1, "quantile \(q) of \(values.count) values")
        let position = q * Double(values.count - 1)
        let low = Int(position.rounded(.down))
        let high = min(low + 1, values.count - 1)
        let fraction = position - Double(low)
        return values[low] + (values[high] - values[low]) * fraction
    }

    public static func median(_ values: [Double]) -> Double { sorted(values.sorted(), 0.5) }
}
