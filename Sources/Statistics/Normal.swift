#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The standard normal distribution, as much of it as intervals need.
public enum Normal {
    /// Φ(x), the cumulative distribution function.
    public static func cdf(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

    /// Φ⁻¹(p) for p in (0, 1): bisection on ``cdf(_:)`` to full double precision.
    ///
    /// Bisection rather than a rational approximation: it is called a handful of times per report,
    /// and its accuracy is that of the C library's `erfc` with no table of coefficients to trust.
    public static func quantile(_ p: Double) -> Double {
        precondition(p > 0 && p < 1, "normal quantile needs p in (0, 1), got \(p)")
        var low = -40.0
        var high = 40.0
        for _ in 0..<200 {
            let mid = 0.5 * (low + high)
            if mid == low || mid == high { break }
            if cdf(mid) < p { low = mid } else { high = mid }
        }
        return 0.5 * (low + high)
    }

    /// The two-sided critical value for a confidence level (1.959964 for 0.95).
    public static func twoSidedCritical(confidence: Double) -> Double {
        precondition(confidence > 0 && confidence < 1, "confidence must be in (0, 1), got \(confidence)")
        return quantile(0.5 + confidence / 2)
    }
}
