import CKernels

/// Spiking patch splitting's max pooling in C (`CKernels`), one variant per instruction set like
/// the event kernels: AVX-512 takes 16 outputs per step where the Swift code (built for AVX2) took 8.
public enum PoolingKernels {
    /// 3×3 / stride 2 / padding 1 max pooling of one `height × width` plane into `out`, with the
    /// plane index of each output's first maximum (row-major window order) in `arguments` when
    /// given; see `CKernels_maxPool3x3`. `rowMax` and `rowArg`: ``scratchCount(height:width:)`` each.
    @inline(__always)
    public static func maxPool3x3(
        _ plane: UnsafePointer<Float>, height: Int, width: Int, into out: UnsafeMutablePointer<Float>,
        arguments: UnsafeMutablePointer<Int32>?, rowMax: UnsafeMutablePointer<Float>, rowArg: UnsafeMutablePointer<Int32>
    ) {
        CKernels_maxPool3x3(plane, Int64(height), Int64(width), out, arguments, rowMax, rowArg)
    }

    /// Elements of each scratch buffer of ``maxPool3x3(_:height:width:into:arguments:rowMax:rowArg:)``.
    public static func scratchCount(height: Int, width: Int) -> Int { height * ((width - 1) / 2 + 1) }
}
