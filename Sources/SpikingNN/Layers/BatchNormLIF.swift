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

    /// - Parameter pool: max pooling of the spikes, fused channel by channel: each channel's spikes go
    ///   to a scratch row that is pooled while it is in cache, so the full-size spike tensor is never
    ///   written (a stem stage's is the largest tensor of a step). The result is the pooled spikes.
    public func forward(_ x: consuming Tensor, training: Bool, pooledBy pool: MaxPool2d? = nil) -> Tensor {
        let channels = norm.channels
        precondition(x.shape.first == channels, "\(norm.name): expected \(channels) channels, got shape \(x.shape)")
        guard training || norm.collectsBatchStatistics else {
            let spikes = neuron.forward(consume x, timeSteps: timeSteps, training: false, affine: norm.evaluationAffine())
            return pool?.forward(spikes, training: false) ?? spikes
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
        /// `spikes(part, channel)`: where the channel's spikes go; `finish(part, channel)` runs after.
        func run(_ currents: UnsafePointer<Float>, spikes: (Int, Int) -> UnsafeMutablePointer<Float>, finish: (Int, Int) -> Void) {
            mean.withUnsafeMutableBufferPointer { pm in
                variance.withUnsafeMutableBufferPointer { pv in
                    counts.withUnsafeMutableBufferPointer { pc in
                        let (m, v, spikeCounts) = (pm.baseAddress!, pv.baseAddress!, pc.baseAddress!)
                        Compute.parallelParts(channels, grain: 1) { part, range in
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
                                        block: block, spikes: spikes(part, channel))
                                    finish(part, channel)
                                }
                                c += pair ? 2 : 1
                            }
                        }
                    }
                }
            }
        }
        let output: Tensor
        if let pool {
            var pooled = pool.prepareForward(inputShape: input.shape, training: training)
            let frames = row / (input.shape[2] * input.shape[3])
            let parts = Compute.partCount(channels, grain: 1)
            var rows = Tensor(uninitializedShape: [parts, row])
            input.withUnsafeBufferPointer { px in
                rows.withUnsafeMutableBufferPointer { pr in
                    pooled.withUnsafeMutableBufferPointer { po in
                        let (scratchRows, out) = (pr.baseAddress!, po.baseAddress!)
                        let scratch = (0..<parts).map { _ in
                            MaxPool2d.Scratch(height: input.shape[2], width: input.shape[3])
                        }
                        defer { scratch.forEach { $0.deallocate() } }
                        run(px.baseAddress!, spikes: { part, _ in scratchRows + part * row }) { part, channel in
                            pool.pool(scratchRows + part * row, planes: channel * frames..<(channel + 1) * frames, into: out,
                                      scratch: scratch[part])
                        }
                    }
                }
            }
            output = pooled
        } else {
            output = input.overwritingIfUnique(when: !training) { currents, spikes in
                run(currents, spikes: { _, channel in spikes + channel * row }, finish: { _, _ in })
            }
        }
        _ = norm.recordBatchStatistics(of: input, mean: mean, variance: variance, keepForBackward: training)
        neuron.recordOutput(spikes: counts.reduce(0, +), of: input.count)
        return output
    }

    /// dL/dx from dL/dS. A spike gradient no one else holds is overwritten with the result (each
    /// position is read before it is written), which saves a fresh buffer and the memory traffic of
    /// filling it; otherwise the result goes to a new tensor. The values are the same either way.
    ///
    /// - Parameter pool: the pooling the forward pass fused (`ds` is then the pooled spikes'
    ///   gradient): each channel's spike gradient is scattered into a scratch row and used while in cache.
    public func backward(_ ds: consuming Tensor, pooledBy pool: MaxPool2d? = nil) -> Tensor {
        let state = norm.takeBackwardState()
        let x = state.input
        let spikesShape = pool?.prepareBackward(gradientCount: ds.count) ?? ds.shape
        precondition(spikesShape == x.shape, "\(norm.name): gradient shape \(spikesShape) vs \(x.shape)")
        let channels = norm.channels
        let row = x.count / channels
        let block = row / timeSteps
        let neuron = self.neuron
        let timeSteps = self.timeSteps
        let beta = norm.bias.value.scalars
        var dGamma = [Float](repeating: 0, count: channels)
        var dBeta = [Float](repeating: 0, count: channels)
        /// `gradient(part, channel)`: the channel's dL/dS row.
        func run(gradient: (Int, Int) -> UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
            x.withUnsafeBufferPointer { px in
                dGamma.withUnsafeMutableBufferPointer { dg in
                    dBeta.withUnsafeMutableBufferPointer { db in
                        let (xs, dgp, dbp) = (px.baseAddress!, dg.baseAddress!, db.baseAddress!)
                        Compute.parallelParts(channels, grain: 1) { part, range in
                            let scratch = LIFNeuron.BackwardScratch(timeSteps: timeSteps)
                            defer { scratch.deallocate() }
                            // dL/d(normalised input) into the output row, from the forward pass's map (the kept
                            // statistics, as `BatchNorm.trainingAffine`), with BatchNorm's gradient sums taken
                            // on the way; then BatchNorm's gradient in place.
                            for c in range {
                                let (gamma, mean, inverseStd) = (state.gamma[c], state.mean[c], state.inverseStd[c])
                                let scale = gamma * inverseStd
                                let shift = beta[c] - mean * scale
                                let (o, xr) = (out + c * row, xs + c * row)
                                let sums = neuron.backwardRow(
                                    input: xr, scale: scale, shift: shift, spikeGradient: gradient(part, c), timeSteps: timeSteps,
                                    block: block, into: o, scratch: scratch,
                                    normalizedBy: LIFNeuron.Normalization(mean: mean, inverseStd: inverseStd))
                                (dgp[c], dbp[c]) = BatchNorm.backwardRow(
                                    o, input: xr, count: row, gamma: gamma, mean: mean, inverseStd: inverseStd, sums: sums, into: o)
                            }
                        }
                    }
                }
            }
        }
        var dx: Tensor
        if let pool {
            dx = Tensor(uninitializedShape: x.shape)
            let frames = row / (x.shape[2] * x.shape[3])
            var rows = Tensor(uninitializedShape: [Compute.partCount(channels, grain: 1), row])
            ds.withUnsafeBufferPointer { pds in
                rows.withUnsafeMutableBufferPointer { pr in
                    dx.withUnsafeMutableBufferPointer { pdx in
                        let (pooledGradient, scratchRows) = (pds.baseAddress!, pr.baseAddress!)
                        run(gradient: { part, channel in
                            pool.scatter(pooledGradient, planes: channel * frames..<(channel + 1) * frames, into: scratchRows + part * row)
                            return UnsafePointer(scratchRows + part * row)
                        }, into: pdx.baseAddress!)
                    }
                }
            }
            pool.finishBackward()
        } else {
            var gradient = consume ds
            dx = gradient.overwritingIfUnique { gs, out in run(gradient: { _, channel in gs + channel * row }, into: out) }
        }
        norm.accumulateAffineGradients(dGamma: dGamma, dBeta: dBeta)
        return dx
    }
}

extension BatchNormLIF: Module {
    public var children: [any Module] { [norm, neuron] }
}
