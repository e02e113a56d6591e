import CKernels

/// Dense 3×3 convolution kernels that sum in registers instead of going through im2col and GEMM.
///
/// Im2col writes nine shifted copies of the input for the GEMM to read back (and col2im scatters
/// nine rows per channel back for the input gradient); with few input channels that traffic, not
/// the multiplications, is the cost. The direct kernel reads each input plane nine times, shifted,
/// from a copy between zero rows that stays in cache.
public enum ConvolutionKernels {
    /// Whether the direct kernel runs at full width here: 16 output channels of 16 positions in
    /// AVX-512 registers. The narrower variants compute the same bits but keep fewer channels in
    /// registers, and the crossovers were measured on AVX-512 only, so elsewhere layers keep GEMM.
    /// The start-up variant decides (`CKernels_startupISA`), not one a comparison switches to.
    public static var isFast: Bool { CKernels_startupISA() == CKernels_ISA_avx512 }

    /// `y = scale·conv(x, W)` (3×3, stride 1, padding 1), channel-major `[C, F, H, W]`, for the
    /// frames `frameRange` on the calling thread (callers split by frames). Each sum runs over
    /// input channels, then taps in row-major order.
    ///
    /// - Parameters:
    ///   - transposedWeight: `[inChannels·9, outChannels]` (row `c·9 + ky·3 + kx`).
    ///   - y: `[outChannels, frames, height, width]`; the positions of `frameRange` are overwritten.
    public static func direct3x3(
        _ x: UnsafePointer<Float>, inChannels: Int, frames: Int, height: Int, width: Int, frameRange: Range<Int>,
        transposedWeight: UnsafePointer<Float>, outChannels: Int, scale: Float, into y: UnsafeMutablePointer<Float>
    ) {
        guard !frameRange.isEmpty else { return }
        let scratchCount = Int(CKernels_directConv3x3Scratch(Int64(inChannels), Int64(height), Int64(width)))
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
        defer { scratch.deallocate() }
        CKernels_directConv3x3(
            x, Int64(inChannels), Int64(frames), Int64(height), Int64(width), Int64(frameRange.lowerBound),
            Int64(frameRange.upperBound), transposedWeight, Int64(outChannels), scale, y, scratch)
    }

    /// Whether ``winograd3x3(_:inChannels:frames:height:width:frameRange:transposedWeight:outChannels:scale:into:)``
    /// can run here (AVX-512).
    public static var hasWinograd: Bool { CKernels_hasWideProduct() != 0 }

    /// ``direct3x3(_:inChannels:frames:height:width:frameRange:transposedWeight:outChannels:scale:into:)``'s
    /// product by Winograd's F(2×2, 3×3): 2.25× fewer multiplications, the same result within
    /// float rounding (the sums are regrouped). Only where ``hasWinograd``.
    public static func winograd3x3(
        _ x: UnsafePointer<Float>, inChannels: Int, frames: Int, height: Int, width: Int, frameRange: Range<Int>,
        transposedWeight: UnsafePointer<Float>, outChannels: Int, scale: Float, into y: UnsafeMutablePointer<Float>
    ) {
        precondition(hasWinograd, "the Winograd kernel needs AVX-512")
        guard !frameRange.isEmpty else { return }
        CKernels_winogradConv3x3(
            x, Int64(inChannels), Int64(frames), Int64(height), Int64(width), Int64(frameRange.lowerBound),
            Int64(frameRange.upperBound), transposedWeight, Int64(outChannels), scale, y)
    }
}
