/// Intervals for an accuracy: k correct out of n independent samples.
public enum Proportion {
    /// Wilson's score interval (Wilson 1927).
    ///
    /// With p̂ = k/n and z the two-sided critical value:
    ///
    ///     centre = (p̂ + z²/2n) / (1 + z²/n)
    ///     half   = z / (1 + z²/n) · sqrt(p̂(1 − p̂)/n + z²/4n²)
    ///
    /// Unlike the normal ("Wald") interval it stays inside [0, 1] and keeps its coverage near 0 and 1
    /// and for the small splits event-camera datasets have (288 test samples in DVS128 Gesture).
    public static func wilson(successes k: Int, trials n: Int, confidence: Double = 0.95) -> Interval {
        precondition(n > 0 && k >= 0 && k <= n, "Wilson interval needs 0 ≤ k ≤ n, n > 0 (k = \(k), n = \(n))")
        let z = Normal.twoSidedCritical(confidence: confidence)
        let nn = Double(n)
        let p = Double(k) / nn
        let z2 = z * z
        let denominator = 1 + z2 / nn
        let centre = (p + z2 / (2 * nn)) / denominator
        let half = z / denominator * (p * (1 - p) / nn + z2 / (4 * nn * nn)).squareRoot()
        return Interval(estimate: p, lower: max(0, centre - half), upper: min(1, centre + half), confidence: confidence)
    }
}
