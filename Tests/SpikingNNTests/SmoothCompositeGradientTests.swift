import Seeding
import SpikingNN
import Tensor
import TestSupport
import Testing

/// Gradient checks of composite modules with smooth spikes (see `LIFNeuron.makeSmoothForGradientChecks`).
struct SmoothCompositeGradientTests {
    @Test func batchNormLIF() {
        var rng = SeededGenerator(seed: 31)
        let unit = BatchNormLIF(name: "n", channels: 3, timeSteps: 2)
        unit.neuron.makeSmoothForGradientChecks()
        let x = GradientCheck.random([3, 4, 5], &rng)
        let r = GradientCheck.random([3, 4, 5], &rng)
        _ = unit.forward(x, training: true)
        let dx = unit.backward(r)
        GradientCheck.expectMatches(dx, at: x, indices: Array(0..<x.count), eps: 3e-3, relative: 2e-2, absolute: 1e-4, "dx") { xp in
            GradientCheck.project(unit.forward(xp, training: true), r)
        }
    }

    @Test func mlp() {
        var rng = SeededGenerator(seed: 32)
        let mlp = SpikingMLP(prefix: "m", dimension: 4, hidden: 6, tokens: 3, timeSteps: 2, generator: &rng)
        mlp.fc1Norm.neuron.makeSmoothForGradientChecks()
        mlp.fc2Norm.neuron.makeSmoothForGradientChecks()
        let x = GradientCheck.random([4, 4, 3], &rng)
        let r = GradientCheck.random([4, 4, 3], &rng)
        _ = mlp.forward(x, training: true)
        let dx = mlp.backward(r)
        GradientCheck.expectMatches(dx, at: x, indices: Array(0..<x.count), eps: 3e-3, relative: 2e-2, absolute: 1e-4, "dx") { xp in
            GradientCheck.project(mlp.forward(xp, training: true), r)
        }
    }

    /// The block's `x + MLP(x)`: the residual summed inside fc1's GEMM matches finite differences,
    /// and gives the same bits as adding it after the MLP's own backward.
    @Test func mlpWithResidual() {
        func makeMLP() -> SpikingMLP {
            var rng = SeededGenerator(seed: 34)
            let mlp = SpikingMLP(prefix: "m", dimension: 4, hidden: 6, tokens: 3, timeSteps: 2, generator: &rng)
            mlp.fc1Norm.neuron.makeSmoothForGradientChecks()
            mlp.fc2Norm.neuron.makeSmoothForGradientChecks()
            return mlp
        }
        var rng = SeededGenerator(seed: 35)
        let x = GradientCheck.random([4, 4, 3], &rng)
        let r = GradientCheck.random([4, 4, 3], &rng)
        let original = r.scalars
        let mlp = makeMLP()
        _ = mlp.forward(x, training: true)
        let dx = mlp.backwardWithResidual(r)
        #expect(r.scalars == original, "a caller that keeps its gradient must get it back unchanged")
        GradientCheck.expectMatches(dx, at: x, indices: Array(0..<x.count), eps: 3e-3, relative: 2e-2, absolute: 1e-4, "dx") { xp in
            var y = mlp.forward(xp, training: true)
            y.add(xp)
            return GradientCheck.project(y, r)
        }
        let separate = makeMLP()
        _ = separate.forward(x, training: true)
        var added = separate.backward(r)
        added.add(r)
        #expect(dx.scalars == added.scalars)
    }

    @Test func spikingSelfAttention() {
        var rng = SeededGenerator(seed: 33)
        let a = SpikingSelfAttention(prefix: "a", dimension: 8, heads: 2, tokens: 3, timeSteps: 2, generator: &rng)
        for n in [a.qNorm.neuron, a.kNorm.neuron, a.vNorm.neuron, a.attentionNeuron, a.projNorm.neuron] { n.makeSmoothForGradientChecks() }
        let x = GradientCheck.random([8, 4, 3], &rng)
        let r = GradientCheck.random([8, 4, 3], &rng)
        _ = a.forward(x, training: true)
        let dx = a.backward(r)
        GradientCheck.expectDirectionalMatch(dx, at: x, eps: 3e-3, "dx", rng: &rng) { xp in
            GradientCheck.project(a.forward(xp, training: true), r)
        }
        // A second direction, along sign(dx): single elements, and random directions whose terms
        // cancel, drown in Float32 rounding noise here that depends on the BLAS kernel (this check
        // used a second random direction and failed under OpenBLAS's Haswell kernels only).
        GradientCheck.expectDirectionalMatchAlongGradient(dx, at: x, eps: 3e-3, "dx") { xp in
            GradientCheck.project(a.forward(xp, training: true), r)
        }
    }
}
