import Foundation

/// Maps a data interval onto a pixel interval, linearly or logarithmically, with "nice" ticks.
struct Scale {
    enum Kind { case linear, logarithmic }

    let kind: Kind
    let domain: (low: Double, high: Double)
    let range: (low: Double, high: Double)

    /// A scale covering `values` with a little padding; degenerate data gets a unit-wide domain.
    init(covering values: [Double], range: (Double, Double), kind: Kind = .linear, padding: Double = 0.05, includeZero: Bool = false) {
        let finite = values.filter { $0.isFinite && (kind == .linear || $0 > 0) }
        var low = finite.min() ?? 0
        var high = finite.max() ?? 1
        if includeZero { low = min(low, 0) }
        switch kind {
        case .linear:
            if high - low < 1e-12 {
                low -= 0.5
                high += 0.5
            }
            let pad = (high - low) * padding
            self.domain = (includeZero && low == 0 ? 0 : low - pad, high + pad)
        case .logarithmic:
            if low <= 0 { low = 1 }
            if high <= low { high = low * 10 }
            let pad = log10(high / low) * padding
            self.domain = (low / pow(10, pad), high * pow(10, pad))
        }
        self.kind = kind
        self.range = (range.0, range.1)
    }

    func callAsFunction(_ value: Double) -> Double {
        let t: Double
        switch kind {
        case .linear:
            t = (value - domain.low) / (domain.high - domain.low)
        case .logarithmic:
            t = log10(max(value, domain.low) / domain.low) / log10(domain.high / domain.low)
        }
        return range.low + t * (range.high - range.low)
    }

    /// Round-number tick positions inside the domain.
    func ticks(count: Int = 5) -> [Double] {
        switch kind {
        case .linear:
            let span = domain.high - domain.low
            let rough = span / Double(max(1, count))
            let magnitude = pow(10, floor(log10(rough)))
            let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? rough
            var tick = ceil(domain.low / step) * step
            var result: [Double] = []
            while tick <= domain.high + step * 1e-9 {
                result.append(abs(tick) < step * 1e-9 ? 0 : tick)
                tick += step
            }
            return result
        case .logarithmic:
            var result: [Double] = []
            var decade = pow(10, floor(log10(domain.low)))
            while decade <= domain.high {
                for m in [1.0, 2, 5] where decade * m >= domain.low && decade * m <= domain.high { result.append(decade * m) }
                decade *= 10
            }
            return result
        }
    }
}

/// Formats a tick value compactly: 0.85, 12, 1.2k, 3.4M, 5e-3.
func tickLabel(_ value: Double) -> String {
    let magnitude = abs(value)
    if magnitude == 0 { return "0" }
    if magnitude >= 1e9 { return trimmed(value / 1e9) + "G" }
    if magnitude >= 1e6 { return trimmed(value / 1e6) + "M" }
    if magnitude >= 1e4 { return trimmed(value / 1e3) + "k" }
    if magnitude >= 1 { return trimmed(value) }
    if magnitude >= 1e-3 { return String(format: "%.3g", value) }
    return String(format: "%.1e", value)
}

private func trimmed(_ value: Double) -> String {
    var text = String(format: "%.2f", value)
    while text.hasSuffix("0") { text.removeLast() }
    if text.hasSuffix(".") { text.removeLast() }
    return text
}
