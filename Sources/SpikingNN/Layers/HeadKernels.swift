/// Small helpers of the engine's Swift loops: the scaled transpose of an attention head's d × d
/// matrix, and unaligned SIMD8 loads and stores. Spiking self-attention's products themselves are
/// C kernels (`EventKernels.attentionProducts`, `EventKernels.combineRows`), 16 lanes wide under
/// AVX-512 where Swift code (built for AVX2) runs 8, with a fixed summation order.
enum HeadKernels {
    /// `out[o·d + i] = scale · m[i·d + o]` (the scaled transpose of a d × d matrix).
    @inline(__always)
    static func transpose(_ m: UnsafePointer<Float>, rows d: Int, scale: Float, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<d {
            for o in 0..<d { out[o * d + i] = scale * m[i * d + o] }
        }
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }
}
