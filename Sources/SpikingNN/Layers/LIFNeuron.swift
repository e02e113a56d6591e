import Foundation
public import Tensor

/// Multi-step leaky integrate-and-fire neurons (SpikingJelly's `LIFNode` with `decay_input`),
/// trained by backpropagation through time with a sigmoid surrogate gradient.
///
/// For every neuron, over t = 0..<T (V[−1] = 0):
///
///     H[t] = V[t−1] + (X[t] − V[t−1]) / τ
///     S[t] = Θ(H[t] − V_th)
///     V[t] = H[t]·(1 − S[t])                 (hard reset to 0)
///
/// The backward pass replaces dS/dH by the surrogate α·σ(αx)·(1 − σ(αx)), x = H − V_th, and (with
/// `detachReset`, as Spikformer does) treats the reset S[t] in V[t] as a constant:
///
///     dL/dH[t]   = dL/dS[t]·sg(H[t]) + dL/dV[t]·(1 − S[t])
///     dL/dX[t]   = dL/dH[t] / τ
///     dL/dV[t−1] = dL/dH[t]·(1 − 1/τ)
///
/// Activations are channel-major `[C, T·B, …]` with time outermost in the frame index, so each
/// channel is a row of T contiguous blocks of B·(spatial) neurons.
public final class LIFNeuron {
    /// How S is computed from H; `.sigmoid` is a smooth stand-in for gradient checks only.
    package enum SpikeFunction {
        case heaviside
        /// S = σ(α(H − V_th)) in the forward pass, so finite differences see the surrogate.
        case sigmoid
    }

    public private(set) var tau: Float
    public private(set) var threshold: Float
    public let alpha: Float
    public package(set) var detachReset: Bool
    package var spikeFunction: SpikeFunction = .heaviside

    private var savedH: Tensor?
    private var savedTimeSteps = 0

    public init(tau: Float = 2, threshold: Float = 1, alpha: Float = 4, detachReset: Bool = true) {
        self.tau = tau
        self.threshold = threshold
        self.alpha = alpha
        self.detachReset = detachReset
    }

    /// Switches to the smooth stand-in (S = σ(α(H − V_th)), reset not detached), so finite
    /// differences see exactly what the backward pass computes; for gradient checks only.
    package func makeSmoothForGradientChecks() {
        spikeFunction = .sigmoid
        detachReset = false
    }

    /// Sets the time constant and threshold (the model applies its config's values).
    func configure(tau: Float, threshold: Float) {
        precondition(tau > 1, "LIF: τ must exceed 1")
        self.tau = tau
        self.threshold = threshold
    }

    /// The surrogate derivative dS/dH at `h`.
    /// dS/dH used by the backward pass at membrane value `h`: α·σ(αx)(1 − σ(αx)), x = h − V_th.
    public func surrogateDerivative(at h: Float) -> Float { surrogate(h) }

    @inline(__always)
    func surrogate(_ h: Float) -> Float {
        RowKernels.sigmoidSurrogate(h - threshold, alpha: alpha)
    }

    @inline(__always)
    func spike(_ h: Float) -> Float {
        switch spikeFunction {
        case .heaviside: return h >= threshold ? 1 : 0
        case .sigmoid: return 1 / (1 + Foundation.exp(-alpha * (h - threshold)))
        }
    }

    /// Spikes for input currents `x` (`[C, T·B, …]`), optionally first mapped per channel by
    /// `x ↦ scale[c]·x + shift[c]` (a fused BatchNorm).
    public func forward(_ x: Tensor, timeSteps: Int, training: Bool) -> Tensor {
        forward(x, timeSteps: timeSteps, training: training, affine: nil)
    }

    func forward(_ x: Tensor, timeSteps: Int, training: Bool, affine: (scale: [Float], shift: [Float])?) -> Tensor {
        let channels = x.shape[0]
        let row = x.count / channels
        precondition(row % timeSteps == 0, "LIF: \(row) values per channel do not split into \(timeSteps) time steps")
        let block = row / timeSteps
        var s = Tensor(uninitializedShape: x.shape)
        var h = Tensor(uninitializedShape: training ? x.shape : [0])
        let decay = 1 - 1 / tau
        let gain = 1 / tau
        let scales = affine?.scale ?? []
        let shifts = affine?.shift ?? []
        let hasAffine = affine != nil
        x.withUnsafeBufferPointer { px in
            s.withUnsafeMutableBufferPointer { ps in
                h.withUnsafeMutableBufferPointer { ph in
                    let input = px.baseAddress!
                    let spikes = ps.baseAddress!
                    let hOut = training ? ph.baseAddress : nil
                    Compute.parallelFor(channels, grain: 1) { range in
                        let v = UnsafeMutablePointer<Float>.allocate(capacity: block)
                        defer { v.deallocate() }
                        for c in range {
                            let a: Float = hasAffine ? scales[c] : 1
                            let b: Float = hasAffine ? shifts[c] : 0
                            v.update(repeating: 0, count: block)
                            for t in 0..<timeSteps {
                                let offset = c * row + t * block
                                let xi = input + offset
                                let si = spikes + offset
                                let smooth = spikeFunction != .heaviside
                                let threshold = self.threshold
                                if smooth {
                                    for i in 0..<block {
                                        let hv = decay * v[i] + gain * (a * xi[i] + b)
                                        let sv = spike(hv)
                                        if let hOut { hOut[offset + i] = hv }
                                        si[i] = sv
                                        v[i] = hv * (1 - sv)
                                    }
                                } else if let hOut {
                                    let hi = hOut + offset
                                    for i in 0..<block {
                                        let hv = decay * v[i] + gain * (a * xi[i] + b)
                                        let fired = hv >= threshold
                                        hi[i] = hv
                                        si[i] = fired ? 1 : 0
                                        v[i] = fired ? 0 : hv
                                    }
                                } else {
                                    for i in 0..<block {
                                        let hv = decay * v[i] + gain * (a * xi[i] + b)
                                        let fired = hv >= threshold
                                        si[i] = fired ? 1 : 0
                                        v[i] = fired ? 0 : hv
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if training {
            savedH = h
            savedTimeSteps = timeSteps
        } else {
            savedH = nil
        }
        return s
    }

    /// dL/dX for dL/dS of the last training forward pass (BPTT over T).
    public func backward(_ ds: Tensor) -> Tensor {
        guard let h = savedH else { preconditionFailure("LIF: backward without a training forward pass") }
        precondition(ds.shape == h.shape, "LIF: gradient shape \(ds.shape) vs \(h.shape)")
        let timeSteps = savedTimeSteps
        let channels = h.shape[0]
        let row = h.count / channels
        let block = row / timeSteps
        var dx = Tensor(uninitializedShape: h.shape)
        let decay = 1 - 1 / tau
        let gain = 1 / tau
        h.withUnsafeBufferPointer { ph in
            ds.withUnsafeBufferPointer { pds in
                dx.withUnsafeMutableBufferPointer { pdx in
                    let hs = ph.baseAddress!
                    let gs = pds.baseAddress!
                    let out = pdx.baseAddress!
                    Compute.parallelFor(channels, grain: 1) { range in
                        let gv = UnsafeMutablePointer<Float>.allocate(capacity: block)
                        defer { gv.deallocate() }
                        for c in range {
                            gv.update(repeating: 0, count: block)
                            for t in stride(from: timeSteps - 1, through: 0, by: -1) {
                                let offset = c * row + t * block
                                let hi = hs + offset
                                let gi = gs + offset
                                let oi = out + offset
                                if spikeFunction == .heaviside && detachReset {
                                    let threshold = self.threshold
                                    let alpha = self.alpha
                                    for i in 0..<block {
                                        let hv = hi[i]
                                        let x = hv - threshold
                                        let keep: Float = x >= 0 ? 0 : 1
                                        let gh = gi[i] * RowKernels.sigmoidSurrogate(x, alpha: alpha) + gv[i] * keep
                                        oi[i] = gh * gain
                                        gv[i] = gh * decay
                                    }
                                } else {
                                    for i in 0..<block {
                                        let hv = hi[i]
                                        let sv = spike(hv)
                                        let sg = surrogate(hv)
                                        var gh = gi[i] * sg + gv[i] * (1 - sv)
                                        if !detachReset { gh -= gv[i] * hv * sg }
                                        oi[i] = gh * gain
                                        gv[i] = gh * decay
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        savedH = nil
        return dx
    }
}

