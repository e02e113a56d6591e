// SpikingNN
//
// Spiking transformer layers with explicit forward and backward passes, the multi-step LIF neuron with its
// surrogate gradient, the Spikformer model built from YAML, AdamW, the trainer, and safetensors checkpoints.

public import Tensor

/// A named tensor of model state: a learnable parameter with its gradient, or a buffer such as a
/// BatchNorm running statistic (``isTrainable`` false).
///
/// The name is the checkpoint name (PyTorch convention, e.g. `blocks.0.attn.q.linear.weight`).
/// Every assignment to ``value`` bumps ``version``, which layers use to know when a cached
/// quantized weight is stale.
public final class Parameter {
    /// Checkpoint name.
    public let name: String
    /// Whether the optimizer updates it (false for running statistics).
    public let isTrainable: Bool
    /// Whether AdamW applies weight decay (conv and linear weights, not biases or norms).
    public let decays: Bool
    /// The current value.
    public var value: Tensor {
        didSet {
            precondition(value.shape == oldValue.shape, "\(name): shape changed from \(oldValue.shape) to \(value.shape)")
            version &+= 1
        }
    }
    /// Accumulated gradient, allocated on the first backward pass (inference never allocates it).
    public var gradient: Tensor?
    /// Incremented on every change of ``value``.
    public private(set) var version: Int = 0

    public init(name: String, value: Tensor, isTrainable: Bool = true, decays: Bool = false) {
        self.name = name
        self.value = value
        self.isTrainable = isTrainable
        self.decays = decays
    }

    /// Adds `delta` to the gradient (allocating it as zeros first if needed).
    public func accumulateGradient(_ delta: Tensor) {
        precondition(delta.count == value.count, "\(name): gradient of \(delta.shape) for value \(value.shape)")
        if gradient == nil {
            gradient = delta.reshaped(value.shape)
        } else {
            gradient!.add(delta)
        }
    }

    /// Calls `body` with the gradient buffer (zero-initialised if absent) to accumulate into.
    public func withGradientBuffer<R>(_ body: (UnsafeMutableBufferPointer<Float>) -> R) -> R {
        if gradient == nil { gradient = Tensor(shape: value.shape) }
        return gradient!.withUnsafeMutableBufferPointer(body)
    }

    /// Sets the gradient to zero (keeps the buffer).
    public func zeroGradient() {
        if gradient != nil { gradient!.fill(0) }
    }

    /// Updates the value in place (no copy when the storage is not shared) and bumps ``version``.
    public func updateInPlace<R>(_ body: (UnsafeMutableBufferPointer<Float>) -> R) -> R {
        defer { version &+= 1 }
        return value.withUnsafeMutableBufferPointer(body)
    }
}
