public import Tensor

/// BatchNorm followed by LIF neurons, fused channel by channel: one parallel pass takes a
/// channel's batch statistics and runs the LIF time loop over the same row while it is still in
/// cache, so neither the normalised currents nor the membrane potentials are stored; the backward
/// pass recomputes H from the BatchNorm input and runs the LIF BPTT and the BatchNorm gradient of
/// a channel back to back, in place.
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

    public func forward(_ x: consuming Tensor, training: Bool) -> Tensor {
        let channels = norm.channels
        precondition(x.shape.first == channels, "\(norm.name): expected \(channels) channels, got shape \(x.shape)")
        guard training || norm.collectsBatchStatistics else {
            return neuron.forward(consume x, timeSteps: timeSteps, training: false, affine: norm.evaluationAffine())
        }
        // Batch statistics: a training pass, or BatchNorm re-estimation in evaluation, whose spikes
        // may overwrite the currents as evaluation's do (training keeps them for the backward pass).
        var input = consume x
        let row = input.count / channels
        precondition(row % timeSteps == 0, "\(norm.name): \(row) values per channel do not split into \(timeSteps) time steps")
        let block = row / timeSteps
        let gamma = norm.weight.value.scalars
        let beta = norm.bias.value.scalars
        let epsilon = norm.epsilon
        let neuron = self.neuron
        let timeSteps = self.timeSteps
        var mean = [Float](repeating: 0, count: channels)
        var variance = [Float](repeating: 0, count: channels)
        var counts = [Int](repeating: 0, count: channels)
        func run(_ currents: UnsafePointer<Float>, _ spikes: UnsafeMutablePointer<Float>) {
            mean.withUnsafeMutableBufferPointer { pm in
                variance.withUnsafeMutableBufferPointer { pv in
                    counts.withUnsafeMutableBufferPointer { pc in
                        let (m, v, spikeCounts) = (pm.baseAddress!, pv.baseAddress!, pc.baseAddress!)
                        Compute.parallelFor(channels, grain: 1) { range in
                            // Channels in pairs: two statistics chains in flight, then each row's spikes.
                            var c = range.lowerBound
                            while c < range.upperBound {
                                let pair = c + 1 < range.upperBound
                                if pair {
                                    ((m[c], v[c]), (m[c + 1], v[c + 1])) = BatchNorm.rowStatistics(
                                        currents + c * row, currents + (c + 1) * row, count: row)
                                } else {
                                    (m[c], v[c]) = BatchNorm.rowStatistics(currents + c * row, count: row)
                                }
                                for channel in c..<(pair ? c + 2 : c + 1) {
                                    let affine = BatchNorm.trainingAffine(
                                        mean: m[channel], variance: v[channel], gamma: gamma[channel], beta: beta[channel], epsilon: epsilon)
                                    spikeCounts[channel] = neuron.forwardRow(
                                        currents + channel * row, scale: affine.scale, shift: affine.shift, timeSteps: timeSteps,
                                        block: block, spikes: spikes + channel * row)
                                }
                                c += pair ? 2 : 1
                            }
                        }
                    }
                }
            }
        }
        let output = input.overwritingIfUnique(when: !training, run)
        _ = norm.recordBatchStatistics(of: input, mean: mean, variance: variance, keepForBackward: training)
        neuron.recordOutput(spikes: counts.reduce(0, +), of: output.count)
        return output
    }

    /// dL/dx from dL/dS. A spike gradient no one else holds is overwritten with the result (each
    /// position is read before it is written), which saves a fresh buffer and the memory traffic of
    /// filling it; otherwise the result goes to a new tensor. The values are the same either way.
    public func backward(_ ds: consuming Tensor) -> Tensor {
        let state = norm.takeBackwardState()
        let x = state.input
        precondition(ds.shape == x.shape, "\(norm.name): gradient shape \(ds.shape) vs \(x.shape)")
        let channels = norm.channels
        let row = x.count / channels
        let block = row / timeSteps
        let neuron = self.neuron
        let timeSteps = self.timeSteps
        let beta = norm.bias.value.scalars
        var dGamma = [Float](repeating: 0, count: channels)
        var dBeta = [Float](repeating: 0, count: channels)
        func run(_ gs: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
            x.withUnsafeBufferPointer { px in
                dGamma.withUnsafeMutableBufferPointer { dg in
                    dBeta.withUnsafeMutableBufferPointer { db in
                        let (xs, dgp, dbp) = (px.baseAddress!, dg.baseAddress!, db.baseAddress!)
                        Compute.parallelFor(channels, grain: 1) { range in
                            let scratch = LIFNeuron.BackwardScratch(timeSteps: timeSteps)
                            defer { scratch.deallocate() }
                            // dL/d(normalised input) into the output row, from the forward pass's map
                            // (the kept statistics, as `BatchNorm.trainingAffine`).
                            let lifBackward = { (c: Int) -> Void in
                                let scale = state.gamma[c] * state.inverseStd[c]
                                let shift = beta[c] - state.mean[c] * scale
                                neuron.backwardRow(input: xs + c * row, scale: scale, shift: shift, spikeGradient: gs + c * row,
                                                   timeSteps: timeSteps, block: block, into: out + c * row, scratch: scratch)
                            }
                            let normBackward = { (c: Int, sums: (Double, Double)?) -> Void in
                                let (o, xr) = (out + c * row, xs + c * row)
                                let (gamma, mean, inverseStd) = (state.gamma[c], state.mean[c], state.inverseStd[c])
                                if let sums {
                                    (dgp[c], dbp[c]) = BatchNorm.backwardRow(
                                        o, input: xr, count: row, gamma: gamma, mean: mean, inverseStd: inverseStd, sums: sums, into: o)
                                } else {
                                    (dgp[c], dbp[c]) = BatchNorm.backwardRow(
                                        o, input: xr, count: row, gamma: gamma, mean: mean, inverseStd: inverseStd, into: o)
                                }
                            }
                            // Then BatchNorm's gradient in place. Rows small enough that two channels' stay in
                            // cache go in pairs, for two chains of gradient sums in flight (the same bits).
                            var c = range.lowerBound
                            while c < range.upperBound {
                                if row <= 32_768 && c + 1 < range.upperBound {
                                    lifBackward(c)
                                    lifBackward(c + 1)
                                    let gradients = (UnsafePointer(out + c * row), UnsafePointer(out + (c + 1) * row))
                                    let inputs = (xs + c * row, xs + (c + 1) * row)
                                    let sums: ((Double, Double), (Double, Double)) = RowKernels.gradientSums(
                                        gradients, inputs, count: row, means: (state.mean[c], state.mean[c + 1]),
                                        inverseStds: (state.inverseStd[c], state.inverseStd[c + 1]))
                                    normBackward(c, sums.0)
                                    normBackward(c + 1, sums.1)
                                    c += 2
                                } else {
                                    lifBackward(c)
                                    normBackward(c, nil)
                                    c += 1
                                }
                            }
                        }
                    }
                }
            }
        }
        var gradient = consume ds
        let dx = gradient.overwritingIfUnique { run($0, into: $1) }
        norm.accumulateAffineGradients(dGamma: dGamma, dBeta: dBeta)
        return dx
    }
}

extension BatchNormLIF: Module {
    public var children: [any Module] { [norm, neuron] }
}
