public import Seeding
public import Tensor

/// One patch-splitting stage: `Conv3×3 → BN → LIF (→ MaxPool)`.
public final class PatchStage {
    public let conv: Conv2d
    public let norm: BatchNormLIF
    public let pool: MaxPool2d?

    init(index: Int, inChannels: Int, outChannels: Int, height: Int, width: Int, pooled: Bool, timeSteps: Int,
         generator: inout SeededGenerator) {
        conv = Conv2d(name: "sps.stages.\(index).conv", inChannels: inChannels, outChannels: outChannels,
                      height: height, width: width, generator: &generator)
        norm = BatchNormLIF(name: "sps.stages.\(index).bn", channels: outChannels, timeSteps: timeSteps)
        pool = pooled ? MaxPool2d() : nil
    }

    /// - Parameter inspection: `x`'s inspection when the previous stage counted its spikes.
    func forward(_ x: Tensor, training: Bool, inspection: EventKernels.Inspection? = nil) -> Tensor {
        norm.forward(conv.forward(x, training: training, inspection: inspection), training: training, pooledBy: pool)
    }

    /// The inspection of the last forward pass's output, when it is the LIF's spikes (no pooling).
    var outputInspection: EventKernels.Inspection? { pool == nil ? norm.neuron.outputInspection : nil }

    func backward(_ dy: consuming Tensor, needsInputGradient: Bool) -> Tensor? {
        conv.backward(norm.backward(dy, pooledBy: pool), needsInputGradient: needsInputGradient)
    }
}

/// Spiking patch splitting (the Spikformer stem): four conv stages with channels D/8, D/4, D/2, D
/// from the input polarities, each optionally followed by max-pooling, then the relative-position
/// branch `x = x + LIF(BN(Conv3×3(x)))`. Output: tokens `[D, T·B, N]`, N = H'·W'.
public final class SpikingPatchSplitting {
    public let stages: [PatchStage]
    public let rpeConv: Conv2d
    public let rpeNorm: BatchNormLIF
    public let outputHeight: Int
    public let outputWidth: Int

    init(config: SpikformerConfig, generator: inout SeededGenerator) {
        let d = config.embedDimension
        let channels = [config.inputChannels, d / 8, d / 4, d / 2, d]
        var height = config.inputHeight
        var width = config.inputWidth
        var stages: [PatchStage] = []
        for i in 0..<4 {
            let pooled = config.poolAfterStage[i]
            stages.append(PatchStage(index: i, inChannels: channels[i], outChannels: channels[i + 1], height: height, width: width,
                                     pooled: pooled, timeSteps: config.timeSteps, generator: &generator))
            if pooled {
                height = MaxPool2d.outputSize(height)
                width = MaxPool2d.outputSize(width)
            }
        }
        self.stages = stages
        outputHeight = height
        outputWidth = width
        rpeConv = Conv2d(name: "sps.rpe.conv", inChannels: d, outChannels: d, height: height, width: width, generator: &generator)
        rpeNorm = BatchNormLIF(name: "sps.rpe.bn", channels: d, timeSteps: config.timeSteps)
    }

    /// `[C_in, F, H, W]` → `[D, F, N]`.
    package func forward(_ x: Tensor, training: Bool) -> Tensor {
        var h = x
        var inspection: EventKernels.Inspection?  // of h, when the stage before counted its spikes
        for stage in stages {
            h = stage.forward(h, training: training, inspection: inspection)
            inspection = stage.outputInspection
        }
        var out = rpeNorm.forward(rpeConv.forward(h, training: training, inspection: inspection), training: training)
        out.add(h)  // the residual, into the branch's fresh output as in SpikformerBlock
        return out.reshaped([out.shape[0], out.shape[1], outputHeight * outputWidth])
    }

    func backward(_ dTokens: Tensor) {
        let d = dTokens.shape[0]
        let dOut = dTokens.reshaped([d, dTokens.shape[1], outputHeight, outputWidth])
        var dh = rpeConv.backward(rpeNorm.backward(dOut))!
        dh.add(dOut)
        for (index, stage) in stages.enumerated().reversed() {
            guard let next = stage.backward(consume dh, needsInputGradient: index > 0) else { break }
            dh = next
        }
    }
}

/// The classifier: mean over tokens, `Linear(D, classes)`, mean over time steps.
public final class ClassifierHead {
    /// The quantizable layer of the head (named `head`).
    public let linear: TokenLinear
    public let timeSteps: Int
    private var savedTokens = 0

    init(dimension: Int, classes: Int, timeSteps: Int, generator: inout SeededGenerator) {
        linear = TokenLinear(name: "head", inFeatures: dimension, outFeatures: classes, bias: true, tokens: 1, generator: &generator)
        self.timeSteps = timeSteps
    }

    /// Tokens `[D, T·B, N]` → logits `[B, classes]`.
    func forward(_ x: Tensor, training: Bool) -> Tensor {
        let (d, frames, n) = (x.shape[0], x.shape[1], x.shape[2])
        let batch = frames / timeSteps
        var pooled = Tensor(uninitializedShape: [d, frames])
        x.withUnsafeBufferPointer { px in
            pooled.withUnsafeMutableBufferPointer { pp in
                let source = px.baseAddress!
                let target = pp.baseAddress!
                Compute.parallelFor(d * frames, grain: 256) { range in
                    for r in range {
                        var total: Float = 0
                        let s = source + r * n
                        for i in 0..<n { total += s[i] }
                        target[r] = total / Float(n)
                    }
                }
            }
        }
        let perFrame = linear.forward(pooled, training: training)  // [classes, F]
        let classes = perFrame.shape[0]
        var logits = Tensor(shape: [batch, classes])
        perFrame.withUnsafeBufferPointer { pf in
            logits.withUnsafeMutableBufferPointer { pl in
                for c in 0..<classes {
                    for t in 0..<timeSteps {
                        for b in 0..<batch { pl[b * classes + c] += pf[c * frames + t * batch + b] }
                    }
                }
                for i in pl.indices { pl[i] /= Float(timeSteps) }
            }
        }
        savedTokens = n
        return logits
    }

    /// dL/dlogits `[B, classes]` → dL/dtokens `[D, T·B, N]`.
    func backward(_ dLogits: Tensor) -> Tensor {
        let (batch, classes) = (dLogits.shape[0], dLogits.shape[1])
        let frames = batch * timeSteps
        var dPerFrame = Tensor(uninitializedShape: [classes, frames])
        dLogits.withUnsafeBufferPointer { pl in
            dPerFrame.withUnsafeMutableBufferPointer { pf in
                for c in 0..<classes {
                    for t in 0..<timeSteps {
                        for b in 0..<batch { pf[c * frames + t * batch + b] = pl[b * classes + c] / Float(timeSteps) }
                    }
                }
            }
        }
        let dPooled = linear.backward(dPerFrame)!  // [D, F]
        let d = dPooled.shape[0]
        let n = savedTokens
        var dx = Tensor(uninitializedShape: [d, frames, n])
        dPooled.withUnsafeBufferPointer { pp in
            dx.withUnsafeMutableBufferPointer { px in
                let target = px.baseAddress!
                let source = pp.baseAddress!
                Compute.parallelFor(d * frames, grain: 256) { range in
                    for r in range { (target + r * n).update(repeating: source[r] / Float(n), count: n) }
                }
            }
        }
        return dx
    }
}

extension PatchStage: Module {
    public var children: [any Module] { [conv, norm] + (pool.map { [$0] } ?? []) }
}

extension SpikingPatchSplitting: Module {
    public var children: [any Module] { stages.map { $0 as any Module } + [rpeConv, rpeNorm] }
}

extension ClassifierHead: Module {
    public var children: [any Module] { [linear] }
}
