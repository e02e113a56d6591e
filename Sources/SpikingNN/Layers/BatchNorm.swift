public import Tensor

/// Batch normalisation over channel-major activations `[C, …]` (BatchNorm1d and BatchNorm2d alike).
///
/// Multi-step layers fold T into the batch, so in training the statistics of channel c are taken
/// over its whole row (T·B·H·W or T·B·N values); evaluation uses the running statistics.
/// Running statistics follow PyTorch: `running = (1 − momentum)·running + momentum·batch`, with the
/// unbiased variance; normalisation uses the biased one. Sums are accumulated in Double.
public final class BatchNorm {
    public let name: String
    public let channels: Int
    public package(set) var momentum: Float
    public let epsilon: Float
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: Parameter
    public let runningVar: Parameter
    /// Evaluation-mode passes normalise with the batch's own statistics and fold them into the
    /// running ones, as training does, but keep nothing for a backward pass: BatchNorm
    /// re-estimation (``Trainer/recalibrateBatchNorm(_:on:batchSize:batches:seed:)``) runs the
    /// rest of the model in its cheaper evaluation mode.
    var collectsBatchStatistics = false

    private var savedInput: Tensor?
    private var savedMean: [Float] = []
    private var savedInverseStd: [Float] = []

    public init(name: String, channels: Int, momentum: Float = 0.1, epsilon: Float = 1e-5) {
        self.name = name
        self.channels = channels
        self.momentum = momentum
        self.epsilon = epsilon
        weight = Parameter(name: name + ".weight", value: Tensor(shape: [channels], repeating: 1))
        bias = Parameter(name: name + ".bias", value: Tensor(shape: [channels], repeating: 0))
        runningMean = Parameter(name: name + ".running_mean", value: Tensor(shape: [channels], repeating: 0), isTrainable: false)
        runningVar = Parameter(name: name + ".running_var", value: Tensor(shape: [channels], repeating: 1), isTrainable: false)
    }

    public var parameters: [Parameter] { [weight, bias] }
    public var buffers: [Parameter] { [runningMean, runningVar] }

    /// Per-channel affine map `y = scale·x + shift` that this layer applies in evaluation, or in
    /// training after computing (and recording) the batch statistics of `x`.
    func affine(for x: Tensor, training: Bool) -> (scale: [Float], shift: [Float]) {
        precondition(x.shape.first == channels, "\(name): expected \(channels) channels, got shape \(x.shape)")
        guard training || collectsBatchStatistics else { return evaluationAffine() }
        let length = x.count / channels
        var mean = [Float](repeating: 0, count: channels)
        var variance = [Float](repeating: 0, count: channels)
        x.withUnsafeBufferPointer { px in
            let p = px.baseAddress!
            mean.withUnsafeMutableBufferPointer { meanOut in
                variance.withUnsafeMutableBufferPointer { varOut in
                    let m = meanOut.baseAddress!
                    let v = varOut.baseAddress!
                    Compute.parallelFor(channels, grain: 1) { range in
                        var c = range.lowerBound
                        while c + 1 < range.upperBound {
                            ((m[c], v[c]), (m[c + 1], v[c + 1])) = Self.rowStatistics(p + c * length, p + (c + 1) * length, count: length)
                            c += 2
                        }
                        if c < range.upperBound { (m[c], v[c]) = Self.rowStatistics(p + c * length, count: length) }
                    }
                }
            }
        }
        return recordBatchStatistics(of: x, mean: mean, variance: variance, keepForBackward: training)
    }

    /// The affine map of evaluation mode, from the running statistics.
    func evaluationAffine() -> (scale: [Float], shift: [Float]) {
        let gamma = weight.value.scalars
        let beta = bias.value.scalars
        let rm = runningMean.value.scalars
        let rv = runningVar.value.scalars
        var scale = [Float](repeating: 0, count: channels)
        var shift = [Float](repeating: 0, count: channels)
        for c in 0..<channels {
            scale[c] = gamma[c] / (rv[c] + epsilon).squareRoot()
            shift[c] = beta[c] - rm[c] * scale[c]
        }
        savedInput = nil
        return (scale, shift)
    }

    /// Batch mean and biased variance of one channel's row (sums in Double, fixed order).
    package static func rowStatistics(_ row: UnsafePointer<Float>, count: Int) -> (mean: Float, variance: Float) {
        let mu = Float(RowKernels.sum(row, count: count) / Double(count))
        return (mu, Float(RowKernels.sumOfSquaredDeviations(row, count: count, mean: mu) / Double(count)))
    }

    /// ``rowStatistics(_:count:)`` of two channels' rows at once (the same bits per row).
    package static func rowStatistics(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int)
        -> (a: (mean: Float, variance: Float), b: (mean: Float, variance: Float)) {
        let (sumA, sumB) = RowKernels.sums(a, b, count: count)
        let means = (Float(sumA / Double(count)), Float(sumB / Double(count)))
        let (deviationsA, deviationsB) = RowKernels.sumsOfSquaredDeviations(a, b, count: count, means: means)
        return ((means.0, Float(deviationsA / Double(count))), (means.1, Float(deviationsB / Double(count))))
    }

    /// `(σ⁻¹, γ·σ⁻¹, β − μ·γ·σ⁻¹)` of one channel in training, σ² the biased batch variance.
    @inline(__always)
    static func trainingAffine(mean: Float, variance: Float, gamma: Float, beta: Float, epsilon: Float)
        -> (inverseStd: Float, scale: Float, shift: Float) {
        let inverseStd = 1 / (variance + epsilon).squareRoot()
        let scale = gamma * inverseStd
        return (inverseStd, scale, beta - mean * scale)
    }

    /// Updates the running statistics with a batch's, keeps what ``backward(_:)`` needs (when
    /// `keepForBackward`), and returns the batch's affine map.
    func recordBatchStatistics(of x: Tensor, mean: [Float], variance: [Float], keepForBackward: Bool) -> (scale: [Float], shift: [Float]) {
        let length = x.count / channels
        let gamma = weight.value.scalars
        let beta = bias.value.scalars
        var scale = [Float](repeating: 0, count: channels)
        var shift = [Float](repeating: 0, count: channels)
        var inverseStd = [Float](repeating: 0, count: channels)
        for c in 0..<channels {
            (inverseStd[c], scale[c], shift[c]) = Self.trainingAffine(
                mean: mean[c], variance: variance[c], gamma: gamma[c], beta: beta[c], epsilon: epsilon)
        }
        let unbiasing = length > 1 ? Float(length) / Float(length - 1) : 1
        runningMean.updateInPlace { rm in
            for c in 0..<channels { rm[c] = (1 - momentum) * rm[c] + momentum * mean[c] }
        }
        runningVar.updateInPlace { rv in
            for c in 0..<channels { rv[c] = (1 - momentum) * rv[c] + momentum * variance[c] * unbiasing }
        }
        if keepForBackward {
            savedInput = x
            savedMean = mean
            savedInverseStd = inverseStd
        } else {
            savedInput = nil
        }
        return (scale, shift)
    }

    /// `[C, …]` → `[C, …]`.
    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let (scale, shift) = affine(for: x, training: training)
        let length = x.count / channels
        var y = Tensor(uninitializedShape: x.shape)
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                let source = px.baseAddress!
                let target = py.baseAddress!
                Compute.parallelFor(channels, grain: 1) { range in
                    for c in range {
                        let a = scale[c]
                        let b = shift[c]
                        let s = source + c * length
                        let t = target + c * length
                        for i in 0..<length { t[i] = a * s[i] + b }
                    }
                }
            }
        }
        return y
    }

    /// Accumulates dL/dγ, dL/dβ and returns dL/dx for the last training forward pass:
    /// `dx = γ·σ⁻¹/L · (L·dy − Σdy − x̂·Σ(dy·x̂))`.
    public func backward(_ dy: Tensor) -> Tensor {
        let state = takeBackwardState()
        precondition(dy.shape == state.input.shape, "\(name): gradient shape \(dy.shape) vs input \(state.input.shape)")
        let length = state.input.count / channels
        var dGamma = [Float](repeating: 0, count: channels)
        var dBeta = [Float](repeating: 0, count: channels)
        var dx = Tensor(uninitializedShape: state.input.shape)
        state.input.withUnsafeBufferPointer { px in
            dy.withUnsafeBufferPointer { pdy in
                dx.withUnsafeMutableBufferPointer { pdx in
                    dGamma.withUnsafeMutableBufferPointer { dg in
                        dBeta.withUnsafeMutableBufferPointer { db in
                            let (xs, gs, out, dgp, dbp) = (px.baseAddress!, pdy.baseAddress!, pdx.baseAddress!, dg.baseAddress!, db.baseAddress!)
                            Compute.parallelFor(channels, grain: 1) { range in
                                for c in range {
                                    (dgp[c], dbp[c]) = Self.backwardRow(
                                        gs + c * length, input: xs + c * length, count: length, gamma: state.gamma[c],
                                        mean: state.mean[c], inverseStd: state.inverseStd[c], into: out + c * length)
                                }
                            }
                        }
                    }
                }
            }
        }
        accumulateAffineGradients(dGamma: dGamma, dBeta: dBeta)
        return dx
    }

    /// What the backward pass needs from the last training forward pass (dropped from the layer).
    func takeBackwardState() -> (input: Tensor, mean: [Float], inverseStd: [Float], gamma: [Float]) {
        guard let x = savedInput else { preconditionFailure("\(name): backward without a training forward pass") }
        savedInput = nil
        return (x, savedMean, savedInverseStd, weight.value.scalars)
    }

    func accumulateAffineGradients(dGamma: [Float], dBeta: [Float]) {
        weight.accumulateGradient(Tensor(shape: [channels], scalars: dGamma))
        bias.accumulateGradient(Tensor(shape: [channels], scalars: dBeta))
    }

    /// One channel's row of the backward pass; returns (dL/dγ, dL/dβ). `out` may be `dy` itself.
    @inline(__always)
    static func backwardRow(_ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, count length: Int, gamma: Float,
                            mean mu: Float, inverseStd inv: Float, into out: UnsafeMutablePointer<Float>) -> (Float, Float) {
        backwardRow(dy, input: x, count: length, gamma: gamma, mean: mu, inverseStd: inv,
                    sums: RowKernels.gradientSums(dy, x, count: length, mean: mu, inverseStd: inv), into: out)
    }

    /// ``backwardRow(_:input:count:gamma:mean:inverseStd:into:)`` with the row's gradient sums
    /// (Σ dy, Σ dy·x̂) already taken, as for two rows at once.
    static func backwardRow(_ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, count length: Int, gamma: Float,
                            mean mu: Float, inverseStd inv: Float, sums: (Double, Double),
                            into out: UnsafeMutablePointer<Float>) -> (Float, Float) {
        let (sumG, sumGX) = sums
        let k = gamma * inv
        let meanG = Float(sumG / Double(length))
        let meanGX = Float(sumGX / Double(length))
        // Lane-wise in the scalar tail's operation order (explicit, since `out` may alias `dy`).
        let (mu8, inv8, k8, meanG8, meanGX8) = (SIMD8(repeating: mu), SIMD8(repeating: inv), SIMD8(repeating: k),
                                                SIMD8(repeating: meanG), SIMD8(repeating: meanGX))
        var i = 0
        while i + 8 <= length {
            let xhat = (HeadKernels.load(x + i) - mu8) * inv8
            HeadKernels.store(k8 * (HeadKernels.load(dy + i) - meanG8 - xhat * meanGX8), out + i)
            i += 8
        }
        while i < length {
            let xhat = (x[i] - mu) * inv
            out[i] = k * (dy[i] - meanG - xhat * meanGX)
            i += 1
        }
        return (Float(sumGX), Float(sumG))
    }
}

extension BatchNorm: Module {
    public var ownState: [Parameter] { parameters + buffers }
}
