/// The small dense products of spiking self-attention, for one frame and head: `d` channel rows of
/// `n` tokens each (d = head dimension, n = tokens; 16 × 64 in both shipped configurations).
///
/// Products this small lose to OpenBLAS's call and packing overhead, and as plain scalar loops the
/// dot products do not vectorise (Float addition is not reassociated). These kernels accumulate
/// in vector registers explicitly. The summation order is fixed, so results are deterministic; for
/// binary spike operands every partial sum is an exact integer and the order does not matter.
/// The third product, a d × d matrix times the d rows, is `EventKernels.combineRows` in C, which
/// runs 16 lanes wide under AVX-512 where this Swift code (built for AVX2) runs 8.
enum HeadKernels {
    /// `out[i·d + j] = scale · Σ_t a_i[t]·b_j[t]` for rows `a_i = a + i·stride`, `b_j = b + j·stride`.
    ///
    /// Computed as rows of outer products: `b` is transposed into `scratch` (`n·d` values) so that
    /// row i of the result is Σ_t a_i[t]·bᵀ[t, :], a sum of d-wide vectors, skipping the tokens
    /// where a_i is 0 (a is a spike tensor: Q or K, mostly zeros). Terms are added in token order.
    static func products(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, stride: Int, rows d: Int, length n: Int, scale: Float,
        scratch bt: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>
    ) {
        for j in 0..<d {
            let bj = b + j * stride
            for t in 0..<n { bt[t * d + j] = bj[t] }
        }
        if d == 16 {
            for i in 0..<d {
                let ai = a + i * stride
                var total = SIMD16<Float>()
                for t in 0..<n where ai[t] != 0 {
                    total += ai[t] * UnsafeRawPointer(bt + t * 16).loadUnaligned(as: SIMD16<Float>.self)
                }
                UnsafeMutableRawPointer(out + i * 16).storeBytes(of: scale * total, as: SIMD16<Float>.self)
            }
            return
        }
        for i in 0..<d {
            let ai = a + i * stride
            let oi = out + i * d
            oi.update(repeating: 0, count: d)
            for t in 0..<n where ai[t] != 0 {
                let x = ai[t]
                let row = bt + t * d
                for j in 0..<d { oi[j] += x * row[j] }
            }
            for j in 0..<d { oi[j] *= scale }
        }
    }

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
