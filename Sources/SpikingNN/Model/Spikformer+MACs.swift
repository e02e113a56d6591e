public import Tensor

extension Spikformer {
    /// Dense multiply-accumulates per sample per time step: every quantizable layer plus the
    /// attention products (Kᵀ·V and Q·(KᵀV): 2·heads·N·d_h² per block).
    public var denseMACsPerTimeStep: Int {
        quantizableLayers.reduce(0) { $0 + $1.denseMACsPerTimeStep } + attentionMACsPerTimeStep * config.depth
    }

    /// Attention-product MACs per block per sample per time step.
    public var attentionMACsPerTimeStep: Int {
        let d = config.embedDimension / config.heads
        return 2 * config.heads * config.tokens * d * d
    }
}
