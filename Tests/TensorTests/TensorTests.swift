import Seeding
import Tensor
import TestSupport
import Testing

struct TensorTests {
    @Test func copyOnWriteKeepsValuesIndependent() {
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        var b = a
        b[flat: 0] = 10
        #expect(a[flat: 0] == 1)
        #expect(b[flat: 0] == 10)
        #expect(a.reshaped([3, 2]).shape == [3, 2])
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func gemmMatchesNaiveProduct(transposeA: Bool, transposeB: Bool) {
        var rng = SeededGenerator(seed: 7)
        let (m, n, k) = (5, 7, 9)
        let a = Tensor(shape: transposeA ? [k, m] : [m, k], scalars: (0..<(m * k)).map { _ in rng.nextGaussian() })
        let b = Tensor(shape: transposeB ? [n, k] : [k, n], scalars: (0..<(k * n)).map { _ in rng.nextGaussian() })
        let c = BLAS.matmul(a, b, transposeA: transposeA, transposeB: transposeB)
        for i in 0..<m {
            for j in 0..<n {
                var expected: Float = 0
                for p in 0..<k {
                    let x = transposeA ? a[flat: p * m + i] : a[flat: i * k + p]
                    let y = transposeB ? b[flat: j * k + p] : b[flat: p * n + j]
                    expected += x * y
                }
                #expect(isClose(c[flat: i * n + j], expected, relative: 1e-5, absolute: 1e-5))
            }
        }
    }

    /// Products with many columns and short sums (the register-tiled kernel on AVX-512): rows not
    /// a multiple of 8, columns ending in a partial strip and a partial vector, padded leading
    /// dimensions whose padding must stay untouched, sums started from C (`beta` 1) or from 0, and a
    /// product large enough to be split over the threads.
    @Test(arguments: [false, true], [Float(0), 1])
    func wideProductsMatchDoubleSums(transposeA: Bool, beta: Float) {
        var rng = SeededGenerator(seed: 11)
        for (m, n, k) in [(13, 1_000, 70), (8, 48, 1), (1, 50, 256), (64, 4_096, 256), (3, 47, 5)] {
            let (lda, ldb, ldc) = ((transposeA ? m : k) + 3, n + 5, n + 7)
            let a = (0..<((transposeA ? k : m) * lda)).map { _ in rng.nextGaussian() }
            let b = (0..<(k * ldb)).map { _ in rng.nextGaussian() }
            let start = (0..<(m * ldc)).map { _ in rng.nextGaussian() }
            var c = start
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    c.withUnsafeMutableBufferPointer { pc in
                        BLAS.gemm(transposeA: transposeA, m: m, n: n, k: k, a: pa.baseAddress!, lda: lda, b: pb.baseAddress!,
                                  ldb: ldb, beta: beta, c: pc.baseAddress!, ldc: ldc)
                    }
                }
            }
            for i in 0..<m {
                for j in 0..<ldc {
                    let index = i * ldc + j
                    guard j < n else {
                        #expect(c[index] == start[index], "padding of C changed at row \(i), column \(j)")
                        continue
                    }
                    var sum = beta == 1 ? Double(start[index]) : 0
                    var magnitude = abs(sum)
                    for o in 0..<k {
                        let term = Double(transposeA ? a[o * lda + i] : a[i * lda + o]) * Double(b[o * ldb + j])
                        sum += term
                        magnitude += abs(term)
                    }
                    #expect(abs(Double(c[index]) - sum) <= 1e-6 * magnitude + 1e-12, "\(m)×\(n)×\(k) at (\(i), \(j))")
                }
            }
        }
    }

    @Test func threadPoolRunsEveryPartOnceAndNestsWithoutDeadlock() {
        let pool = ThreadPool(threadCount: 3)
        var hits = [Int](repeating: 0, count: 3)
        var nested = [Int](repeating: 0, count: 9)
        hits.withUnsafeMutableBufferPointer { h in
            nested.withUnsafeMutableBufferPointer { inner in
                let hp = h.baseAddress!
                let ip = inner.baseAddress!
                pool.run { part in
                    hp[part] += 1
                    pool.run { innerPart in ip[part * 3 + innerPart] += 1 }
                }
            }
        }
        #expect(hits == [1, 1, 1])
        #expect(nested == [Int](repeating: 1, count: 9))
        pool.shutdown()
    }

    @Test func partitionCoversTheRangeExactly() {
        for count in [0, 1, 5, 17, 100] {
            for parts in 1...4 {
                let ranges = (0..<parts).map { ThreadPool.partition(count, part: $0, parts: parts) }
                #expect(ranges.map(\.count).reduce(0, +) == count)
                for i in 1..<parts { #expect(ranges[i].lowerBound == ranges[i - 1].upperBound) }
            }
        }
    }

    @Test func reductionsAreCorrectAndRepeatable() {
        var rng = SeededGenerator(seed: 3)
        let values = (0..<300_001).map { _ in rng.nextGaussian() }
        let t = Tensor(shape: [values.count], scalars: values)
        let expected = values.reduce(0.0) { $0 + Double($1) }
        let first = t.sum()
        #expect(abs(first - expected) < 1e-6 * Double(values.count))
        for _ in 0..<5 { #expect(t.sum() == first) }
        #expect(t.nonZeroCount() == values.filter { $0 != 0 }.count)
        #expect(isClose(t.sumOfSquares(), values.reduce(0.0) { $0 + Double($1) * Double($1) }, relative: 1e-9))
    }

    @Test func elementwiseKernelsOnLargeTensors() {
        let n = 200_003
        var a = Tensor(shape: [n], repeating: 1)
        let b = Tensor(shape: [n], scalars: (0..<n).map { Float($0 % 7) })
        a.add(b, scaledBy: 2)
        a.scale(by: 0.5)
        for i in stride(from: 0, to: n, by: 9973) { #expect(a[flat: i] == 0.5 + Float(i % 7)) }
        a.fill(3)
        #expect(a.sum() == 3 * Double(n))
    }
}
