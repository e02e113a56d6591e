/// A point estimate with a two-sided confidence interval.
public struct Interval: Codable, Hashable, Sendable, CustomStringConvertible {
    public var estimate: Double
    public var lower: Double
    public var upper: Double
    /// The confidence level, e.g. 0.95.
    public var confidence: Double

    public init(estimate: Double, lower: Double, upper: Double, confidence: Double) {
        self.estimate = estimate
        self.lower = lower
        self.upper = upper
        self.confidence = confidence
    }

    /// Half the interval's width: the "±" people quote.
    public var halfWidth: Double { (upper - lower) / 2 }

    public func contains(_ value: Double) -> Bool { lower <= value && value <= upper }

    /// `81.8 % [78.0, 85.1]` style, in percent, for accuracies and drops.
    public func percent(decimals: Int = 1) -> String {
        "\(Self.format(estimate * 100, decimals)) % [\(Self.format(lower * 100, decimals)), \(Self.format(upper * 100, decimals))]"
    }

    public var description: String { "\(estimate) [\(lower), \(upper)] (\(confidence))" }

    /// `value` rounded to `decimals` places, without a trailing "-0".
    public static func format(_ value: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<max(0, decimals) { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        let text = "\(rounded == 0 ? 0 : rounded)"
        guard let dot = text.firstIndex(of: ".") else { return decimals > 0 ? text + "." + String(repeating: "0", count: decimals) : text }
        let fraction = text[text.index(after: dot)...]
        if decimals == 0 { return String(text[..<dot]) }
        return String(text[..<dot]) + "." + fraction.prefix(decimals) + String(repeating: "0", count: max(0, decimals - fraction.count))
    }
}
