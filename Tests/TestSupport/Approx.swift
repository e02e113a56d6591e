/// Approximate comparison for floating-point results (BLAS, reductions, finite differences).
///
/// `a ≈ b` when `|a - b| <= absolute + relative * max(|a|, |b|)`. Like swift-numerics'
/// `isApproximatelyEqual`, this is reflexive and symmetric but not transitive.
public func isClose<T: BinaryFloatingPoint>(
    _ a: T, _ b: T, relative: T = 1e-4, absolute: T = 1e-6
) -> Bool {
    if a == b { return true }
    guard a.isFinite, b.isFinite else { return false }
    return abs(a - b) <= absolute + relative * max(abs(a), abs(b))
}

/// Element-wise `isClose` over two equal-length sequences; returns the first mismatch for messages.
public func firstMismatch<T: BinaryFloatingPoint>(
    _ a: [T], _ b: [T], relative: T = 1e-4, absolute: T = 1e-6
) -> (index: Int, lhs: T, rhs: T)? {
    precondition(a.count == b.count, "length mismatch: \(a.count) vs \(b.count)")
    for i in a.indices where !isClose(a[i], b[i], relative: relative, absolute: absolute) {
        return (i, a[i], b[i])
    }
    return nil
}
