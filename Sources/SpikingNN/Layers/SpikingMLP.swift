public import Seeding
public import Tensor

/// The Spikformer MLP over channel-major tokens: `LIF(BN(fc2(LIF(BN(fc1(x))))))`, with biases.
public final class SpikingMLP {
    public let fc1: TokenLinear
    public let fc2: TokenLinear
    public let fc1Norm: BatchNormLIF
    public let fc2Norm: BatchNormLIF

    public init(prefix: String, dimension: Int, hidden: Int, tokens: Int, timeSteps: Int, generator: inout SeededGenerator) {
        fc1 = TokenLinear(name: "\(prefix).fc1.linear", inFeatures: dimension, outFeatures: hidden, bias: true,
                          tokens: tokens, generator: &generator)
        fc2 = TokenLinear(name: "\(prefix).fc2.linear", inFeatures: hidden, outFeatures: dimension, bias: true,
                          tokens: tokens, generator: &generator)
        fc1Norm = BatchNormLIF(name: "\(prefix).fc1.bn", channels: hidden, timeSteps: timeSteps)
        fc2Norm = BatchNormLIF(name: "\(prefix).fc2.bn", channels: dimension, timeSteps: timeSteps)
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let hidden = fc1Norm.forward(fc1.forward(x, training: training), training: training)
        let hiddenInspection = fc1Norm.neuron.outputInspection
        return fc2Norm.forward(fc2.forward(hidden, training: training, inspection: hiddenInspection), training: training)
    }

    public func backward(_ dy: Tensor) -> Tensor {
        let dHidden = fc2.backward(fc2Norm.backward(dy))!
        return fc1.backward(fc1Norm.backward(consume dHidden))!
    }

    /// The gradient of `x + MLP(x)`: dL/dx plus `dy` itself, summed inside fc1's GEMM in `dy`'s
    /// buffer (the same bits as adding afterwards: one sum of two terms).
    public func backwardWithResidual(_ dy: consuming Tensor) -> Tensor {
        let dHidden = fc2.backward(fc2Norm.backward(copy dy))!  // `dy` is the residual's term too
        var dx = consume dy
        fc1.backward(fc1Norm.backward(consume dHidden), addingInputGradientTo: &dx)
        return dx
    }
}

/// One encoder block: `x = x + SSA(x); x = x + MLP(x)`.
public final class SpikformerBlock {
    public let attention: SpikingSelfAttention
    public let mlp: SpikingMLP

    public init(index: Int, dimension: Int, heads: Int, mlpRatio: Int, tokens: Int, timeSteps: Int,
                attentionScale: Float, attentionThreshold: Float, generator: inout SeededGenerator) {
        attention = SpikingSelfAttention(prefix: "blocks.\(index).attn", dimension: dimension, heads: heads, tokens: tokens,
                                         timeSteps: timeSteps, scale: attentionScale, attentionThreshold: attentionThreshold,
                                         generator: &generator)
        mlp = SpikingMLP(prefix: "blocks.\(index).mlp", dimension: dimension, hidden: dimension * mlpRatio, tokens: tokens,
                         timeSteps: timeSteps, generator: &generator)
    }

    /// The residual sums are added into the branch's fresh output (x + a = a + x, so the same
    /// bits) instead of a third tensor: one buffer less to fault in and write per block.
    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        var h = attention.forward(x, training: training)
        h.add(x)
        var out = mlp.forward(h, training: training)
        out.add(h)
        return out
    }

    public func backward(_ dOut: consuming Tensor) -> Tensor {
        let dh = mlp.backwardWithResidual(dOut)
        var dx = attention.backward(dh)
        dx.add(dh)
        return dx
    }
}

extension SpikingMLP: Module {
    public var children: [any Module] { [fc1, fc1Norm, fc2, fc2Norm] }
}

extension SpikformerBlock: Module {
    public var children: [any Module] { [attention, mlp] }
}
