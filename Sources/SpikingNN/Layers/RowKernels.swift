/// Vectorised row reductions and the fast surrogate, shared by BatchNorm and LIF.
///
/// Sums run in 8-lane Float blocks of at most 2048 elements whose totals are added in Double:
/// about as accurate as a Double loop and several times faster, since a single Double
/// accumulator serialises on add latency. The order is fixed, so results are deterministic.
package enum RowKernels {
    static let block = 2048

    /// Σ x[i] (``sums(_:_:count:)`` of the row with itself: one loop for both, the same bits).
    static func sum(_ x: UnsafePointer<Float>, count: Int) -> Double {
        sums(x, x, count: count).0
    }

    /// ``sum(_:count:)`` of two rows at once: each row's sum in the same order (the same bits),
    /// with two dependency chains in flight instead of one, which is what bounds a row in cache.
    static func sums(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> (Double, Double) {
        var (totalA, totalB) = (0.0, 0.0)
        var start = 0
        while start < count {
            let end = min(count, start + block)
            var (lanesA, lanesB) = (SIMD8<Float>(), SIMD8<Float>())
            var i = start
            while i + 8 <= end {
                lanesA += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
                lanesB += UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
                i += 8
            }
            var (tailA, tailB): (Float, Float) = (0, 0)
            while i < end {
                tailA += a[i]
                tailB += b[i]
                i += 1
            }
            totalA += Double(lanesA.sum()) + Double(tailA)
            totalB += Double(lanesB.sum()) + Double(tailB)
            start = end
        }
        return (totalA, totalB)
    }

    /// ``sumOfSquaredDeviations(_:count:mean:)`` of two rows at once (the same bits per row).
    static func sumsOfSquaredDeviations(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int, means: (Float, Float))
        -> (Double, Double) {
        var (totalA, totalB) = (0.0, 0.0)
        var start = 0
        let (ma, mb) = (SIMD8<Float>(repeating: means.0), SIMD8<Float>(repeating: means.1))
        while start < count {
            let end = min(count, start + block)
            var (lanesA, lanesB) = (SIMD8<Float>(), SIMD8<Float>())
            var i = start
            while i + 8 <= end {
                let da = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self) - ma
                let db = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self) - mb
                lanesA += da * da
                lanesB += db * db
                i += 8
            }
            var (tailA, tailB): (Float, Float) = (0, 0)
            while i < end {
                let da = a[i] - means.0
                let db = b[i] - means.1
                tailA += da * da
                tailB += db * db
                i += 1
            }
            totalA += Double(lanesA.sum()) + Double(tailA)
            totalB += Double(lanesB.sum()) + Double(tailB)
            start = end
        }
        return (totalA, totalB)
    }

    /// Σ (x[i] − mean)² (the paired loop with the row itself, the same bits).
    static func sumOfSquaredDeviations(_ x: UnsafePointer<Float>, count: Int, mean: Float) -> Double {
        sumsOfSquaredDeviations(x, x, count: count, means: (mean, mean)).0
    }

    /// (Σ g[i], Σ g[i]·(x[i] − mean)·inverseStd): BatchNorm's gradient sums of one row, in float
    /// lanes over a block and in double across blocks.
    package static func gradientSums(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count: Int, mean: Float,
                                     inverseStd: Float) -> (Double, Double) {
        var (sumG, sumGX) = (0.0, 0.0)
        var start = 0
        let (m8, s8) = (SIMD8<Float>(repeating: mean), SIMD8<Float>(repeating: inverseStd))
        while start < count {
            let end = min(count, start + block)
            var (lanesG, lanesGX) = (SIMD8<Float>(), SIMD8<Float>())
            var i = start
            while i + 8 <= end {
                let gi = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
                let xi = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
                lanesG += gi
                lanesGX += gi * ((xi - m8) * s8)
                i += 8
            }
            var (tailG, tailGX): (Float, Float) = (0, 0)
            while i < end {
                tailG += g[i]
                tailGX += g[i] * ((x[i] - mean) * inverseStd)
                i += 1
            }
            sumG += Double(lanesG.sum()) + Double(tailG)
            sumGX += Double(lanesGX.sum()) + Double(tailGX)
            start = end
        }
        return (sumG, sumGX)
    }

    /// e^x for x ≤ 0 (the surrogate only needs e^(−α|x|)), relative error below 3·10⁻⁷.
    ///
    /// x = n·ln2 + r with n = round(x/ln2) found by the 1.5·2²³ rounding trick and |r| ≤ ln2/2;
    /// e^r by a degree-6 Taylor polynomial; 2ⁿ built from the exponent bits. No float→int
    /// conversion (which Swift checks for overflow), so the loops calling it vectorise.
    @inline(__always)
    static func expNonPositive(_ x: Float) -> Float {
        let clamped = max(x, -87)
        let magic: Float = 12_582_912  // 1.5·2²³
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        let r = clamped - n * 0.693_147_18
        var p: Float = 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let k = shifted.bitPattern &- magic.bitPattern  // n in two's complement
        return p * Float(bitPattern: (k &+ 127) &<< 23)
    }

    /// The sigmoid surrogate α·σ(αx)·(1 − σ(αx)) = α·e/(1 + e)² with e = e^(−α|x|) (symmetric in x).
    @inline(__always)
    static func sigmoidSurrogate(_ x: Float, alpha: Float) -> Float {
        let e = expNonPositive(-alpha * abs(x))
        let d = 1 + e
        return alpha * e / (d * d)
    }

    /// `expNonPositive` on 8 lanes, operation for operation (so lanes equal the scalar result).
    @inline(__always)
    static func expNonPositive(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let clamped = x.replacing(with: -87, where: x .< -87)
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        let r = clamped - n * 0.693_147_18
        var p = SIMD8<Float>(repeating: 1.0 / 720)
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let k = unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- magic[0].bitPattern
        return p * unsafeBitCast((k &+ 127) &<< 23, to: SIMD8<Float>.self)
    }

    /// dL/dH of one time step for 8 neurons, Heaviside spike with detached reset:
    /// gh = g·sg(H) + gV·[H < V_th], lane-wise in the scalar path's operation order.
    @inline(__always)
    static func lifGradient(membrane h: SIMD8<Float>, spikeGradient g: SIMD8<Float>, carried gv: SIMD8<Float>,
                            threshold: Float, alpha: Float) -> SIMD8<Float> {
        let x = h - threshold
        let magnitude = unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
        let e = expNonPositive(-alpha * magnitude)
        let d = 1 + e
        let surrogate = alpha * e / (d * d)
        let keep = SIMD8<Float>(repeating: 1).replacing(with: 0, where: x .>= 0)
        return g * surrogate + gv * keep
    }
}
