/// Measures this machine's single-precision GEMM throughput with the current thread count.
extension BLAS {
    /// Median GFLOP/s of `repetitions` products `[m, k]·[k, n]` (2·m·n·k FLOPs each), after one warm-up.
    public static func measureGFLOPS(m: Int = 1024, n: Int = 1024, k: Int = 1024, repetitions: Int = 7) -> Double {
        var a = Tensor(uninitializedShape: [m, k])
        var b = Tensor(uninitializedShape: [k, n])
        a.fill(0.5)
        b.fill(0.25)
        var c = Tensor(shape: [m, n])
        let clock = ContinuousClock()
        var rates: [Double] = []
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    for repetition in 0...repetitions {
                        let start = clock.now
                        gemm(m: m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n, c: pc.baseAddress!, ldc: n)
                        let (seconds, attoseconds) = (clock.now - start).components
                        let elapsed = Double(seconds) + Double(attoseconds) * 1e-18
                        if repetition > 0 { rates.append(2 * Double(m) * Double(n) * Double(k) / elapsed / 1e9) }
                    }
                }
            }
        }
        rates.sort()
        return rates[rates.count / 2]
    }
}
