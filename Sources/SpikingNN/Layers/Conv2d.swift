public import Seeding
public import Tensor

/// 3×3 convolution, stride 1, padding 1, no bias, over a batch of frames.
///
/// Activations are channel-major, `[C, F, H, W]` with F = T·B frames: each channel's values are one
/// contiguous row, so the convolution of all frames is one GEMM per chunk,
/// `Y[Cout, f·H·W] = W[Cout, Cin·9] · cols[Cin·9, f·H·W]`, where `cols` is the im2col of a chunk
/// of `f` frames (chunks bound the scratch memory). The weight is stored PyTorch-style
/// `[out, in, 3, 3]`.
public final class Conv2d: QuantizableLayer {
    public let name: String
    public let inChannels: Int
    public let outChannels: Int
    public let weight: Parameter
    /// Spatial size of the input (and output), for MAC counts.
    public let height: Int
    public let width: Int
    let effective: EffectiveWeight
    public private(set) var inputActivity = InputActivity()
    var tracksActivity = false

    private var savedInput: Tensor?
    private var savedWeight: Tensor?

    /// Upper bound on im2col scratch, in elements.
    static let columnBudget = 1 << 22

    public init(name: String, inChannels: Int, outChannels: Int, height: Int, width: Int, generator: inout SeededGenerator) {
        self.name = name
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.height = height
        self.width = width
        // PyTorch's default: kaiming_uniform(a=√5) = U(-1/√fan_in, 1/√fan_in).
        let fanIn = inChannels * 9
        let bound = 1 / Float(fanIn).squareRoot()
        weight = Parameter(
            name: name + ".weight",
            value: Tensor.uniform(shape: [outChannels, inChannels, 3, 3], bound: bound, generator: &generator),
            decays: true)
        effective = EffectiveWeight(weight: weight)
    }

    public var quantizer: (any WeightQuantizer)? {
        get { effective.quantizer }
        set { effective.quantizer = newValue }
    }

    public func invalidateQuantizedWeight() { effective.invalidate() }

    public var denseMACsPerTimeStep: Int { outChannels * inChannels * 9 * height * width }

    func resetActivity() { inputActivity = InputActivity() }

    /// `x`: `[Cin, F, H, W]` → `[Cout, F, H, W]`.
    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        precondition(x.shape.count == 4 && x.shape[0] == inChannels && x.shape[2] == height && x.shape[3] == width,
                     "\(name): expected [\(inChannels), F, \(height), \(width)], got \(x.shape)")
        if tracksActivity { inputActivity.record(x) }
        let w = effective.value(training: training)
        let frames = x.shape[1]
        let plane = height * width
        var y = Tensor(uninitializedShape: [outChannels, frames, height, width])
        let k = inChannels * 9
        let chunk = max(1, min(frames, Self.columnBudget / max(1, k * plane)))
        var cols = Tensor(uninitializedShape: [k, chunk * plane])
        x.withUnsafeBufferPointer { px in
            w.withUnsafeBufferPointer { pw in
                y.withUnsafeMutableBufferPointer { py in
                    cols.withUnsafeMutableBufferPointer { pc in
                        var start = 0
                        while start < frames {
                            let count = min(chunk, frames - start)
                            Self.im2col(px.baseAddress!, channels: inChannels, frames: frames, height: height, width: width,
                                        firstFrame: start, frameCount: count, into: pc.baseAddress!)
                            BLAS.gemm(m: outChannels, n: count * plane, k: k,
                                      a: pw.baseAddress!, lda: k, b: pc.baseAddress!, ldb: count * plane,
                                      c: py.baseAddress! + start * plane, ldc: frames * plane)
                            start += count
                        }
                    }
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

    /// Accumulates dL/dW and returns dL/dx (nil when `needsInputGradient` is false).
    public func backward(_ dy: Tensor, needsInputGradient: Bool = true) -> Tensor? {
        guard let x = savedInput, let w = savedWeight else {
            preconditionFailure("\(name): backward without a training forward pass")
        }
        let frames = x.shape[1]
        let plane = height * width
        let k = inChannels * 9
        let chunk = max(1, min(frames, Self.columnBudget / max(1, k * plane)))
        var cols = Tensor(uninitializedShape: [k, chunk * plane])
        var dw = Tensor(shape: [outChannels, k])
        var dx: Tensor? = needsInputGradient ? Tensor(shape: x.shape) : nil
        x.withUnsafeBufferPointer { px in
            dy.withUnsafeBufferPointer { pdy in
                cols.withUnsafeMutableBufferPointer { pc in
                    dw.withUnsafeMutableBufferPointer { pdw in
                        var start = 0
                        while start < frames {
                            let count = min(chunk, frames - start)
                            Self.im2col(px.baseAddress!, channels: inChannels, frames: frames, height: height, width: width,
                                        firstFrame: start, frameCount: count, into: pc.baseAddress!)
                            // dW += dY_chunk · colsᵀ
                            BLAS.gemm(transposeB: true, m: outChannels, n: k, k: count * plane,
                                      a: pdy.baseAddress! + start * plane, lda: frames * plane,
                                      b: pc.baseAddress!, ldb: count * plane, beta: 1,
                                      c: pdw.baseAddress!, ldc: k)
                            if dx != nil {
                                // dcols = Wᵀ · dY_chunk, then scatter back (col2im).
                                w.withUnsafeBufferPointer { pw in
                                    BLAS.gemm(transposeA: true, m: k, n: count * plane, k: outChannels,
                                              a: pw.baseAddress!, lda: k,
                                              b: pdy.baseAddress! + start * plane, ldb: frames * plane,
                                              c: pc.baseAddress!, ldc: count * plane)
                                }
                                dx!.withUnsafeMutableBufferPointer { pdx in
                                    Self.col2imAccumulate(pc.baseAddress!, channels: inChannels, frames: frames,
                                                          height: height, width: width, firstFrame: start,
                                                          frameCount: count, into: pdx.baseAddress!)
                                }
                            }
                            start += count
                        }
                    }
                }
            }
        }
        effective.accumulateGradient(dw.reshaped(weight.value.shape))
        savedInput = nil
        savedWeight = nil
        return dx
    }

    /// Writes the 3×3 patches of frames `firstFrame..<firstFrame+frameCount` of `x` (`[C, F, H, W]`)
    /// into `cols` (`[C·9, frameCount·H·W]`), zero outside the image.
    static func im2col(_ x: UnsafePointer<Float>, channels: Int, frames: Int, height: Int, width: Int,
                       firstFrame: Int, frameCount: Int, into cols: UnsafeMutablePointer<Float>) {
        let plane = height * width
        let rowLength = frameCount * plane
        Compute.parallelFor(channels * 9, grain: 1) { rows in
            for row in rows {
                let c = row / 9
                let ky = (row % 9) / 3 - 1
                let kx = row % 3 - 1
                let destinationRow = cols + row * rowLength
                for f in 0..<frameCount {
                    let source = x + (c * frames + firstFrame + f) * plane
                    let destination = destinationRow + f * plane
                    for y in 0..<height {
                        let out = destination + y * width
                        let sy = y + ky
                        if sy < 0 || sy >= height {
                            out.update(repeating: 0, count: width)
                            continue
                        }
                        let src = source + sy * width
                        switch kx {
                        case -1:
                            out[0] = 0
                            out.advanced(by: 1).update(from: src, count: width - 1)
                        case 1:
                            out.update(from: src + 1, count: width - 1)
                            out[width - 1] = 0
                        default:
                            out.update(from: src, count: width)
                        }
                    }
                }
            }
        }
    }

    /// Adds the patch gradients `cols` (`[C·9, frameCount·H·W]`) back onto `dx` (`[C, F, H, W]`).
    static func col2imAccumulate(_ cols: UnsafePointer<Float>, channels: Int, frames: Int, height: Int, width: Int,
                                 firstFrame: Int, frameCount: Int, into dx: UnsafeMutablePointer<Float>) {
        let plane = height * width
        let rowLength = frameCount * plane
        Compute.parallelFor(channels, grain: 1) { channelRange in
            for c in channelRange {
                for tap in 0..<9 {
                    let ky = tap / 3 - 1
                    let kx = tap % 3 - 1
                    let sourceRow = cols + (c * 9 + tap) * rowLength
                    for f in 0..<frameCount {
                        let target = dx + (c * frames + firstFrame + f) * plane
                        let source = sourceRow + f * plane
                        for y in 0..<height {
                            let sy = y + ky
                            if sy < 0 || sy >= height { continue }
                            let t = target + sy * width
                            let s = source + y * width
                            switch kx {
                            case -1:
                                for x in 1..<width { t[x - 1] += s[x] }
                            case 1:
                                for x in 0..<(width - 1) { t[x + 1] += s[x] }
                            default:
                                for x in 0..<width { t[x] += s[x] }
                            }
                        }
                    }
                }
            }
        }
    }
}
