import Foundation
import Seeding
import SpikingNN
import Tensor
import TestSupport
import Testing

struct LIFNeuronTests {
    /// The spikes a LIF layer counts while writing them stand in for an inspection of its output
    /// (the next layer's path choice and activity statistics read it): equal to inspecting the
    /// output, in every kernel variant, for the bare neuron and BatchNorm + LIF in both modes, with
    /// rows that end off the 16-lane grid; none for the smooth stand-in.
    @Test func countedSpikesAreTheOutputsInspection() {
        defer { EventKernels.useInstructionSet(EventKernels.detectedInstructionSet) }
        for variant in ["generic", "avx2", "avx512"] where EventKernels.useInstructionSet(variant) == variant {
            var rng = SeededGenerator(seed: 21)
            let x = Tensor(shape: [3, 4, 37], scalars: (0..<(3 * 4 * 37)).map { _ in rng.nextUnitFloat() * 4 - 1 })
            let neuron = LIFNeuron(tau: 2, threshold: 1)
            let spikes = neuron.forward(x, timeSteps: 2, training: false)
            #expect(neuron.outputInspection == EventKernels.inspect(spikes), "\(variant)")
            #expect((neuron.outputInspection?.nonZero ?? 0) > 0)
            let unit = BatchNormLIF(name: "n", channels: 3, timeSteps: 2)
            for training in [true, false] {
                let out = unit.forward(x, training: training)
                #expect(unit.neuron.outputInspection == EventKernels.inspect(out), "\(variant) training \(training)")
            }
        }
        let smooth = LIFNeuron(tau: 2, threshold: 1)
        smooth.makeSmoothForGradientChecks()
        _ = smooth.forward(Tensor(shape: [2, 2, 3], repeating: 0.7), timeSteps: 2, training: false)
        #expect(smooth.outputInspection == nil)
    }

    @Test func sequenceMatchesHandComputedValues() {
        // One neuron, T = 5, τ = 2, V_th = 1: H = V/2 + X/2.
        // X = 1.5: H = 0.75, no spike, V = 0.75
        // X = 1.5: H = 1.125, spike, V = 0
        // X = 0.4: H = 0.2, V = 0.2
        // X = 2.0: H = 1.1, spike, V = 0
        // X = 1.99: H = 0.995, no spike
        let lif = LIFNeuron()
        let x = Tensor(shape: [1, 5, 1], scalars: [1.5, 1.5, 0.4, 2.0, 1.99])
        let s = lif.forward(x, timeSteps: 5, training: false)
        #expect(s.scalars == [0, 1, 0, 1, 0])
        // The attention neuron (V_th = 0.5) fires on the first step already.
        let attention = LIFNeuron(threshold: 0.5)
        #expect(attention.forward(x, timeSteps: 5, training: false).scalars == [1, 1, 0, 1, 1])
    }

    @Test func timeIsOutermostInTheFrameIndex() {
        // Channel-major [C=1, T·B = 2·2, N=1]: frames (t0,b0), (t0,b1), (t1,b0), (t1,b1).
        let lif = LIFNeuron()
        let x = Tensor(shape: [1, 4, 1], scalars: [1.5, 0, 1.5, 0])
        #expect(lif.forward(x, timeSteps: 2, training: false).scalars == [0, 0, 1, 0])
    }

    /// The backward pass runs a row in chunks of 16-lane groups in C (per instruction-set variant),
    /// then 8 at a time in Swift, then one at a time. Each neuron's gradient must not depend on which
    /// of them computed it: rotating the neurons within the row moves each into another path, and the
    /// gradients (rotated back) must be bit-identical, under every variant the CPU has.
    @Test(arguments: [27, 2 * NeuronKernels.chunk + 59])  // 16 in C, 8 in Swift lanes, 3 alone; two full chunks and a part
    func backwardIsTheSameInEveryLaneAndVariant(neurons m: Int) {
        var rng = SeededGenerator(seed: 29)
        let t = 5
        var xs = GradientCheck.random([1, t * m], &rng, scale: 2).scalars.map { $0 + 1 }
        let gs = GradientCheck.random([1, t * m], &rng).scalars
        xs[0] = -400  // the exponential's clamp
        xs[m + 1] = 2  // H exactly at the threshold on the first step (x = 2: H = 1)
        func gradients(rotatedBy r: Int) -> [UInt32] {
            var x = [Float](repeating: 0, count: t * m), g = x
            for step in 0..<t {
                for p in 0..<m {
                    x[step * m + (p + r) % m] = xs[step * m + p]
                    g[step * m + (p + r) % m] = gs[step * m + p]
                }
            }
            let lif = LIFNeuron()
            _ = lif.forward(Tensor(shape: [1, t * m], scalars: x), timeSteps: t, training: true)
            let dx = lif.backward(Tensor(shape: [1, t * m], scalars: g)).scalars
            var back = [UInt32](repeating: 0, count: t * m)
            for step in 0..<t { for p in 0..<m { back[step * m + p] = dx[step * m + (p + r) % m].bitPattern } }
            return back
        }
        defer { EventKernels.useInstructionSet(EventKernels.detectedInstructionSet) }
        let expected = gradients(rotatedBy: 0)
        #expect(expected.contains { Float(bitPattern: $0) != 0 }, "some gradient flows")
        for variant in ["generic", "avx2", "avx512"] where EventKernels.useInstructionSet(variant) == variant {
            for r in [0, 5, 11, 19, m / 2 + 3] {
                #expect(gradients(rotatedBy: r) == expected, "\(variant), neurons rotated by \(r)")
            }
        }
    }

    /// The forward pass runs a row 16 neurons at a time in C (per variant), the rest one at a
    /// time in Swift: every neuron's spikes equal the recurrence H = (1 − 1/τ)·V + (a·x + b)/τ
    /// evaluated here one neuron at a time, whichever path computed it.
    @Test(arguments: [37, 2 * NeuronKernels.chunk + 53])  // 32 in C, 5 alone; two full chunks and a part
    func forwardIsTheRecurrenceInEveryLaneAndVariant(neurons m: Int) {
        var rng = SeededGenerator(seed: 31)
        let t = 6
        var xs = GradientCheck.random([1, t * m], &rng, scale: 3).scalars.map { $0 + 1 }
        xs[m + 1] = 2  // H exactly at the threshold (x = 2: H = 1 on the first step)
        let lif = LIFNeuron()
        let (decay, gain) = (1 - 1 / lif.tau, 1 / lif.tau)
        var expected = [Float](repeating: 0, count: t * m)
        for p in 0..<m {
            var v: Float = 0
            for step in 0..<t {
                let h = decay * v + gain * (1 * xs[step * m + p] + 0)
                expected[step * m + p] = h >= lif.threshold ? 1 : 0
                v = h >= lif.threshold ? 0 : h
            }
        }
        #expect(expected.contains(1) && expected.contains(0))
        defer { EventKernels.useInstructionSet(EventKernels.detectedInstructionSet) }
        for variant in ["generic", "avx2", "avx512"] where EventKernels.useInstructionSet(variant) == variant {
            let spikes = lif.forward(Tensor(shape: [1, t * m], scalars: xs), timeSteps: t, training: false).scalars
            #expect(spikes == expected, "\(variant)")
        }
    }

    @Test func backwardMatchesSurrogateFormula() {
        var rng = SeededGenerator(seed: 11)
        let (channels, t, m) = (3, 6, 7)
        let x = GradientCheck.random([channels, t * m], &rng, scale: 1.5)
        let ds = GradientCheck.random([channels, t * m], &rng)
        let lif = LIFNeuron()
        let s = lif.forward(x, timeSteps: t, training: true)
        let dx = lif.backward(ds)
        // Independent reference in Double.
        func sg(_ h: Double) -> Double {
            let sig = 1 / (1 + Foundation.exp(-4 * (h - 1)))
            return 4 * sig * (1 - sig)
        }
        for c in 0..<channels {
            for i in 0..<m {
                var h = [Double](repeating: 0, count: t)
                var spikes = [Double](repeating: 0, count: t)
                var v = 0.0
                for step in 0..<t {
                    let xi = Double(x[flat: c * t * m + step * m + i])
                    h[step] = v + (xi - v) / 2
                    spikes[step] = h[step] >= 1 ? 1 : 0
                    v = h[step] * (1 - spikes[step])
                    #expect(Double(s[flat: c * t * m + step * m + i]) == spikes[step])
                }
                var gv = 0.0
                for step in stride(from: t - 1, through: 0, by: -1) {
                    let index = c * t * m + step * m + i
                    let gh = Double(ds[flat: index]) * sg(h[step]) + gv * (1 - spikes[step])
                    #expect(isClose(Double(dx[flat: index]), gh / 2, relative: 1e-4, absolute: 1e-6))
                    gv = gh * 0.5
                }
            }
        }
    }

    @Test func smoothModeGradientMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 12)
        let lif = LIFNeuron(detachReset: false)
        let x = GradientCheck.random([2, 12], &rng, scale: 1.5)
        let r = GradientCheck.random([2, 12], &rng)
        lif.makeSmoothForGradientChecks()
        _ = lif.forward(x, timeSteps: 4, training: true)
        let dx = lif.backward(r)
        GradientCheck.expectMatches(dx, at: x, indices: Array(0..<24), eps: 1e-3, relative: 1e-2, absolute: 1e-3, "dx") { xp in
            GradientCheck.project(lif.forward(xp, timeSteps: 4, training: false), r)
        }
    }

    /// In evaluation the spikes overwrite the input currents only when nothing else holds them: a
    /// caller's tensor is left as it was, and both paths give the same spikes.
    @Test func evaluationWritesInPlaceOnlyWhenTheInputIsNotShared() {
        var rng = SeededGenerator(seed: 37)
        let m = NeuronKernels.chunk + 21
        let held = Tensor(shape: [3, 4 * m], scalars: GradientCheck.random([3, 4 * m], &rng, scale: 3).scalars.map { $0 + 1 })
        let before = held.scalars
        let lif = LIFNeuron()
        let fromShared = lif.forward(held, timeSteps: 4, training: false)
        #expect(held.scalars == before, "the caller's currents are untouched")
        let fromUnique = lif.forward(Tensor(shape: held.shape, scalars: before), timeSteps: 4, training: false)
        #expect(fromShared == fromUnique)
        #expect(fromShared.scalars.contains(1) && fromShared.scalars.contains(0))
        let fused = BatchNormLIF(name: "n", channels: 3, timeSteps: 4)
        fused.norm.weight.value = GradientCheck.random([3], &rng)
        let fusedShared = fused.forward(held, training: false)
        #expect(held.scalars == before)
        #expect(fusedShared == fused.forward(Tensor(shape: held.shape, scalars: before), training: false))
    }

    /// The fused layer against BatchNorm then LIF, values and affine gradients. The second shape's
    /// 171 positions per time step take the C kernel's two chunks (128 + 32), the 8-lane Swift
    /// loop and the scalar tail, whose BatchNorm gradient sums the backward pass adds up apart.
    @Test(arguments: [[4, 6, 5], [3, 3 * 171]])
    func fusedBatchNormLIFMatchesComposition(shape: [Int]) {
        var rng = SeededGenerator(seed: 13)
        let channels = shape[0]
        let fused = BatchNormLIF(name: "n", channels: channels, timeSteps: 3)
        let bn = BatchNorm(name: "n", channels: channels)
        let lif = LIFNeuron()
        let gamma = GradientCheck.random([channels], &rng)
        fused.norm.weight.value = gamma
        bn.weight.value = gamma
        let x = GradientCheck.random(shape, &rng, scale: 2)
        let ds = GradientCheck.random(shape, &rng)
        let a = fused.forward(x, training: true)
        let b = lif.forward(bn.forward(x, training: true), timeSteps: 3, training: true)
        #expect(a == b)
        let da = fused.backward(ds)
        let db = bn.backward(lif.backward(ds))
        #expect(firstMismatch(da.scalars, db.scalars, relative: 1e-5, absolute: 1e-6) == nil)
        #expect(firstMismatch(fused.norm.weight.gradient!.scalars, bn.weight.gradient!.scalars, relative: 1e-5, absolute: 1e-6) == nil)
        #expect(firstMismatch(fused.norm.bias.gradient!.scalars, bn.bias.gradient!.scalars, relative: 1e-5, absolute: 1e-6) == nil)
        #expect(fused.norm.runningMean.value == bn.runningMean.value)
    }

    /// Pooling fused into BatchNorm + LIF (a stem stage's spikes pooled channel by channel from a
    /// scratch row) gives the separate layers' bits in both directions: spikes, batch statistics,
    /// input gradient and affine gradients. Five channels split unevenly over the threads; the
    /// second shape's rows exceed the length at which the backward pass stops pairing channels.
    @Test(arguments: [(5, 2, 3, 9, 9), (3, 2, 2, 100, 96)])
    func poolingFusedIntoBatchNormLIFGivesTheSeparateLayersBits(shape: (Int, Int, Int, Int, Int)) {
        let (channels, timeSteps, batch, height, width) = shape
        var rng = SeededGenerator(seed: 31)
        let inputShape = [channels, timeSteps * batch, height, width]
        let pooledShape = [channels, timeSteps * batch, MaxPool2d.outputSize(height), MaxPool2d.outputSize(width)]
        let x = GradientCheck.random(inputShape, &rng, scale: 2)
        let dy = GradientCheck.random(pooledShape, &rng)
        let gamma = GradientCheck.random([channels], &rng)
        let (fused, fusedPool) = (BatchNormLIF(name: "n", channels: channels, timeSteps: timeSteps), MaxPool2d())
        let (separate, separatePool) = (BatchNormLIF(name: "n", channels: channels, timeSteps: timeSteps), MaxPool2d())
        fused.norm.weight.value = gamma
        separate.norm.weight.value = gamma

        let pooled = fused.forward(x, training: true, pooledBy: fusedPool)
        let reference = separatePool.forward(separate.forward(x, training: true), training: true)
        #expect(pooled.shape == pooledShape)
        #expect(pooled == reference)
        #expect(pooled.scalars.contains(1) && pooled.scalars.contains(0))
        #expect(fused.norm.runningMean.value == separate.norm.runningMean.value)
        #expect(fused.norm.runningVar.value == separate.norm.runningVar.value)
        #expect(fused.neuron.outputInspection == separate.neuron.outputInspection)

        let dx = fused.backward(dy, pooledBy: fusedPool)
        let dxReference = separate.backward(separatePool.backward(dy))
        #expect(dx.shape == inputShape)
        #expect(dx == dxReference)
        #expect(fused.norm.weight.gradient == separate.norm.weight.gradient)
        #expect(fused.norm.bias.gradient == separate.norm.bias.gradient)

        // Evaluation pools the folded neuron's spikes (no positions kept).
        #expect(fused.forward(x, training: false, pooledBy: fusedPool)
                    == separatePool.forward(separate.forward(x, training: false), training: false))
    }

    /// The backward pass writes over a spike gradient that no one else holds, and only then: the
    /// same values either way, through the C lanes, the 8-lane Swift ones and the scalar tail
    /// (43 positions per time step: 32 + 8 + 3).
    @Test func fusedBatchNormLIFBackwardOverwritesOnlyAnUnsharedGradient() {
        var rng = SeededGenerator(seed: 21)
        let fused = BatchNormLIF(name: "n", channels: 4, timeSteps: 3)
        let x = GradientCheck.random([4, 3 * 43], &rng, scale: 2)
        let ds = GradientCheck.random([4, 3 * 43], &rng)
        let before = ds.scalars
        _ = fused.forward(x, training: true)
        let fromShared = fused.backward(ds)
        #expect(ds.scalars == before)

        _ = fused.forward(x, training: true)
        let unshared = Tensor(shape: ds.shape, scalars: before)
        let address = unshared.withUnsafeBufferPointer { $0.baseAddress }
        let fromUnshared = fused.backward(consume unshared)
        #expect(fromUnshared.withUnsafeBufferPointer { $0.baseAddress } == address)
        #expect(fromUnshared == fromShared)
    }
}

extension LIFNeuronTests {
    @Test func fastSurrogateMatchesTheExactFormula() {
        let lif = LIFNeuron()
        var x: Float = -30
        while x <= 30 {
            let sig = 1 / (1 + Foundation.exp(-4 * Double(x)))
            let exact = 4 * sig * (1 - sig)
            let fast = Double(lif.surrogateDerivative(at: x + 1))
            #expect(isClose(fast, exact, relative: 1e-5, absolute: 1e-9), "x = \(x)")
            x += 0.0137
        }
    }
}
