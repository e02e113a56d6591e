import CKernels

/// The optimizer's element-wise update in C (`CKernels`), one variant per instruction set like the
/// other kernels: the Swift loop it replaced took a scalar square root per element and was the
/// largest serial part of a tiny-model training step.
public enum OptimizerKernels {
    /// One AdamW step over `count` parameters (see `CKernels_adamW`): `m` and `v` are updated,
    /// then `w = w·decay − lr·(m / correction1) / (√(v / correction2) + ε)`.
    @inline(__always)
    public static func adamW(
        weights w: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>, firstMoments m: UnsafeMutablePointer<Float>,
        secondMoments v: UnsafeMutablePointer<Float>, count: Int, beta1: Float, beta2: Float, learningRate: Float,
        correction1: Float, correction2: Float, epsilon: Float, decay: Float
    ) {
        CKernels_adamW(w, g, m, v, Int64(count), beta1, beta2, learningRate, correction1, correction2, epsilon, decay)
    }
}
