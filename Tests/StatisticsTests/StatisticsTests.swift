import Statistics
import Testing
import TestSupport

/// Expected values are scipy 1.17's (`binomtest(...).proportion_ci(method="wilson")`,
/// `binomtest(min(b, c), b + c, 0.5).pvalue`, `spearmanr`, `kendalltau`, `norm.ppf`).
struct ProportionTests {
    @Test(arguments: [
        (81, 100, 0.7222115462093562, 0.8748524849023126),
        (0, 10, 0.0, 0.27753279986288926),
        (10, 10, 0.7224672001371109, 1.0),
        (360, 440, 0.779440335538319, 0.8514155577889335),
        (1, 288, 0.0006131956629725245, 0.01940266789630021),
        (543, 660, 0.7917485295464213, 0.8499709568453799),
    ])
    func wilsonMatchesScipy(k: Int, n: Int, lower: Double, upper: Double) {
        let interval = Proportion.wilson(successes: k, trials: n)
        #expect(isClose(interval.lower, lower, relative: 1e-12, absolute: 1e-14))
        #expect(isClose(interval.upper, upper, relative: 1e-12, absolute: 1e-14))
        #expect(interval.estimate == Double(k) / Double(n))
    }

    @Test func wilsonAtAnotherConfidence() {
        let interval = Proportion.wilson(successes: 81, trials: 100, confidence: 0.9)
        #expect(isClose(interval.lower, 0.7376400476715522, relative: 1e-12))
        #expect(isClose(interval.upper, 0.8660274654428796, relative: 1e-12))
    }

    @Test func normalQuantiles() {
        #expect(isClose(Normal.twoSidedCritical(confidence: 0.95), 1.959963984540054, relative: 1e-14))
        #expect(isClose(Normal.quantile(0.001), -3.090232306167813, relative: 1e-13))
        #expect(abs(Normal.quantile(0.5)) < 1e-15)
    }
}

struct PairedComparisonTests {
    @Test(arguments: [
        (5, 0, 0.0625), (3, 7, 0.34375), (10, 20, 0.09873714670538905), (1, 1, 1.0), (25, 10, 0.016673847800120715),
        (120, 95, 0.10145232764870649), (0, 0, 1.0),
    ])
    func mcnemarMatchesScipy(b: Int, c: Int, p: Double) {
        #expect(isClose(McNemar.exactPValue(b, c), p, relative: 1e-10))
        #expect(McNemar.exactPValue(c, b) == McNemar.exactPValue(b, c))
    }

    /// Small tables against the binomial sum written with exact integers.
    @Test func mcnemarMatchesExactIntegers() {
        func choose(_ n: Int, _ k: Int) -> Double {
            var result = 1.0
            for i in 0..<k { result = result * Double(n - i) / Double(i + 1) }
            return result
        }
        for b in 0...12 {
            for c in 0...12 where b + c > 0 {
                let n = b + c
                let tail = (0...min(b, c)).reduce(0.0) { $0 + choose(n, $1) } / Double(1 << n)
                #expect(isClose(McNemar.exactPValue(b, c), min(1, 2 * tail), relative: 1e-12), "b = \(b), c = \(c)")
            }
        }
    }

    @Test func countsFromVectors() {
        let first = [true, true, false, true, false, true, true, false]
        let second = [true, false, false, false, true, true, true, false]
        let comparison = PairedComparison(first: first, second: second)
        #expect(comparison.samples == 8)
        #expect(comparison.onlyFirst == 2)
        #expect(comparison.onlySecond == 1)
        #expect(comparison.difference.estimate == 1.0 / 8)
    }

    /// The bootstrap interval of a paired difference approaches the normal one, whose standard error
    /// is sqrt((b + c)/n² − (b − c)²/n³); 4000 resamples put the ends within a few tenths of a point.
    @Test func bootstrapAgreesWithTheNormalApproximation() {
        let (n, b, c) = (660, 40, 22)
        let comparison = PairedComparison(samples: n, onlyFirst: b, onlySecond: c, seed: 7)
        let nn = Double(n)
        let se = (Double(b + c) / (nn * nn) - Double((b - c) * (b - c)) / (nn * nn * nn)).squareRoot()
        let estimate = Double(b - c) / nn
        #expect(abs(comparison.difference.lower - (estimate - 1.96 * se)) < 0.003)
        #expect(abs(comparison.difference.upper - (estimate + 1.96 * se)) < 0.003)
        #expect(!comparison.withinNoise)
        // Reproducible with the same seed.
        #expect(PairedComparison(samples: n, onlyFirst: b, onlySecond: c, seed: 7) == comparison)
    }

    @Test func noDiscordanceIsExactlyZero() {
        let comparison = PairedComparison(samples: 100, onlyFirst: 0, onlySecond: 0)
        #expect(comparison.difference.lower == 0 && comparison.difference.upper == 0)
        #expect(comparison.pValue == 1)
        #expect(comparison.withinNoise)
    }
}

struct DescriptiveTests {
    @Test func rankCorrelationsMatchScipy() {
        let x: [Double] = [1, 2, 2, 3, 5, 4, 7]
        let y: [Double] = [2, 1, 3, 3, 6, 5, 9]
        #expect(isClose(RankCorrelation.spearman(x, y)!, 0.9181818181818182, relative: 1e-12))
        #expect(isClose(RankCorrelation.kendall(x, y)!, 0.8499999999999999, relative: 1e-12))
        #expect(RankCorrelation.spearman([1, 1, 1], [1, 2, 3]) == nil)
        #expect(RankCorrelation.spearman([1, 2, 3], [3, 2, 1]) == -1)
    }

    /// Against the closed form, computed with Python's math.atanh / math.tanh.
    @Test func spearmanIntervalsUseFisherZ() throws {
        let half = try #require(RankCorrelation.spearmanInterval(0.5, count: 10))
        #expect(isClose(half.lower, -0.21020976118302043, relative: 1e-6) && isClose(half.upper, 0.8647813725445319, relative: 1e-6))
        let negative = try #require(RankCorrelation.spearmanInterval(-0.3, count: 12))
        #expect(isClose(negative.lower, -0.7539973081826948, relative: 1e-6) && isClose(negative.upper, 0.34795562098394006, relative: 1e-6))
        #expect(RankCorrelation.spearmanInterval(1, count: 10).map { ($0.lower, $0.upper) } ?? (0, 0) == (1, 1))
        #expect(RankCorrelation.spearmanInterval(0.5, count: 3) == nil)
    }

    @Test func averageRanksForTies() {
        #expect(RankCorrelation.ranks([10, 20, 20, 5]) == [2, 3.5, 3.5, 1])
    }

    @Test func spreadAndQuantiles() {
        let spread = Spread([2, 4, 4, 4, 5, 5, 7, 9])
        #expect(spread.mean == 5)
        #expect(isClose(spread.standardDeviation, (32.0 / 7).squareRoot(), relative: 1e-14))
        #expect(Spread([3]).standardDeviation == 0)
        #expect(Quantiles.median([3, 1, 2]) == 2)
        #expect(Quantiles.sorted([0, 10], 0.25) == 2.5)
    }

    @Test func percentFormatting() {
        let interval = Interval(estimate: 0.8182, lower: 0.7794, upper: 0.8514, confidence: 0.95)
        #expect(interval.percent() == "81.8 % [77.9, 85.1]")
    }
}
