public import Seeding
public import Tensor

/// A token-wise linear map (a 1×1 convolution) over channel-major tokens `[in, L]` → `[out, L]`,
/// `Y = W·X + b`, with L = T·B·N. The weight is PyTorch-style `[out, in]`.
public final class TokenLinear: QuantizableLayer {
    public let name: String
    public let inFeatures: Int
    public let outFeatures: Int
    public let weight: Parameter
    public let bias: Parameter?
    /// Tokens per sample per time step, for MAC counts.
    public let tokens: Int
    let effective: EffectiveWeight
    public private(set) var inputActivity = InputActivity()
    var tracksActivity = false

    private var savedInput: Tensor?
    private var savedWeight: Tensor?

    /// - Parameters:
    ///   - parameterPrefix: prefix of the parameter names (`<prefix>.weight`, `<prefix>.bias`);
    ///     defaults to `name`.
    public init(name: String, parameterPrefix: String? = nil, inFeatures: Int, outFeatures: Int, bias: Bool, tokens: Int,
                generator: inout SeededGenerator) {
        self.name = name
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.tokens = tokens
        let prefix = parameterPrefix ?? name
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = Parameter(name: prefix + ".weight",
                           value: Tensor.uniform(shape: [outFeatures, inFeatures], bound: bound, generator: &generator),
                           decays: true)
        self.bias = bias
            ? Parameter(name: prefix + ".bias", value: Tensor.uniform(shape: [outFeatures], bound: bound, generator: &generator))
            : nil
        effective = EffectiveWeight(weight: weight)
    }

    public var quantizer: (any WeightQuantizer)? {
        get { effective.quantizer }
        set { effective.quantizer = newValue }
    }

    public func invalidateQuantizedWeight() { effective.invalidate() }

    public var denseMACsPerTimeStep: Int { outFeatures * inFeatures * tokens }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    func resetActivity() { inputActivity = InputActivity() }

    /// `[in, …]` → `[out, …]` (trailing dimensions are kept).
    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        precondition(x.shape.first == inFeatures, "\(name): expected \(inFeatures) input channels, got shape \(x.shape)")
        if tracksActivity { inputActivity.record(x) }
        let w = effective.value(training: training)
        let length = x.count / inFeatures
        var y = Tensor(uninitializedShape: [outFeatures] + x.shape.dropFirst())
        x.withUnsafeBufferPointer { px in
            w.withUnsafeBufferPointer { pw in
                y.withUnsafeMutableBufferPointer { py in
                    let out = py.baseAddress!
                    if let bias {
                        bias.value.withUnsafeBufferPointer { pb in
                            let b = pb.baseAddress!
                            for o in 0..<outFeatures { (out + o * length).update(repeating: b[o], count: length) }
                        }
                    }
                    BLAS.gemm(m: outFeatures, n: length, k: inFeatures, a: pw.baseAddress!, lda: inFeatures,
                              b: px.baseAddress!, ldb: length, beta: bias == nil ? 0 : 1, c: out, ldc: length)
                }
            }
        }
        if training {
            savedInput = x
            savedWeight = w
        } else {
            savedInput = nil
            savedWeight = nil
        }
        return y
    }

    /// Accumulates dL/dW (and dL/db) and returns dL/dx.
    public func backward(_ dy: Tensor, needsInputGradient: Bool = true) -> Tensor? {
        guard let x = savedInput, let w = savedWeight else {
            preconditionFailure("\(name): backward without a training forward pass")
        }
        let length = x.count / inFeatures
        var dw = Tensor(uninitializedShape: [outFeatures, inFeatures])
        var dx: Tensor? = needsInputGradient ? Tensor(uninitializedShape: x.shape) : nil
        dy.withUnsafeBufferPointer { pdy in
            x.withUnsafeBufferPointer { px in
                dw.withUnsafeMutableBufferPointer { pdw in
                    BLAS.gemm(transposeB: true, m: outFeatures, n: inFeatures, k: length,
                              a: pdy.baseAddress!, lda: length, b: px.baseAddress!, ldb: length,
                              c: pdw.baseAddress!, ldc: inFeatures)
                }
            }
            if dx != nil {
                w.withUnsafeBufferPointer { pw in
                    dx!.withUnsafeMutableBufferPointer { pdx in
                        BLAS.gemm(transposeA: true, m: inFeatures, n: length, k: outFeatures,
                                  a: pw.baseAddress!, lda: inFeatures, b: pdy.baseAddress!, ldb: length,
                                  c: pdx.baseAddress!, ldc: length)
                    }
                }
            }
            if let bias {
                var db = [Float](repeating: 0, count: outFeatures)
                let g = pdy.baseAddress!
                db.withUnsafeMutableBufferPointer { out in
                    let o = out.baseAddress!
                    Compute.parallelFor(outFeatures, grain: 1) { range in
                        for r in range {
                            o[r] = Float(RowKernels.sum(g + r * length, count: length))
                        }
                    }
                }
                bias.accumulateGradient(Tensor(shape: [outFeatures], scalars: db))
            }
        }
        effective.accumulateGradient(dw)
        savedInput = nil
        savedWeight = nil
        return dx
    }
}
