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
    public internal(set) var momentum: Float
    public let epsilon: Float
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: Parameter
    public let runningVar: Parameter

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
        let length = x.count / channels
        var scale = [Float](repeating: 0, count: channels)
        var shift = [Float](repeating: 0, count: channels)
        let gamma = weight.value.scalars
        let beta = bias.value.scalars
        if training {
            var mean = [Float](repeating: 0, count: channels)
            var variance = [Float](repeating: 0, count: channels)
            x.withUnsafeBufferPointer { px in
                let p = px.baseAddress!
                mean.withUnsafeMutableBufferPointer { meanOut in
                    variance.withUnsafeMutableBufferPointer { varOut in
                        let m = meanOut.baseAddress!
                        let v = varOut.baseAddress!
                        Compute.parallelFor(channels, grain: 1) { range in
                            for c in range {
                                let row = p + c * length
                                let mu = Float(RowKernels.sum(row, count: length) / Double(length))
                                m[c] = mu
                                v[c] = Float(RowKernels.sumOfSquaredDeviations(row, count: length, mean: mu) / Double(length))
                            }
                        }
                    }
                }
            }
            var inverseStd = [Float](repeating: 0, count: channels)
            for c in 0..<channels {
                inverseStd[c] = 1 / (variance[c] + epsilon).squareRoot()
                scale[c] = gamma[c] * inverseStd[c]
                shift[c] = beta[c] - mean[c] * scale[c]
            }
            let unbiasing = length > 1 ? Float(length) / Float(length - 1) : 1
            runningMean.updateInPlace { rm in
                for c in 0..<channels { rm[c] = (1 - momentum) * rm[c] + momentum * mean[c] }
            }
            runningVar.updateInPlace { rv in
                for c in 0..<channels { rv[c] = (1 - momentum) * rv[c] + momentum * variance[c] * unbiasing }
            }
            savedInput = x
            savedMean = mean
            savedInverseStd = inverseStd
        } else {
            let rm = runningMean.value.scalars
            let rv = runningVar.value.scalars
            for c in 0..<channels {
                scale[c] = gamma[c] / (rv[c] + epsilon).squareRoot()
                shift[c] = beta[c] - rm[c] * scale[c]
            }
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
        guard let x = savedInput else { preconditionFailure("\(name): backward without a training forward pass") }
        precondition(dy.shape == x.shape, "\(name): gradient shape \(dy.shape) vs input \(x.shape)")
        let length = x.count / channels
        let gamma = weight.value.scalars
        let mean = savedMean
        let inverseStd = savedInverseStd
        var dGamma = [Float](repeating: 0, count: channels)
        var dBeta = [Float](repeating: 0, count: channels)
        var dx = Tensor(uninitializedShape: x.shape)
        x.withUnsafeBufferPointer { px in
            dy.withUnsafeBufferPointer { pdy in
                dx.withUnsafeMutableBufferPointer { pdx in
                    dGamma.withUnsafeMutableBufferPointer { dg in
                        dBeta.withUnsafeMutableBufferPointer { db in
                            let xs = px.baseAddress!
                            let gs = pdy.baseAddress!
                            let out = pdx.baseAddress!
                            let dgp = dg.baseAddress!
                            let dbp = db.baseAddress!
                            Compute.parallelFor(channels, grain: 1) { range in
                                for c in range {
                                    let xr = xs + c * length
                                    let gr = gs + c * length
                                    let mu = mean[c]
                                    let inv = inverseStd[c]
                                    let (sumG, sumGX) = RowKernels.gradientSums(gr, xr, count: length, mean: mu, inverseStd: inv)
                                    dgp[c] = Float(sumGX)
                                    dbp[c] = Float(sumG)
                                    let k = gamma[c] * inv
                                    let meanG = Float(sumG / Double(length))
                                    let meanGX = Float(sumGX / Double(length))
                                    let o = out + c * length
                                    for i in 0..<length {
                                        let xhat = (xr[i] - mu) * inv
                                        o[i] = k * (gr[i] - meanG - xhat * meanGX)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        weight.accumulateGradient(Tensor(shape: [channels], scalars: dGamma))
        bias.accumulateGradient(Tensor(shape: [channels], scalars: dBeta))
        savedInput = nil
        return dx
    }
}
