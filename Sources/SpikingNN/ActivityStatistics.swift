public import Tensor

/// Counts of a layer's input elements seen while activity tracking is on.
///
/// The firing rate of a spiking input is `nonZero / total`. `isBinary` stays true while every
/// input element seen was exactly 0 or 1; the first convolution sees real-valued event counts and
/// the head sees token means, so they report false (an energy model charges them as MACs).
public struct InputActivity: Sendable, Hashable, Codable {
    public var nonZero: Int = 0
    public var total: Int = 0
    public var isBinary: Bool = true
    /// Sum of the input values. Residual connections add spike tensors, so an input element can
    /// be 2 (two spikes to accumulate); the head sees token means of spikes.
    public var sum: Double = 0

    public init(nonZero: Int = 0, total: Int = 0, isBinary: Bool = true, sum: Double = 0) {
        self.nonZero = nonZero
        self.total = total
        self.isBinary = isBinary
        self.sum = sum
    }

    /// `nonZero / total` (0 when nothing was counted).
    public var firingRate: Double { total == 0 ? 0 : Double(nonZero) / Double(total) }

    /// `sum / total`: spikes per input element. Equals ``firingRate`` for binary input; for summed
    /// spikes it counts every spike, which is what accumulate-only hardware does.
    public var meanValue: Double { total == 0 ? 0 : sum / Double(total) }

    /// Adds an input's inspection (the pass the product kernels make anyway) to these statistics.
    mutating func record(_ inspection: EventKernels.Inspection) {
        nonZero += inspection.nonZero
        sum += inspection.sum
        total += inspection.count
        if !inspection.isBinary { isBinary = false }
    }
}

/// Spike counts of one spiking self-attention's Q, K and V while tracking is on.
///
/// The attention products cost, per block, T·heads·N·d_h² operations scaled by the operands'
/// firing rates; the counts here give those rates (`q.firingRate`, …).
public struct AttentionActivity: Sendable, Hashable, Codable {
    public var q = InputActivity()
    public var k = InputActivity()
    public var v = InputActivity()
    public var heads: Int
    public var headDimension: Int
    public var tokens: Int

    public init(heads: Int, headDimension: Int, tokens: Int) {
        self.heads = heads
        self.headDimension = headDimension
        self.tokens = tokens
    }
}
