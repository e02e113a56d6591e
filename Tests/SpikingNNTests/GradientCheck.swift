import Seeding
import SpikingNN
import Tensor
import TestSupport
import Testing

/// Helpers for finite-difference gradient checks.
enum GradientCheck {
    static func random(_ shape: [Int], _ rng: inout SeededGenerator, scale: Float = 1) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.nextGaussian() * scale })
    }

    static func binary(_ shape: [Int], _ rng: inout SeededGenerator, rate: Float = 0.3) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.nextUnitFloat() < rate ? 1 : 0 })
    }

    /// Σ r·y in Double.
    static func project(_ y: Tensor, _ r: Tensor) -> Double {
        precondition(y.count == r.count)
        var total = 0.0
        for i in 0..<y.count { total += Double(y[flat: i]) * Double(r[flat: i]) }
        return total
    }

    /// Central difference of `loss` with respect to `tensor[flat: index]`.
    static func numeric(_ tensor: inout Tensor, _ index: Int, eps: Float, _ loss: (Tensor) -> Double) -> Double {
        let original = tensor[flat: index]
        tensor[flat: index] = original + eps
        let plus = loss(tensor)
        tensor[flat: index] = original - eps
        let minus = loss(tensor)
        tensor[flat: index] = original
        return (plus - minus) / Double(2 * eps)
    }

    /// Checks `analytic` against central differences of `loss` at the given indices of `point`.
    static func expectMatches(_ analytic: Tensor, at point: Tensor, indices: [Int], eps: Float, relative: Double = 1e-2,
                              absolute: Double = 1e-3, _ what: String, _ loss: (Tensor) -> Double,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        var p = point
        for index in indices {
            let numeric = numeric(&p, index, eps: eps, loss)
            let value = Double(analytic[flat: index])
            #expect(isClose(value, numeric, relative: relative, absolute: absolute),
                    "\(what)[\(index)]: analytic \(value) vs numeric \(numeric)", sourceLocation: sourceLocation)
        }
    }

    /// A few indices spread over `count`.
    static func sample(_ count: Int, _ n: Int = 12, _ rng: inout SeededGenerator) -> [Int] {
        if count <= n { return Array(0..<count) }
        return (0..<n).map { _ in Int(rng.next() % UInt64(count)) }
    }
}

extension GradientCheck {
    /// Directional check: with a random ±1 direction u, compares Σ gᵢuᵢ with the central
    /// difference of `loss` along u. Summing over many elements lifts the signal far above the
    /// Float32 rounding noise of a deep forward pass, which single-element differences drown in.
    static func expectDirectionalMatch(_ analytic: Tensor, at point: Tensor, eps: Float, relative: Double = 3e-2,
                                       absolute: Double = 1e-4, _ what: String, rng: inout SeededGenerator,
                                       _ loss: (Tensor) -> Double, sourceLocation: SourceLocation = #_sourceLocation) {
        let u = (0..<point.count).map { _ in rng.next() & 1 == 0 ? Float(1) : -1 }
        var plus = point
        var minus = point
        for i in 0..<point.count {
            plus[flat: i] += eps * u[i]
            minus[flat: i] -= eps * u[i]
        }
        let numeric = (loss(plus) - loss(minus)) / Double(2 * eps)
        _ = loss(point)
        var value = 0.0
        for i in 0..<point.count { value += Double(analytic[flat: i]) * Double(u[i]) }
        #expect(isClose(value, numeric, relative: relative, absolute: absolute),
                "\(what): analytic \(value) vs numeric \(numeric)", sourceLocation: sourceLocation)
    }

    /// Directional check along u = sign(analytic): compares Σ|gᵢ| with the central difference of
    /// `loss` along u. A random ±1 direction sums signed terms that largely cancel (Σ gᵢuᵢ can be
    /// 100× smaller than Σ|gᵢ|), so the difference quotient, whose Float32 rounding noise is about
    /// u₃₂·Σ|rᵢyᵢ|/ε and depends on the BLAS kernel's summation order, can swamp it; along sign(g) the
    /// signal is as large as the gradient allows and a wrong sign or magnitude in any component
    /// still shows as a shortfall.
    static func expectDirectionalMatchAlongGradient(_ analytic: Tensor, at point: Tensor, eps: Float, relative: Double = 3e-2,
                                                    absolute: Double = 1e-4, _ what: String, _ loss: (Tensor) -> Double,
                                                    sourceLocation: SourceLocation = #_sourceLocation) {
        var plus = point
        var minus = point
        var value = 0.0
        for i in 0..<point.count {
            let u: Float = analytic[flat: i] < 0 ? -1 : 1
            plus[flat: i] += eps * u
            minus[flat: i] -= eps * u
            value += Double(abs(analytic[flat: i]))
        }
        let numeric = (loss(plus) - loss(minus)) / Double(2 * eps)
        _ = loss(point)
        #expect(isClose(value, numeric, relative: relative, absolute: absolute),
                "\(what): analytic \(value) vs numeric \(numeric)", sourceLocation: sourceLocation)
    }
}
