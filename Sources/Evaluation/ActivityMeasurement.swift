import QuantConfig
import Quantization
import SpikingNN
import Tensor

/// Accuracy and per-layer activity of a model on one split, in evaluation mode.
public struct Measurement: Sendable {
    public var accuracy: Double
    public var predictions: [Int]
    /// Per-layer activity in model order, then one entry per block for the attention products.
    public var layers: [LayerActivity]
}

extension Spikformer {
    /// Evaluates on `source` while counting every layer's input activity.
    ///
    /// Energy conventions (see docs/energy.md): the first convolution sees real-valued event
    /// counts and is charged as multiply-accumulates; every later layer is charged as synaptic
    /// operations, `SOPs = firing rate of its input × dense MACs`, with T folded into the MACs.
    /// The firing rate is spikes per input element (`InputActivity.meanValue`): a residual sum of
    /// two spikes counts twice, as an accumulate-only datapath adds the weight twice.
    /// The attention products of block b appear as `blocks.b.attn.matmul` with
    /// `MACs = 2·T·heads·N·d_h²` (Kᵀ·V, then Q·(Kᵀ·V)) and firing rate
    /// `(min(fr_K, fr_V) + fr_Q) / 2`, i.e. `SOPs = T·heads·N·d_h²·(min(fr_K, fr_V) + fr_Q)`:
    /// Kᵀ·V visits the sparser of K and V, and Q·(Kᵀ·V) adds a row of Kᵀ·V per spike of Q.
    public func measure(on source: any FrameSource, batchSize: Int) throws -> Measurement {
        resetActivity()
        tracksActivity = true
        defer { tracksActivity = false }
        let summary = try Trainer.evaluate(self, on: source, batchSize: batchSize)
        let choices = attachedQuantization
        let timeSteps = Double(config.timeSteps)
        var layers: [LayerActivity] = []
        let activity = Dictionary(uniqueKeysWithValues: layerActivity.map { ($0.layer, $0.activity) })
        for (index, layer) in quantizableLayers.enumerated() {
            let outputs = layer.weight.value.shape.first ?? 1
            layers.append(
                LayerActivity(
                    name: layer.name, quantization: choices[layer.name], parameters: layer.weightCount,
                    fanIn: layer.weightCount / max(outputs, 1), macs: Double(layer.denseMACsPerTimeStep) * timeSteps,
                    inputFiringRate: activity[layer.name]?.meanValue ?? 0, spikingInput: index > 0))
        }
        for (block, attention) in attentionActivity.enumerated() {
            let d = Double(attention.headDimension)
            let perStep = Double(attention.heads) * Double(attention.tokens) * d * d
            let rate = (min(attention.k.firingRate, attention.v.firingRate) + attention.q.firingRate) / 2
            layers.append(
                LayerActivity(
                    name: "blocks.\(block).attn.matmul", quantization: nil, parameters: 0, fanIn: attention.tokens,
                    macs: 2 * perStep * timeSteps, inputFiringRate: rate, spikingInput: true))
        }
        return Measurement(accuracy: summary.accuracy, predictions: summary.predictions, layers: layers)
    }
}
