import Statistics
import Wire

/// Accuracy figures with their uncertainty: a Wilson interval for each accuracy, and paired
/// comparisons (same samples) for drops against a reference.
public enum HonestFigures {
    /// The 95 % Wilson interval of `result`'s accuracy on `split`, from its per-sample outcomes (or,
    /// for results without them, from the accuracy and the split size when known).
    public static func accuracy(_ result: EvaluationResult, split: String, samples fallbackCount: Int? = nil) -> Interval? {
        if let interval = result.accuracyInterval(split: split) { return interval }
        guard let accuracy = result.accuracy[split], (0...1).contains(accuracy), let n = fallbackCount, n > 0 else { return nil }
        return Proportion.wilson(successes: Int((accuracy * Double(n)).rounded()), trials: n)
    }

    /// The drop `reference − candidate` on `split`, paired over the same samples: a bootstrap
    /// interval and McNemar's exact p-value. Nil when either side lacks per-sample outcomes or they
    /// were measured on different samples.
    public static func drop(of candidate: SampleOutcomes?, against reference: SampleOutcomes?) -> PairedComparison? {
        guard let candidate, let reference, candidate.count == reference.count, candidate.count > 0 else { return nil }
        return PairedComparison(first: reference.correct, second: candidate.correct)
    }

    /// The drop against the FP32 base model the result carries (`reference.samples`).
    public static func dropAgainstBase(_ result: EvaluationResult, split: String) -> PairedComparison? {
        drop(of: result.samples?[split], against: result.reference.samples?[split])
    }

    /// `81.8 % [78.0, 85.1]`.
    public static func text(_ interval: Interval?) -> String {
        interval.map { $0.percent() } ?? "–"
    }

    /// `1.2 pp [−0.4, 2.9], p = 0.21 (within noise)`.
    public static func text(_ comparison: PairedComparison?) -> String {
        guard let comparison else { return "–" }
        let d = comparison.difference
        let p = comparison.pValue < 0.001 ? "p < 0.001" : "p = \(Interval.format(comparison.pValue, 3))"
        return "\(Interval.format(d.estimate * 100, 1)) pp [\(Interval.format(d.lower * 100, 1)), \(Interval.format(d.upper * 100, 1))], \(p)"
            + (comparison.withinNoise ? " (within noise)" : "")
    }
}
