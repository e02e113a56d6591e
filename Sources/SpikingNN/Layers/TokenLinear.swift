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
    /// Which kernels compute the products (by measured density unless forced).
    public var productMode = ProductMode.fromEnvironment
    /// The paths taken and densities seen since the last ``resetActivity()``.
    public private(set) var products = ProductRecord()

    private var savedInput: Tensor?
    private var savedWeight: Tensor?
    private var savedDensity = 1.0

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

    func resetActivity() {
        inputActivity = InputActivity()
        products = ProductRecord()
    }

    /// `[in, …]` → `[out, …]` (trailing dimensions are kept).
    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        forward(x, training: training, inspection: nil)
    }

    /// The forward pass, with the input's inspection when the caller already has it (attention
    /// inspects its input once for Q, K and V).
    ///
    /// With a ``LevelQuantizer`` and an integer input whose sums stay exact (``LayerLevels``), the
    /// product is taken on the integer levels and scaled after the sum: every kernel then gives the
    /// same bits. Otherwise the product uses the float ŵ.
    func forward(_ x: Tensor, training: Bool, inspection known: EventKernels.Inspection?) -> Tensor {
        precondition(x.shape.first == inFeatures, "\(name): expected \(inFeatures) input channels, got shape \(x.shape)")
        let snapshot = effective.snapshot(training: training)
        let inspection = known ?? EventKernels.inspect(x)
        if tracksActivity { inputActivity.record(inspection) }
        let exact = snapshot.levels.flatMap { $0.areExact(for: inspection) ? $0 : nil }
        // Dense exact products run on int8 × byte dot products where the CPU has them: the same
        // bits as the float GEMM of the levels, in a fraction of the time.
        let bytes = EventKernels.hasIntegerDotProducts && inspection.fitsInBytes ? exact?.bytes : nil
        let length = x.count / inFeatures
        let path = productMode.path(
            density: inspection.density,
            crossover: ProductCrossover.linearForward(inFeatures: inFeatures, outFeatures: outFeatures, integer: bytes != nil,
                                                      tokens: length))
        let integer = path == .dense ? bytes : nil
        products.recordForward(path, density: inspection.density, exact: exact != nil, integer: integer != nil)
        var y = Tensor(uninitializedShape: [outFeatures] + x.shape.dropFirst())
        let weights = exact?.levels ?? snapshot.value
        let scale = exact?.scale ?? 1
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                let out = py.baseAddress!
                withBias { bias in
                    switch path {
                    case .events:
                        let table = exact?.transposed ?? snapshot.transposedValue
                        table.withUnsafeBufferPointer { pt in
                            EventKernels.sparseLinearForward(
                                px.baseAddress!, inFeatures: inFeatures, length: length, transposedWeight: pt.baseAddress!,
                                outFeatures: outFeatures, bias: bias, scale: scale, into: out)
                        }
                    case .dense where integer != nil:
                        integer!.withUnsafeBufferPointer { pl in
                            EventKernels.levelProduct(
                                px.baseAddress!, inFeatures: inFeatures, length: length, levels: pl.baseAddress!,
                                outFeatures: outFeatures, bias: bias, scale: scale, into: out)
                        }
                    case .dense where exact != nil:
                        // Exact integer sums first, then the scale and bias (as the event kernel does).
                        weights.withUnsafeBufferPointer { pw in
                            BLAS.gemm(m: outFeatures, n: length, k: inFeatures, a: pw.baseAddress!, lda: inFeatures,
                                      b: px.baseAddress!, ldb: length, c: out, ldc: length)
                        }
                        Compute.parallelFor(outFeatures, grain: max(1, 16_384 / max(length, 1))) { rows in
                            for o in rows {
                                let row = out + o * length
                                let b = bias?[o] ?? 0
                                if bias != nil {
                                    for i in 0..<length { row[i] = row[i] * scale + b }
                                } else {
                                    for i in 0..<length { row[i] = row[i] * scale }
                                }
                            }
                        }
                    case .dense:
                        if let bias {
                            for o in 0..<outFeatures { (out + o * length).update(repeating: bias[o], count: length) }
                        }
                        weights.withUnsafeBufferPointer { pw in
                            BLAS.gemm(m: outFeatures, n: length, k: inFeatures, a: pw.baseAddress!, lda: inFeatures,
                                      b: px.baseAddress!, ldb: length, beta: bias == nil ? 0 : 1, c: out, ldc: length)
                        }
                    }
                }
            }
        }
        if training {
            savedInput = x
            savedWeight = snapshot.value
            savedDensity = inspection.density
        } else {
            savedInput = nil
            savedWeight = nil
        }
        return y
    }

    private func withBias<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let bias else { return body(nil) }
        return bias.value.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// Accumulates dL/dW (and dL/db) and returns dL/dx.
    public func backward(_ dy: Tensor, needsInputGradient: Bool = true) -> Tensor? {
        guard needsInputGradient else {
            backward(dy, inputGradient: nil, adding: false)
            return nil
        }
        var dx = Tensor(uninitializedShape: savedInputShape)
        dx.withUnsafeMutableBufferPointer { backward(dy, inputGradient: $0.baseAddress!, adding: false) }
        return dx
    }

    /// Accumulates dL/dW (and dL/db) and adds dL/dx to `dx`, which has the input's shape: layers
    /// that read one input (attention's Q, K and V) sum their input gradients inside the GEMM.
    public func backward(_ dy: Tensor, addingInputGradientTo dx: inout Tensor) {
        precondition(dx.shape == savedInputShape, "\(name): input gradient shaped \(dx.shape), the input was \(savedInputShape)")
        dx.withUnsafeMutableBufferPointer { backward(dy, inputGradient: $0.baseAddress!, adding: true) }
    }

    private var savedInputShape: [Int] {
        guard let savedInput else { preconditionFailure("\(name): backward without a training forward pass") }
        return savedInput.shape
    }

    /// - Parameter inputGradient: where dL/dx goes (set, or added to when `adding`); nil: not computed.
    private func backward(_ dy: Tensor, inputGradient: UnsafeMutablePointer<Float>?, adding: Bool) {
        guard let x = savedInput, let w = savedWeight else {
            preconditionFailure("\(name): backward without a training forward pass")
        }
        let length = x.count / inFeatures
        var dw = Tensor(uninitializedShape: [outFeatures, inFeatures])
        let path = productMode.path(density: savedDensity, crossover: ProductCrossover.linearWeightGradient(outFeatures: outFeatures))
        products.recordWeightGradient(path)
        dy.withUnsafeBufferPointer { pdy in
            x.withUnsafeBufferPointer { px in
                switch path {
                case .events:
                    // dWᵀ = Σ over the non-zero inputs of x[i, n]·dY[:, n].
                    var dwt = Tensor(uninitializedShape: [inFeatures, outFeatures])
                    dwt.withUnsafeMutableBufferPointer { pdwt in
                        EventKernels.sparseLinearWeightGradient(
                            px.baseAddress!, inFeatures: inFeatures, length: length, gradient: pdy.baseAddress!,
                            outFeatures: outFeatures, into: pdwt.baseAddress!)
                    }
                    dw = EventKernels.transposed(dwt)
                case .dense:
                    dw.withUnsafeMutableBufferPointer { pdw in
                        BLAS.gemm(transposeB: true, m: outFeatures, n: inFeatures, k: length,
                                  a: pdy.baseAddress!, lda: length, b: px.baseAddress!, ldb: length,
                                  c: pdw.baseAddress!, ldc: inFeatures)
                    }
                }
            }
            if let inputGradient {
                w.withUnsafeBufferPointer { pw in
                    BLAS.gemm(transposeA: true, m: inFeatures, n: length, k: outFeatures,
                              a: pw.baseAddress!, lda: inFeatures, b: pdy.baseAddress!, ldb: length,
                              beta: adding ? 1 : 0, c: inputGradient, ldc: length)
                }
            }
            if let bias {
                var db = [Float](repeating: 0, count: outFeatures)
                let g = pdy.baseAddress!
                db.withUnsafeMutableBufferPointer { out in
                    let o = out.baseAddress!
                    Compute.parallelFor(outFeatures, grain: 2) { range in
                        var r = range.lowerBound
                        while r < range.upperBound {
                            let next = min(r + 1, range.upperBound - 1)
                            let (a, b) = RowKernels.sums(g + r * length, g + next * length, count: length)
                            (o[r], o[next]) = (Float(a), Float(b))
                            r += 2
                        }
                    }
                }
                bias.accumulateGradient(Tensor(shape: [outFeatures], scalars: db))
            }
        }
        effective.accumulateGradient(dw)
        savedInput = nil
        savedWeight = nil
    }
}

extension TokenLinear: Module, ActivityCounting, ProductLayer {
    public var ownState: [Parameter] { parameters }
}
