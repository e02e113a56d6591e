/// Element-wise kernels, parallel over fixed ranges of the flat index.
extension Tensor {
    /// `self += other`, element-wise.
    public mutating func add(_ other: Tensor) {
        precondition(count == other.count, "add: \(shape) vs \(other.shape)")
        let count = self.count
        other.withUnsafeBufferPointer { source in
            withUnsafeMutableBufferPointer { target in
                let s = source.baseAddress!
                let t = target.baseAddress!
                Compute.parallelFor(count, grain: 32_768) { range in
                    for i in range { t[i] += s[i] }
                }
            }
        }
    }

    /// `self += scale · other`, element-wise.
    public mutating func add(_ other: Tensor, scaledBy scale: Float) {
        precondition(count == other.count, "add: \(shape) vs \(other.shape)")
        let count = self.count
        other.withUnsafeBufferPointer { source in
            withUnsafeMutableBufferPointer { target in
                let s = source.baseAddress!
                let t = target.baseAddress!
                Compute.parallelFor(count, grain: 32_768) { range in
                    for i in range { t[i] += scale * s[i] }
                }
            }
        }
    }

    /// `self *= scale`, element-wise.
    public mutating func scale(by scale: Float) {
        let count = self.count
        withUnsafeMutableBufferPointer { target in
            let t = target.baseAddress!
            Compute.parallelFor(count, grain: 32_768) { range in
                for i in range { t[i] *= scale }
            }
        }
    }

    /// Sets every element to `value`.
    public mutating func fill(_ value: Float) {
        let count = self.count
        withUnsafeMutableBufferPointer { target in
            let t = target.baseAddress!
            Compute.parallelFor(count, grain: 65_536) { range in
                (t + range.lowerBound).update(repeating: value, count: range.count)
            }
        }
    }

    /// `a + b`, element-wise, into a new tensor (one pass; neither operand is copied first).
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        precondition(a.count == b.count, "+: \(a.shape) vs \(b.shape)")
        var result = Tensor(uninitializedShape: a.shape)
        let count = a.count
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                result.withUnsafeMutableBufferPointer { pr in
                    let (x, y, z) = (pa.baseAddress!, pb.baseAddress!, pr.baseAddress!)
                    Compute.parallelFor(count, grain: 32_768) { range in
                        for i in range { z[i] = x[i] + y[i] }
                    }
                }
            }
        }
        return result
    }

    /// Sum of all elements, accumulated in Double over fixed per-thread ranges (deterministic for
    /// a given thread count).
    public func sum() -> Double {
        withUnsafeBufferPointer { source in
            let s = source.baseAddress!
            return Compute.parallelSum(count, grain: 32_768) { range in
                var total = 0.0
                for i in range { total += Double(s[i]) }
                return total
            }
        }
    }

    /// Sum of squares of all elements (Double accumulation, deterministic for a given thread count).
    public func sumOfSquares() -> Double {
        withUnsafeBufferPointer { source in
            let s = source.baseAddress!
            return Compute.parallelSum(count, grain: 32_768) { range in
                var total = 0.0
                for i in range { total += Double(s[i]) * Double(s[i]) }
                return total
            }
        }
    }

    /// Number of non-zero elements.
    public func nonZeroCount() -> Int {
        withUnsafeBufferPointer { source in
            let s = source.baseAddress!
            return Int(Compute.parallelSum(count, grain: 65_536) { range in
                var n = 0
                for i in range where s[i] != 0 { n += 1 }
                return Double(n)
            })
        }
    }

    /// Largest absolute element (0 for an empty tensor).
    public func maxAbs() -> Float {
        withUnsafeBufferPointer { source in
            var best: Float = 0
            for value in source { best = max(best, abs(value)) }
            return best
        }
    }
}

extension Compute {
    /// Sums `partial(range)` over fixed ranges of `0..<count`, combining the partial results in
    /// part order, so the result depends only on the thread count.
    public static func parallelSum(_ count: Int, grain: Int = 4096, _ partial: (Range<Int>) -> Double) -> Double {
        guard count > 0 else { return 0 }
        let pool = self.pool
        let parts = min(pool.threadCount, max(1, count / max(grain, 1)))
        if parts == 1 { return partial(0..<count) }
        var results = [Double](repeating: 0, count: parts)
        results.withUnsafeMutableBufferPointer { out in
            let o = out.baseAddress!
            pool.run { part in
                guard part < parts else { return }
                o[part] = partial(ThreadPool.partition(count, part: part, parts: parts))
            }
        }
        return results.reduce(0, +)
    }
}
