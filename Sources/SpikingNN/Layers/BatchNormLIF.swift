public import Tensor

/// BatchNorm followed by LIF neurons, fused: the normalisation is applied inside the LIF time loop,
/// so the normalised currents are never stored.
///
/// Equivalent to `lif.forward(bn.forward(x))` (the unfused composition is the reference the tests
/// compare against).
public final class BatchNormLIF {
    public let norm: BatchNorm
    public let neuron: LIFNeuron
    public let timeSteps: Int

    public init(name: String, channels: Int, timeSteps: Int, threshold: Float = 1, tau: Float = 2) {
        norm = BatchNorm(name: name, channels: channels)
        neuron = LIFNeuron(tau: tau, threshold: threshold)
        self.timeSteps = timeSteps
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let affine = norm.affine(for: x, training: training)
        return neuron.forward(x, timeSteps: timeSteps, training: training, affine: affine)
    }

    public func backward(_ ds: Tensor) -> Tensor {
        norm.backward(neuron.backward(ds))
    }
}
