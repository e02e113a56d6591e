import CKernels
import COpenBLAS

/// Single-precision GEMM: `C = alpha·op(A)·op(B) + beta·C`, row-major.
///
/// Products whose B has many columns and whose sums are short (token linears, im2col
/// convolutions) run the register-tiled ``CKernels_wideProduct`` where the CPU has AVX-512; the
/// rest go to OpenBLAS.
///
/// This is the only place that calls into BLAS. OpenBLAS itself runs single-threaded: large
/// products are split into ``Compute/threadCount`` fixed column (or row) blocks that the compute
/// pool's threads multiply concurrently. So only one set of threads exists (OpenBLAS's own
/// threads would spin in `sched_yield` between calls, stealing the cores from the element-wise
/// kernels), and results are deterministic for a given thread count.
public enum BLAS {
    /// - Parameters:
    ///   - transposeA: use Aᵀ; A is then stored `k × m` with leading dimension `lda`.
    ///   - transposeB: use Bᵀ; B is then stored `n × k` with leading dimension `ldb`.
    ///   - m, n, k: `op(A)` is `m × k`, `op(B)` is `k × n`, `C` is `m × n`.
    ///   - threaded: split large products over the compute pool; pass false from inside a pool
    ///     loop, where each thread already multiplies its own block.
    public static func gemm(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        threaded: Bool = true
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "negative GEMM size \(m)×\(n)×\(k)")
        precondition(lda >= max(1, transposeA ? m : k), "lda \(lda) too small")
        precondition(ldb >= max(1, transposeB ? k : n), "ldb \(ldb) too small")
        precondition(ldc >= max(1, n), "ldc \(ldc) too small")
        guard m > 0 && n > 0 else { return }
        if !transposeB && alpha == 1 && (beta == 0 || beta == 1) && usesWideProduct(n: n, k: k) {
            wideProduct(transposeA: transposeA, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, add: beta == 1,
                        c: c, ldc: ldc, threaded: threaded)
            return
        }
        let parts = Compute.partCount(max(m, n), grain: 32)
        if threaded && parts > 1 && Double(m) * Double(n) * Double(k) >= 2e6 {
            let a = UnsafeMutablePointer(mutating: a)
            let b = UnsafeMutablePointer(mutating: b)
            if n >= m {
                // Column blocks: C[:, j0..<j1] = op(A) · op(B)[:, j0..<j1].
                Compute.parallelParts(n, grain: 32) { _, columns in
                    let bBlock = transposeB ? b + columns.lowerBound * ldb : b + columns.lowerBound
                    multiply(transposeA, transposeB, m, columns.count, k, alpha, a, lda, bBlock, ldb, beta, c + columns.lowerBound, ldc)
                }
            } else {
                // Row blocks: C[i0..<i1, :] = op(A)[i0..<i1, :] · op(B).
                Compute.parallelParts(m, grain: 32) { _, rows in
                    let aBlock = transposeA ? a + rows.lowerBound : a + rows.lowerBound * lda
                    multiply(transposeA, transposeB, rows.count, n, k, alpha, aBlock, lda, b, ldb, beta, c + rows.lowerBound * ldc, ldc)
                }
            }
            return
        }
        multiply(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    /// Whether a product `op(A)·B` (B not transposed, `k × n`) runs ``CKernels_wideProduct``
    /// rather than OpenBLAS: where the CPU has AVX-512, for B of at least one 48-column strip and
    /// sums of at most 256 terms.
    public static func usesWideProduct(n: Int, k: Int) -> Bool {
        n >= 48 && k <= 256 && CKernels_hasWideProduct() != 0
    }

    /// `C (+)= op(A)·B` for a B of many columns and a short sum (k ≤ 256), by
    /// ``CKernels_wideProduct``. In the tiny model's training step (AMD Zen 5, 2 threads,
    /// 2026-12-06) the token-linear input gradients take 165–174 instead of 190–212 ms per 40
    /// steps (`fc2`'s, m = 256, k = 64, n = 8192: 0.65 instead of 0.95 ms), the paper model's the
    /// same or less; at k = 1024 (the paper model's `fc1`) OpenBLAS's blocking was 5–10 % faster,
    /// so longer sums stay there.
    /// Parts take whole 48-column strips of the kernel.
    private static func wideProduct(
        transposeA: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        add: Bool, c: UnsafeMutablePointer<Float>, ldc: Int, threaded: Bool
    ) {
        let strips = (n + 47) / 48
        let grain = threaded && Double(m) * Double(n) * Double(k) >= 2e6 ? 1 : strips
        let (a, b) = (UnsafeMutablePointer(mutating: a), UnsafeMutablePointer(mutating: b))
        Compute.parallelFor(strips, grain: grain) { range in
            CKernels_wideProduct(
                transposeA ? 1 : 0, a, Int64(lda), Int64(m), Int64(k), b, Int64(ldb), c, Int64(ldc),
                Int64(range.lowerBound * 48), Int64(min(range.upperBound * 48, n)), add ? 1 : 0)
        }
    }

    @inline(__always)
    private static func multiply(
        _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
        _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Matrix product of two rank-2 tensors, `op(a)·op(b)`.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.shape.count == 2 && b.shape.count == 2, "matmul needs rank-2 tensors, got \(a.shape) and \(b.shape)")
        let m = transposeA ? a.shape[1] : a.shape[0]
        let k = transposeA ? a.shape[0] : a.shape[1]
        let kb = transposeB ? b.shape[1] : b.shape[0]
        let n = transposeB ? b.shape[0] : b.shape[1]
        precondition(k == kb, "matmul inner dimensions differ: \(a.shape) and \(b.shape)")
        var c = Tensor(shape: [m, n])
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    gemm(
                        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                        a: pa.baseAddress!, lda: a.shape[1], b: pb.baseAddress!, ldb: b.shape[1],
                        c: pc.baseAddress!, ldc: n)
                }
            }
        }
        return c
    }
}
