public import Seeding
public import Tensor

/// Spiking self-attention (Spikformer's SSA) over channel-major tokens `[D, T·B, N]`.
///
///     Q, K, V = LIF(BN(Linear(x)))              (no bias)
///     y_h     = Q_h · (K_hᵀ · V_h) · scale      (per head, no softmax)
///     out     = LIF(BN(Linear(LIF_0.5(y)))))    (projection with bias)
///
/// Q, K and V are binary, so K_hᵀV_h holds integer counts and the products are exact in Float:
/// the association order does not change the result.
public final class SpikingSelfAttention {
    public let dimension: Int
    public let heads: Int
    public let tokens: Int
    public let timeSteps: Int
    public let scale: Float
    public let q: TokenLinear
    public let k: TokenLinear
    public let v: TokenLinear
    public let proj: TokenLinear
    public let qNorm: BatchNormLIF
    public let kNorm: BatchNormLIF
    public let vNorm: BatchNormLIF
    public let projNorm: BatchNormLIF
    public let attentionNeuron: LIFNeuron
    public private(set) var activity: AttentionActivity
    var tracksActivity = false

    private var savedQ: Tensor?
    private var savedK: Tensor?
    private var savedV: Tensor?
    private var savedProducts: Tensor?  // K_hᵀV_h per frame and head: [F, heads, d, d]
    private var savedSpikes = false  // Q, K and V were the neurons' spikes

    public init(prefix: String, dimension: Int, heads: Int, tokens: Int, timeSteps: Int,
                scale: Float = 0.125, attentionThreshold: Float = 0.5, generator: inout SeededGenerator) {
        precondition(dimension % heads == 0, "\(prefix): dimension \(dimension) is not divisible by \(heads) heads")
        self.dimension = dimension
        self.heads = heads
        self.tokens = tokens
        self.timeSteps = timeSteps
        self.scale = scale
        func linear(_ part: String, bias: Bool) -> TokenLinear {
            TokenLinear(name: "\(prefix).\(part).linear", inFeatures: dimension, outFeatures: dimension, bias: bias,
                        tokens: tokens, generator: &generator)
        }
        q = linear("q", bias: false)
        k = linear("k", bias: false)
        v = linear("v", bias: false)
        proj = linear("proj", bias: true)
        qNorm = BatchNormLIF(name: "\(prefix).q.bn", channels: dimension, timeSteps: timeSteps)
        kNorm = BatchNormLIF(name: "\(prefix).k.bn", channels: dimension, timeSteps: timeSteps)
        vNorm = BatchNormLIF(name: "\(prefix).v.bn", channels: dimension, timeSteps: timeSteps)
        projNorm = BatchNormLIF(name: "\(prefix).proj.bn", channels: dimension, timeSteps: timeSteps)
        attentionNeuron = LIFNeuron(tau: 2, threshold: attentionThreshold)
        activity = AttentionActivity(heads: heads, headDimension: dimension / heads, tokens: tokens)
    }

    public var headDimension: Int { dimension / heads }

    func resetActivity() { activity = AttentionActivity(heads: heads, headDimension: headDimension, tokens: tokens) }

    /// `[D, F, N]` → `[D, F, N]`.
    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        // One inspection of the shared input serves the three products.
        let inspection = EventKernels.inspect(x)
        let qs = qNorm.forward(q.forward(x, training: training, inspection: inspection), training: training)
        let ks = kNorm.forward(k.forward(x, training: training, inspection: inspection), training: training)
        let vs = vNorm.forward(v.forward(x, training: training, inspection: inspection), training: training)
        if tracksActivity {
            activity.q.record(qNorm.neuron.outputInspection ?? EventKernels.inspect(qs))
            activity.k.record(kNorm.neuron.outputInspection ?? EventKernels.inspect(ks))
            activity.v.record(vNorm.neuron.outputInspection ?? EventKernels.inspect(vs))
        }
        // Counted spikes mean 0/1 rows, which the products need not check again.
        let spikes = [qNorm, kNorm, vNorm].allSatisfy { $0.neuron.outputInspection != nil }
        let (y, products) = attend(q: qs, k: ks, v: vs, keepProducts: training, spikes: spikes)
        let a = attentionNeuron.forward(y, timeSteps: timeSteps, training: training)
        let out = projNorm.forward(proj.forward(a, training: training, inspection: attentionNeuron.outputInspection), training: training)
        if training {
            savedQ = qs
            savedK = ks
            savedV = vs
            savedProducts = products
            savedSpikes = spikes
        } else {
            savedQ = nil
            savedK = nil
            savedV = nil
            savedProducts = nil
        }
        return out
    }

    public func backward(_ dOut: Tensor) -> Tensor {
        guard let qs = savedQ, let ks = savedK, let vs = savedV, let products = savedProducts else {
            preconditionFailure("attention: backward without a training forward pass")
        }
        let da = proj.backward(projNorm.backward(dOut))!
        let dy = attentionNeuron.backward(da)
        let (dq, dk, dv) = attendBackward(dy, q: qs, k: ks, v: vs, products: products, spikes: savedSpikes)
        var dx = q.backward(qNorm.backward(consume dq))!
        k.backward(kNorm.backward(consume dk), addingInputGradientTo: &dx)
        v.backward(vNorm.backward(consume dv), addingInputGradientTo: &dx)
        savedQ = nil
        savedK = nil
        savedV = nil
        savedProducts = nil
        return dx
    }

    /// y_h = scale · Q_h(K_hᵀV_h) for every frame and head. In channel-major rows, with
    /// M[i][j] = Σ_n K[i,n]·V[j,n], the output is Y[j,n] = scale · Σ_i M[i][j]·Q[i,n].
    ///
    /// - Parameter spikes: Q, K and V are known to hold only 0 and 1 (else each frame and head is checked).
    package func attend(q: Tensor, k: Tensor, v: Tensor, keepProducts: Bool, spikes: Bool = false) -> (Tensor, Tensor?) {
        let frames = q.shape[1]
        let n = q.shape[2]
        let d = headDimension
        let heads = self.heads
        let scale = self.scale
        let row = frames * n
        var y = Tensor(uninitializedShape: q.shape)
        var products = Tensor(uninitializedShape: [frames, heads, d, d])
        q.withUnsafeBufferPointer { pq in
            k.withUnsafeBufferPointer { pk in
                v.withUnsafeBufferPointer { pv in
                    y.withUnsafeMutableBufferPointer { py in
                        products.withUnsafeMutableBufferPointer { pm in
                            let (qb, kb, vb, yb, mb) = (pq.baseAddress!, pk.baseAddress!, pv.baseAddress!, py.baseAddress!, pm.baseAddress!)
                            Compute.parallelFor(frames * heads, grain: 4) { pairs in
                                let coefficients = UnsafeMutablePointer<Float>.allocate(
                                    capacity: d * d + max(n * d, EventKernels.combineSpikeRowsScratch(rows: d)))
                                let words = EventKernels.maskWords(length: n)
                                let masks = UnsafeMutablePointer<UInt64>.allocate(capacity: 2 * d * words)
                                defer {
                                    coefficients.deallocate()
                                    masks.deallocate()
                                }
                                let transposed = coefficients + d * d
                                for pair in pairs {
                                    let f = pair / heads
                                    let h = pair % heads
                                    let m = mb + pair * d * d
                                    let base = h * d * row + f * n
                                    // K and V are spikes: K_hᵀV_h[i][j] counts the tokens where both fire,
                                    // a popcount of two bit masks (the float products give the same integers).
                                    if EventKernels.binaryRows(kb + base, stride: row, rows: d, length: n, into: masks),
                                       EventKernels.binaryRows(vb + base, stride: row, rows: d, length: n, into: masks + d * words) {
                                        EventKernels.countProducts(masks, masks + d * words, rows: d, words: words, scale: 1, into: m)
                                    } else {
                                        EventKernels.attentionProducts(kb + base, vb + base, stride: row, rows: d, length: n, scale: 1,
                                                                       scratch: transposed, into: m)
                                    }
                                    HeadKernels.transpose(m, rows: d, scale: scale, into: coefficients)
                                    // Spikes (the masks of K and V are spent): add only the firing tokens' terms.
                                    Self.combine(qb + base, coefficients: coefficients, stride: row, rows: d, length: n,
                                                 into: yb + base, spikes: spikes, masks: masks, scratch: transposed)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (y, keepProducts ? products : nil)
    }

    /// Gradients of ``attend(q:k:v:keepProducts:spikes:)`` (`spikes` as there):
    /// dQ = s·M·dY, dM = s·Q·dYᵀ, dK = dM·V, dV = dMᵀ·K (per frame and head).
    package func attendBackward(_ dy: Tensor, q: Tensor, k: Tensor, v: Tensor, products: Tensor, spikes: Bool = false)
        -> (Tensor, Tensor, Tensor) {
        let frames = q.shape[1]
        let n = q.shape[2]
        let d = headDimension
        let heads = self.heads
        let scale = self.scale
        let row = frames * n
        var dq = Tensor(uninitializedShape: q.shape)
        var dk = Tensor(uninitializedShape: q.shape)
        var dv = Tensor(uninitializedShape: q.shape)
        q.withUnsafeBufferPointer { pq in
            k.withUnsafeBufferPointer { pk in
                v.withUnsafeBufferPointer { pv in
                    dy.withUnsafeBufferPointer { pdy in
                        products.withUnsafeBufferPointer { pm in
                            dq.withUnsafeMutableBufferPointer { pdq in
                                dk.withUnsafeMutableBufferPointer { pdk in
                                    dv.withUnsafeMutableBufferPointer { pdv in
                                        let (qb, kb, vb, gb, mb) = (pq.baseAddress!, pk.baseAddress!, pv.baseAddress!, pdy.baseAddress!, pm.baseAddress!)
                                        let (dqb, dkb, dvb) = (pdq.baseAddress!, pdk.baseAddress!, pdv.baseAddress!)
                                        Compute.parallelFor(frames * heads, grain: 4) { pairs in
                                            let dm = UnsafeMutablePointer<Float>.allocate(
                                                capacity: 2 * d * d + max(n * d, EventKernels.combineSpikeRowsScratch(rows: d)))
                                            let masks = UnsafeMutablePointer<UInt64>.allocate(capacity: d * EventKernels.maskWords(length: n))
                                            defer {
                                                dm.deallocate()
                                                masks.deallocate()
                                            }
                                            let coefficients = dm + d * d
                                            let transposed = coefficients + d * d
                                            for pair in pairs {
                                                let f = pair / heads
                                                let h = pair % heads
                                                let m = mb + pair * d * d
                                                let base = h * d * row + f * n
                                                // dQ[i,:] = s Σ_j M[i][j] dY[j,:]
                                                for i in 0..<(d * d) { coefficients[i] = scale * m[i] }
                                                EventKernels.combineRows(gb + base, coefficients: coefficients, stride: row, rows: d,
                                                                    length: n, into: dqb + base)
                                                // dM[i][j] = s Σ_n Q[i,n] dY[j,n]
                                                EventKernels.attentionProducts(qb + base, gb + base, stride: row, rows: d, length: n,
                                                                               scale: scale, scratch: transposed, into: dm)
                                                // dK[i,:] = Σ_j dM[i][j] V[j,:];  dV[j,:] = Σ_i dM[i][j] K[i,:]
                                                // (rows of spikes: only the firing tokens' terms)
                                                Self.combine(vb + base, coefficients: dm, stride: row, rows: d, length: n,
                                                             into: dkb + base, spikes: spikes, masks: masks, scratch: transposed)
                                                HeadKernels.transpose(dm, rows: d, scale: 1, into: coefficients)
                                                Self.combine(kb + base, coefficients: coefficients, stride: row, rows: d, length: n,
                                                             into: dvb + base, spikes: spikes, masks: masks, scratch: transposed)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dq, dk, dv)
    }
}

extension SpikingSelfAttention {
    /// `out[o,:] = Σ_i coefficients[o·count + i] · rows[i,:]` (``EventKernels/combineRows(_:coefficients:stride:rows:length:into:)``);
    /// when the rows hold only 0 and 1 (known from `spikes`, else checked into `masks`), only the firing
    /// tokens' terms are added (the same bits).
    private static func combine(_ rows: UnsafePointer<Float>, coefficients: UnsafePointer<Float>, stride: Int,
                                rows count: Int, length: Int, into out: UnsafeMutablePointer<Float>, spikes: Bool,
                                masks: UnsafeMutablePointer<UInt64>, scratch: UnsafeMutablePointer<Float>) {
        if spikes || EventKernels.binaryRows(rows, stride: stride, rows: count, length: length, into: masks) {
            EventKernels.combineSpikeRows(rows, coefficients: coefficients, stride: stride, rows: count, length: length,
                                          into: out, scratch: scratch)
        } else {
            EventKernels.combineRows(rows, coefficients: coefficients, stride: stride, rows: count, length: length, into: out)
        }
    }
}

extension SpikingSelfAttention: Module, ActivityCounting {
    public var children: [any Module] { [q, qNorm, k, kNorm, v, vNorm, attentionNeuron, proj, projNorm] }
}
