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
/// H is not stored: the backward pass recomputes it from the kept input, a group of neurons at a
/// time into a T-long scratch that stays in L1, which costs less than writing H to memory in the
/// forward pass and reading it back (both passes are memory-bound).
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

    /// The last training forward pass's input and per-channel input map, for ``backward(_:)``.
    private var saved: (input: Tensor, scale: [Float], shift: [Float], timeSteps: Int)?

    /// What ``EventKernels/inspect(_:)`` would report for the spikes of the last forward pass,
    /// counted while they were written, so the next layer need not read them again; nil with the
    /// smooth stand-in, whose outputs are not spikes. Valid until the next forward pass.
    package private(set) var outputInspection: EventKernels.Inspection?

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
    public func forward(_ x: consuming Tensor, timeSteps: Int, training: Bool) -> Tensor {
        forward(consume x, timeSteps: timeSteps, training: training, affine: nil)
    }

    /// In evaluation the spikes overwrite the input currents when nothing else holds them: each
    /// value is read before its spike is written, and writing in place spares a fresh buffer's
    /// read-for-ownership, which matters because this pass is bound by memory traffic.
    func forward(_ x: consuming Tensor, timeSteps: Int, training: Bool, affine: (scale: [Float], shift: [Float])?) -> Tensor {
        var input = consume x
        let channels = input.shape[0]
        let row = input.count / channels
        precondition(row % timeSteps == 0, "LIF: \(row) values per channel do not split into \(timeSteps) time steps")
        let block = row / timeSteps
        let scales = affine?.scale ?? [Float](repeating: 1, count: channels)
        let shifts = affine?.shift ?? [Float](repeating: 0, count: channels)
        var counts = [Int](repeating: 0, count: channels)
        func run(_ currents: UnsafePointer<Float>, _ spikes: UnsafeMutablePointer<Float>) {
            counts.withUnsafeMutableBufferPointer { counts in
                let spikeCounts = counts.baseAddress!
                Compute.parallelFor(channels, grain: 1) { range in
                    for c in range {
                        spikeCounts[c] = forwardRow(currents + c * row, scale: scales[c], shift: shifts[c], timeSteps: timeSteps,
                                                    block: block, spikes: spikes + c * row)
                    }
                }
            }
        }
        saved = nil
        let s = input.overwritingIfUnique(when: !training, run)
        if training { saved = (input, scales, shifts, timeSteps) }
        recordOutput(spikes: counts.reduce(0, +), of: s.count)
        return s
    }

    /// Sets ``outputInspection`` for an output of `count` values holding `spikes` ones.
    func recordOutput(spikes: Int, of count: Int) {
        guard spikeFunction == .heaviside else {
            outputInspection = nil
            return
        }
        outputInspection = .ofSpikes(spikes, count: count)
    }

    /// One channel's row (T blocks of `block` neurons): spikes for inputs `scale·x + shift`.
    ///
    /// The C kernel takes a chunk of neurons one step at a time, so that many independent
    /// recurrences are in flight; the Swift loop finishes the last few positions.
    /// Returns the number of non-zero outputs (spikes, with the Heaviside function).
    @discardableResult
    func forwardRow(_ x: UnsafePointer<Float>, scale a: Float, shift b: Float, timeSteps: Int, block: Int,
                    spikes: UnsafeMutablePointer<Float>) -> Int {
        let decay = 1 - 1 / tau
        let gain = 1 / tau
        let threshold = self.threshold
        var i = 0
        var fired = 0
        if spikeFunction == .heaviside {
            // H = decay·V + gain·(a·x + b), lane-wise in the same operation order as the scalar
            // tail, so every neuron is computed identically.
            (i, fired) = NeuronKernels.lifForward(
                input: x, scale: a, shift: b, timeSteps: timeSteps, block: block, decay: decay, gain: gain, threshold: threshold,
                spikes: spikes)
        }
        while i < block {
            var v: Float = 0
            for t in 0..<timeSteps {
                let offset = t * block + i
                let h = decay * v + gain * (a * x[offset] + b)
                let s = spike(h)
                spikes[offset] = s
                if s != 0 { fired += 1 }
                v = spikeFunction == .heaviside ? (s != 0 ? 0 : h) : h * (1 - s)
            }
            i += 1
        }
        return fired
    }

    /// dL/dX for dL/dS of the last training forward pass (BPTT over T).
    public func backward(_ ds: Tensor) -> Tensor {
        guard let (x, scales, shifts, timeSteps) = saved else { preconditionFailure("LIF: backward without a training forward pass") }
        saved = nil
        precondition(ds.shape == x.shape, "LIF: gradient shape \(ds.shape) vs \(x.shape)")
        let channels = x.shape[0]
        let row = x.count / channels
        let block = row / timeSteps
        var dx = Tensor(uninitializedShape: x.shape)
        x.withUnsafeBufferPointer { px in
            ds.withUnsafeBufferPointer { pds in
                dx.withUnsafeMutableBufferPointer { pdx in
                    let (input, gs, out) = (px.baseAddress!, pds.baseAddress!, pdx.baseAddress!)
                    Compute.parallelFor(channels, grain: 1) { range in
                        let scratch = BackwardScratch(timeSteps: timeSteps)
                        defer { scratch.deallocate() }
                        for c in range {
                            backwardRow(input: input + c * row, scale: scales[c], shift: shifts[c], spikeGradient: gs + c * row,
                                        timeSteps: timeSteps, block: block, into: out + c * row, scratch: scratch)
                        }
                    }
                }
            }
        }
        return dx
    }

    /// Per-thread scratch of ``backwardRow(input:scale:shift:spikeGradient:timeSteps:block:into:scratch:normalizedBy:)``:
    /// the recomputed H of one group of neurons over T.
    struct BackwardScratch {
        /// For the C kernel.
        let wide: UnsafeMutablePointer<Float>
        let lanes: UnsafeMutablePointer<SIMD8<Float>>
        let scalars: UnsafeMutablePointer<Float>
        /// The C kernel's BatchNorm gradient sums.
        let sums: UnsafeMutablePointer<Double>

        init(timeSteps: Int) {
            wide = .allocate(capacity: NeuronKernels.lifBackwardScratchCount(timeSteps: timeSteps))
            lanes = .allocate(capacity: timeSteps)
            scalars = .allocate(capacity: timeSteps)
            sums = .allocate(capacity: 2)
        }

        func deallocate() {
            wide.deallocate()
            lanes.deallocate()
            scalars.deallocate()
            sums.deallocate()
        }
    }

    /// The BatchNorm statistics of a row whose gradient sums ``backwardRow(input:scale:shift:spikeGradient:timeSteps:block:into:scratch:normalizedBy:)``
    /// takes on the way (Σ dL/dy, Σ dL/dy·x̂ with x̂ = (x − mean)·inverseStd).
    struct Normalization {
        var mean: Float
        var inverseStd: Float
    }

    /// One channel's row of the backward pass: dL/dX from the forward input (`scale·x + shift`)
    /// and dL/dS. H is recomputed exactly as the forward pass computed it.
    ///
    /// - Parameter normalization: when the row's input is a BatchNorm input, also returns the
    ///   BatchNorm gradient sums of the result (``RowKernels/gradientSums(_:_:count:mean:inverseStd:)``'s
    ///   quantities, summed in another order), taken while the row is in cache; otherwise (0, 0).
    @discardableResult
    func backwardRow(input x: UnsafePointer<Float>, scale a: Float, shift b: Float, spikeGradient g: UnsafePointer<Float>,
                     timeSteps: Int, block: Int, into out: UnsafeMutablePointer<Float>, scratch: BackwardScratch,
                     normalizedBy normalization: Normalization? = nil) -> (Double, Double) {
        let decay = 1 - 1 / tau
        let gain = 1 / tau
        let threshold = self.threshold
        var i = 0
        var summedByKernel = 0  // positions of each time step whose BatchNorm sums the C kernel took
        scratch.sums.update(repeating: 0, count: 2)
        if spikeFunction == .heaviside && detachReset {
            // Multiples of 16 in C (AVX-512 where the CPU has it), then 8 here, then one at a time:
            // the same operations in the same order, so the split does not change any value.
            i = NeuronKernels.lifBackward(
                input: x, scale: a, shift: b, spikeGradient: g, timeSteps: timeSteps, block: block, decay: decay, gain: gain,
                threshold: threshold, alpha: alpha, into: out, scratch: scratch.wide, mean: normalization?.mean ?? 0,
                inverseStd: normalization?.inverseStd ?? 0, sums: normalization == nil ? nil : scratch.sums)
            summedByKernel = i
            let hs = scratch.lanes
            while i + 8 <= block {
                var v = SIMD8<Float>()
                for t in 0..<timeSteps {
                    let h = decay * v + gain * (a * HeadKernels.load(x + t * block + i) + b)
                    hs[t] = h
                    v = h.replacing(with: 0, where: h .>= threshold)
                }
                var gv = SIMD8<Float>()
                var t = timeSteps
                while t > 0 {  // not `stride(from:through:by:)`, whose iterator is not inlined here
                    t -= 1
                    let offset = t * block + i
                    let gh = RowKernels.lifGradient(membrane: hs[t], spikeGradient: HeadKernels.load(g + offset),
                                                    carried: gv, threshold: threshold, alpha: alpha)
                    HeadKernels.store(gh * gain, out + offset)
                    gv = gh * decay
                }
                i += 8
            }
        }
        let hs = scratch.scalars
        while i < block {
            var v: Float = 0
            for t in 0..<timeSteps {
                let h = decay * v + gain * (a * x[t * block + i] + b)
                hs[t] = h
                let s = spike(h)
                v = spikeFunction == .heaviside ? (s != 0 ? 0 : h) : h * (1 - s)
            }
            var gv: Float = 0
            var t = timeSteps
            while t > 0 {
                t -= 1
                let offset = t * block + i
                let hv = hs[t]
                let gh: Float
                if spikeFunction == .heaviside && detachReset {
                    let xm = hv - threshold
                    let keep: Float = xm >= 0 ? 0 : 1
                    gh = g[offset] * RowKernels.sigmoidSurrogate(xm, alpha: alpha) + gv * keep
                } else {
                    let sv = spike(hv)
                    let sg = surrogate(hv)
                    var value = g[offset] * sg + gv * (1 - sv)
                    if !detachReset { value -= gv * hv * sg }
                    gh = value
                }
                out[offset] = gh * gain
                gv = gh * decay
            }
            i += 1
        }
        guard let normalization else { return (0, 0) }
        // The positions the C kernel left, summed here.
        var (sumG, sumGX) = (scratch.sums[0], scratch.sums[1])
        for t in 0..<timeSteps {
            for p in (t * block + summedByKernel)..<((t + 1) * block) {
                sumG += Double(out[p])
                sumGX += Double(out[p] * ((x[p] - normalization.mean) * normalization.inverseStd))
            }
        }
        return (sumG, sumGX)
    }
}

extension LIFNeuron: Module {}
