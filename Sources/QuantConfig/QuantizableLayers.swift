/// The names of the quantizable layers of a Spikformer, in model order.
///
/// They are the checkpoint names of the weight tensors without the `.weight` suffix:
/// the four patch-splitting convolutions, the relative-position convolution, per block the
/// Q, K, V and projection linears and the two MLP linears, and the classification head.
/// The paper configuration (depth 2) has 18.
public enum SpikformerLayers {
    public static func quantizable(depth: Int, stages: Int = 4) -> [String] {
        var names = (0..<stages).map { "sps.stages.\($0).conv" }
        names.append("sps.rpe.conv")
        for block in 0..<depth {
            for part in ["q", "k", "v", "proj"] { names.append("blocks.\(block).attn.\(part).linear") }
            for part in ["fc1", "fc2"] { names.append("blocks.\(block).mlp.\(part).linear") }
        }
        names.append("head")
        return names
    }
}
