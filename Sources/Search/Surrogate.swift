import Statistics

/// How the search screens children with a surrogate before dispatching one.
public struct SurrogateScreening: Codable, Hashable, Sendable {
    /// Children generated per request; the one with the best predicted hypervolume improvement is
    /// proposed. 1 turns screening off.
    public var candidates: Int
    /// Results needed before the surrogate is trusted.
    public var minimumResults: Int
    /// Ridge penalty on the (standardised) features.
    public var ridge: Double

    public init(candidates: Int = 16, minimumResults: Int = 8, ridge: Double = 1.0) {
        self.candidates = candidates
        self.minimumResults = minimumResults
        self.ridge = ridge
    }

    public func validate() throws(SearchError) {
        guard candidates >= 1 else { throw .invalidParameters("surrogate candidates must be at least 1") }
        guard minimumResults >= 2 else { throw .invalidParameters("surrogate minimum results must be at least 2") }
        guard ridge.isFinite, ridge > 0 else { throw .invalidParameters("surrogate ridge penalty must be positive") }
    }
}

/// A cheap model of the objectives from the genes: ridge regression on a one-hot encoding of each
/// free layer's choice, plus the sensitivity table's additive predictions (summed drop, predicted
/// relative energy) when there is one. Energy is additive over layers, so it is almost exactly
/// linear in these features; accuracy is roughly so (the same assumption as HAWQ's knapsack).
///
/// It is refit from all first results (lowest fidelity) whenever asked after a new one. Each result
/// is predicted *before* it is added, so ``heldBackCorrelation`` is an honest out-of-sample measure of
/// how well the surrogate ranks.
public struct Surrogate: Codable, Sendable {
    struct Observation: Codable, Hashable, Sendable {
        var genome: Genome
        var objectives: [Double]
    }

    /// A prediction made before the result was known, and the result.
    public struct HeldBack: Codable, Hashable, Sendable {
        public var predicted: [Double]
        public var observed: [Double]
    }

    private var observations: [Observation] = []
    public private(set) var heldBack: [HeldBack] = []
    /// Fitted model for the current observations (not stored: refit after a resume).
    private var fit: Fit?

    private enum CodingKeys: String, CodingKey { case observations, heldBack }

    struct Fit: Sendable {
        var count: Int
        var featureMeans: [Double]
        var featureScales: [Double]
        /// Per objective: intercept and weights on the standardised features.
        var intercepts: [Double]
        var weights: [[Double]]
    }

    public init() {}

    public var count: Int { observations.count }

    /// Spearman's ρ between held-back predictions and results, per objective (nil where undefined).
    public var heldBackCorrelation: [Double?] {
        guard let first = heldBack.first else { return [] }
        return first.observed.indices.map { m in
            RankCorrelation.spearman(heldBack.map { $0.predicted[m] }, heldBack.map { $0.observed[m] })
        }
    }

    /// Records a result; if the surrogate could already predict it, the prediction is logged first.
    mutating func observe(_ genome: Genome, objectives: [Double], in space: GenomeSpace, sensitivity: SensitivityTable?, screening: SurrogateScreening) {
        if observations.count >= screening.minimumResults, let predicted = predict(genome, in: space, sensitivity: sensitivity, screening: screening) {
            heldBack.append(HeldBack(predicted: predicted, observed: objectives))
        }
        observations.append(Observation(genome: genome, objectives: objectives))
    }

    /// Predicted objectives, or nil while there are fewer than `screening.minimumResults` results.
    mutating func predict(_ genome: Genome, in space: GenomeSpace, sensitivity: SensitivityTable?, screening: SurrogateScreening) -> [Double]? {
        guard observations.count >= screening.minimumResults else { return nil }
        if fit?.count != observations.count { fit = Self.fitRidge(observations, in: space, sensitivity: sensitivity, ridge: screening.ridge) }
        guard let fit else { return nil }
        let x = Self.features(genome, in: space, sensitivity: sensitivity)
        return fit.intercepts.indices.map { m in
            var value = fit.intercepts[m]
            for j in x.indices { value += fit.weights[m][j] * (x[j] - fit.featureMeans[j]) / fit.featureScales[j] }
            return value
        }
    }

    /// One-hot of each free layer's choice, then the sensitivity table's summed drop and predicted
    /// relative energy where available.
    static func features(_ genome: Genome, in space: GenomeSpace, sensitivity: SensitivityTable?) -> [Double] {
        var x: [Double] = []
        for layer in space.freeLayers {
            for choice in space.choices[layer] { x.append(genome.genes[layer] == choice ? 1 : 0) }
        }
        if let sensitivity {
            x.append(sensitivity.predictedDrop(of: genome, in: space) ?? 0)
            x.append(sensitivity.energy?.relativeEnergy(of: genome, in: space) ?? 0)
        }
        return x
    }

    /// Ridge regression on standardised features with an unpenalised intercept, solved in whichever
    /// of the primal (features²) or dual (observations²) forms is smaller.
    static func fitRidge(_ observations: [Observation], in space: GenomeSpace, sensitivity: SensitivityTable?, ridge: Double) -> Fit? {
        guard let first = observations.first else { return nil }
        let rows = observations.map { features($0.genome, in: space, sensitivity: sensitivity) }
        let n = rows.count
        let d = rows[0].count
        let objectives = first.objectives.count
        var means = [Double](repeating: 0, count: d)
        for row in rows { for j in 0..<d { means[j] += row[j] / Double(n) } }
        var scales = [Double](repeating: 0, count: d)
        for row in rows { for j in 0..<d { scales[j] += (row[j] - means[j]) * (row[j] - means[j]) / Double(n) } }
        scales = scales.map { $0 > 1e-12 ? $0.squareRoot() : 1 }
        let z = rows.map { row in (0..<d).map { (row[$0] - means[$0]) / scales[$0] } }
        var intercepts: [Double] = []
        var weights: [[Double]] = []
        for m in 0..<objectives {
            let y = observations.map { $0.objectives[m] }
            let mean = y.reduce(0, +) / Double(n)
            let centred = y.map { $0 - mean }
            let w: [Double]
            if n < d {
                // Dual: (Z Zᵀ + λI) α = y, w = Zᵀ α.
                var gram = [Double](repeating: 0, count: n * n)
                for i in 0..<n {
                    for k in 0...i {
                        var dot = 0.0
                        for j in 0..<d { dot += z[i][j] * z[k][j] }
                        gram[i * n + k] = dot
                        gram[k * n + i] = dot
                    }
                    gram[i * n + i] += ridge
                }
                guard let alpha = Cholesky.solve(gram, size: n, rhs: centred) else { return nil }
                w = (0..<d).map { j in (0..<n).reduce(0) { $0 + z[$1][j] * alpha[$1] } }
            } else {
                // Primal: (Zᵀ Z + λI) w = Zᵀ y.
                var gram = [Double](repeating: 0, count: d * d)
                var rhs = [Double](repeating: 0, count: d)
                for i in 0..<n {
                    for j in 0..<d where z[i][j] != 0 {
                        rhs[j] += z[i][j] * centred[i]
                        for k in 0...j { gram[j * d + k] += z[i][j] * z[i][k] }
                    }
                }
                for j in 0..<d {
                    for k in 0..<j { gram[k * d + j] = gram[j * d + k] }
                    gram[j * d + j] += ridge
                }
                guard let solution = Cholesky.solve(gram, size: d, rhs: rhs) else { return nil }
                w = solution
            }
            intercepts.append(mean)
            weights.append(w)
        }
        return Fit(count: n, featureMeans: means, featureScales: scales, intercepts: intercepts, weights: weights)
    }
}

/// Solves A x = b for a symmetric positive definite A (row-major) by Cholesky factorisation.
enum Cholesky {
    static func solve(_ a: [Double], size n: Int, rhs b: [Double]) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var sum = a[i * n + j]
                for k in 0..<j { sum -= l[i * n + k] * l[j * n + k] }
                if i == j {
                    guard sum > 0, sum.isFinite else { return nil }
                    l[i * n + i] = sum.squareRoot()
                } else {
                    l[i * n + j] = sum / l[j * n + j]
                }
            }
        }
        var y = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var sum = b[i]
            for k in 0..<i { sum -= l[i * n + k] * y[k] }
            y[i] = sum / l[i * n + i]
        }
        var x = [Double](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            var sum = y[i]
            for k in (i + 1)..<max(i + 1, n) { sum -= l[k * n + i] * x[k] }
            x[i] = sum / l[i * n + i]
        }
        return x
    }
}
