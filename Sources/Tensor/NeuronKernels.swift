import CKernels

/// The spiking neurons' row kernels in C (`CKernels`), one variant per instruction set like the
/// event kernels: the LIF backward pass is a tenth of a training step and the forward pass a sixth
/// of an inference, and AVX-512 runs them 16 lanes wide where the Swift code (built for AVX2) runs 8.
public enum NeuronKernels {
    /// Neurons of a row the kernels take through T together (`CKERNELS_LIF_CHUNK`).
    public static let chunk = Int(CKERNELS_LIF_CHUNK)

    /// The LIF forward pass (Heaviside spike, hard reset) over positions `[0, returned)` of one
    /// channel's row, a multiple of 16, and the number of spikes it wrote; see `CKernels_lifForward`.
    /// The caller computes the remaining positions the same way.
    @inline(__always)
    public static func lifForward(
        input x: UnsafePointer<Float>, scale a: Float, shift b: Float, timeSteps: Int, block: Int, decay: Float, gain: Float,
        threshold: Float, spikes: UnsafeMutablePointer<Float>
    ) -> (positions: Int, spikes: Int) {
        var count: Int64 = 0
        let positions = CKernels_lifForward(x, a, b, Int64(timeSteps), Int64(block), decay, gain, threshold, spikes, &count)
        return (Int(positions), Int(count))
    }

    /// The LIF backward pass (Heaviside spike, detached reset, sigmoid surrogate with `alpha`) over
    /// positions `[0, returned)` of one channel's row, a multiple of 16; see `CKernels_lifBackward`.
    /// The caller computes the remaining positions the same way.
    ///
    /// - Parameters:
    ///   - scratch: ``lifBackwardScratchCount(timeSteps:)`` floats.
    ///   - sums: when given, BatchNorm's gradient sums of those positions are added to it in the
    ///     same pass: `sums[0] += Σ out`, `sums[1] += Σ out·(x − mean)·inverseStd`.
    @inline(__always)
    public static func lifBackward(
        input x: UnsafePointer<Float>, scale a: Float, shift b: Float, spikeGradient g: UnsafePointer<Float>, timeSteps: Int, block: Int,
        decay: Float, gain: Float, threshold: Float, alpha: Float, into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        mean: Float = 0, inverseStd: Float = 0, sums: UnsafeMutablePointer<Double>? = nil
    ) -> Int {
        Int(CKernels_lifBackward(x, a, b, g, Int64(timeSteps), Int64(block), decay, gain, threshold, alpha, mean, inverseStd, sums,
                                 out, scratch))
    }

    /// Floats of scratch ``lifBackward(input:scale:shift:spikeGradient:timeSteps:block:decay:gain:threshold:alpha:into:scratch:mean:inverseStd:sums:)``
    /// needs: the membrane potentials of one chunk of neurons over T, and their carried state.
    public static func lifBackwardScratchCount(timeSteps: Int) -> Int {
        chunk * (timeSteps + 1)
    }
}
