#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How well one ordering agrees with another: low-fidelity versus full-fidelity accuracy, one seed
/// versus another, a surrogate's predictions versus what was measured.
public enum RankCorrelation {
    /// Spearman's ρ: Pearson correlation of the ranks, tied values sharing their average rank.
    /// Nil with fewer than two pairs or when either side is constant.
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double? {
        precondition(x.count == y.count, "rank correlation of \(x.count) and \(y.count) values")
        guard x.count >= 2 else { return nil }
        return pearson(ranks(x), ranks(y))
    }

    /// Kendall's τ-b (ties corrected). Nil with fewer than two pairs or when either side is constant.
    public static func kendall(_ x: [Double], _ y: [Double]) -> Double? {
        precondition(x.count == y.count, "rank correlation of \(x.count) and \(y.count) values")
        var concordant = 0.0
        var discordant = 0.0
        var tiedX = 0.0
        var tiedY = 0.0
        for i in 0..<x.count {
            for j in (i + 1)..<max(i + 1, x.count) {
                let dx = x[i] - x[j]
                let dy = y[i] - y[j]
                if dx == 0 && dy == 0 { continue }
                if dx == 0 { tiedX += 1 } else if dy == 0 { tiedY += 1 } else if (dx > 0) == (dy > 0) { concordant += 1 } else { discordant += 1 }
            }
        }
        let denominator = ((concordant + discordant + tiedX) * (concordant + discordant + tiedY)).squareRoot()
        guard denominator > 0 else { return nil }
        return (concordant - discordant) / denominator
    }

    /// A confidence interval for Spearman's ρ measured on `count` pairs: Fisher's z-transform with the
    /// variance 1.06 / (n − 3) of Fieller, Hartley and Pearson (1957). Nil below 4 pairs. With ten
    /// configurations an estimate of 0.5 spans about −0.2 … 0.86, which is why one ρ decides little.
    public static func spearmanInterval(_ rho: Double, count: Int, confidence: Double = 0.95) -> Interval? {
        guard count >= 4, rho.isFinite, (-1...1).contains(rho) else { return nil }
        let z = atanh(rho)
        let halfWidth = Normal.twoSidedCritical(confidence: confidence) * (1.06 / Double(count - 3)).squareRoot()
        return Interval(estimate: rho, lower: tanh(z - halfWidth), upper: tanh(z + halfWidth), confidence: confidence)
    }

    /// 1-based ranks, ties getting the average of the ranks they span.
    public static func ranks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count)
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count && values[order[end + 1]] == values[order[start]] { end += 1 }
            let average = Double(start + end) / 2 + 1
            for k in start...end { ranks[order[k]] = average }
            start = end + 1
        }
        return ranks
    }

    static func pearson(_ x: [Double], _ y: [Double]) -> Double? {
        let n = Double(x.count)
        let mx = x.reduce(0, +) / n
        let my = y.reduce(0, +) / n
        var sxy = 0.0
        var sxx = 0.0
        var syy = 0.0
        for (a, b) in zip(x, y) {
            sxy += (a - mx) * (b - my)
            sxx += (a - mx) * (a - mx)
            syy += (b - my) * (b - my)
        }
        guard sxx > 0 && syy > 0 else { return nil }
        return sxy / (sxx * syy).squareRoot()
    }
}
