import Seeding

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Two models scored on the same samples: the accuracy difference, its interval and whether it is
/// distinguishable from noise.
///
/// Only the discordant samples carry information about the difference: `onlyFirst` (the first model
/// right, the second wrong) and `onlySecond`. The difference of accuracies is
/// (onlyFirst − onlySecond) / n.
public struct PairedComparison: Codable, Hashable, Sendable {
    public var samples: Int
    /// Samples only the first model classified correctly.
    public var onlyFirst: Int
    /// Samples only the second model classified correctly.
    public var onlySecond: Int
    /// accuracy(first) − accuracy(second), with a paired-bootstrap percentile interval.
    public var difference: Interval
    /// Exact McNemar two-sided p-value for "the two accuracies are equal".
    public var pValue: Double

    /// Compares two correctness vectors over the same samples.
    ///
    /// - Parameters:
    ///   - first, second: per sample, whether each model was right; same length, same order.
    ///   - resamples: bootstrap resamples for the interval.
    ///   - seed: the bootstrap's seed (results are reproducible).
    public init(first: [Bool], second: [Bool], confidence: Double = 0.95, resamples: Int = 4000, seed: UInt64 = 0) {
        precondition(first.count == second.count && !first.isEmpty, "paired comparison needs two non-empty vectors of the same length")
        var b = 0
        var c = 0
        for (x, y) in zip(first, second) where x != y {
            if x { b += 1 } else { c += 1 }
        }
        self.init(samples: first.count, onlyFirst: b, onlySecond: c, confidence: confidence, resamples: resamples, seed: seed)
    }

    /// The same from the counts alone (the concordant samples do not matter beyond n).
    public init(samples n: Int, onlyFirst b: Int, onlySecond c: Int, confidence: Double = 0.95, resamples: Int = 4000, seed: UInt64 = 0) {
        precondition(n > 0 && b >= 0 && c >= 0 && b + c <= n, "invalid paired counts n = \(n), b = \(b), c = \(c)")
        samples = n
        onlyFirst = b
        onlySecond = c
        pValue = McNemar.exactPValue(b, c)
        difference = Self.bootstrap(n: n, b: b, c: c, confidence: confidence, resamples: resamples, seed: seed)
    }

    /// Whether the data are compatible with no difference at the interval's confidence.
    public var withinNoise: Bool { difference.contains(0) }

    /// Resamples n samples with replacement; each falls in "only first", "only second" or
    /// "concordant" with probabilities b/n, c/n and the rest, so one uniform draw per sample suffices.
    static func bootstrap(n: Int, b: Int, c: Int, confidence: Double, resamples: Int, seed: UInt64) -> Interval {
        let estimate = Double(b - c) / Double(n)
        guard b + c > 0, resamples > 0 else {
            return Interval(estimate: estimate, lower: estimate, upper: estimate, confidence: confidence)
        }
        var generator = SeededGenerator(seed: seed, stream: "paired-bootstrap")
        var differences = [Double]()
        differences.reserveCapacity(resamples)
        for _ in 0..<resamples {
            var net = 0
            for _ in 0..<n {
                let u = Int.random(in: 0..<n, using: &generator)
                if u < b { net += 1 } else if u < b + c { net -= 1 }
            }
            differences.append(Double(net) / Double(n))
        }
        differences.sort()
        let alpha = (1 - confidence) / 2
        return Interval(
            estimate: estimate, lower: Quantiles.sorted(differences, alpha), upper: Quantiles.sorted(differences, 1 - alpha),
            confidence: confidence)
    }
}

/// McNemar's test for paired binary outcomes.
public enum McNemar {
    /// The exact (binomial) two-sided p-value from the discordant counts b and c: under "no
    /// difference" each discordant sample is equally likely to go either way, so with X ~ Bin(b + c, ½)
    /// p = min(1, 2·P[X ≤ min(b, c)]). 1 when there are no discordant samples.
    public static func exactPValue(_ b: Int, _ c: Int) -> Double {
        precondition(b >= 0 && c >= 0, "McNemar counts must be non-negative")
        let n = b + c
        guard n > 0 else { return 1 }
        let k = min(b, c)
        // Sum the binomial terms in log space (n can be thousands).
        let logHalfN = Double(n) * log(0.5)
        var total = 0.0
        for i in 0...k {
            total += exp(logChoose(n, i) + logHalfN)
        }
        return min(1, 2 * total)
    }

    static func logChoose(_ n: Int, _ k: Int) -> Double {
        lgamma(Double(n + 1)) - lgamma(Double(k + 1)) - lgamma(Double(n - k + 1))
    }
}
