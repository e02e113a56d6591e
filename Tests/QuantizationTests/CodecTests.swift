import Foundation
import QuantConfig
import Quantization
import Testing

struct CodecTests {
    @Test(arguments: QuantizationSpace.supportedBits)
    func uniformLevelsAreSymmetricIntegersTimesStep(bits: Int) {
        let codec = UniformCodec(bits: bits, step: 0.5)
        let qp = (1 << (bits - 1)) - 1
        #expect(codec.levels.count == 2 * qp + 1)
        #expect(codec.levels.first == -Float(qp) * 0.5)
        #expect(codec.levels.last == Float(qp) * 0.5)
        #expect(codec.levels.contains(0))
        for (i, level) in codec.levels.enumerated() {
            #expect(level == Float(i - qp) * 0.5)
            #expect(codec.code(of: level) == UInt32(i))
            #expect(codec.code(of: level) < UInt32(1 << bits))
        }
    }

    @Test func uniformRoundsToNearestAndClips() {
        let codec = UniformCodec(bits: 3, step: 1)  // levels -3 … 3
        #expect(codec.value(of: codec.code(of: 1.49)) == 1)
        #expect(codec.value(of: codec.code(of: 1.5)) == 2)  // half away from zero
        #expect(codec.value(of: codec.code(of: -1.5)) == -2)
        #expect(codec.value(of: codec.code(of: 9)) == 3)
        #expect(codec.value(of: codec.code(of: -9)) == -3)
    }

    @Test func lsqInitialStepIsTwiceMeanAbsOverSqrtQp() {
        let weights: [Float] = [0.5, -1.5, 1.0, -1.0]  // mean |w| = 1
        let step = weights.withUnsafeBufferPointer { UniformCodec.initialStep(for: $0, bits: 4) }
        #expect(isClose(step, 2 / Float(7).squareRoot()))
    }

    @Test func powerOfTwoLevelSetsAreDocumented() {
        #expect(PowerOfTwoCodec(bits: 2, alpha: 1).levels == [-1, 0, 1])
        #expect(PowerOfTwoCodec(bits: 3, alpha: 1).levels == [-1, -0.5, -0.25, 0, 0.25, 0.5, 1])
        let four = PowerOfTwoCodec(bits: 4, alpha: 2).levels
        #expect(four == [-2, -1, -0.5, -0.25, -0.125, -0.0625, -0.03125, 0, 0.03125, 0.0625, 0.125, 0.25, 0.5, 1, 2])
        for bits in QuantizationSpace.supportedBits {
            let codec = PowerOfTwoCodec(bits: bits, alpha: 1)
            #expect(codec.levels.count == 2 * ((1 << (bits - 1)) - 1) + 1)
            #expect(codec.levels.last == 1)
            // Every non-zero level is an exact power of two.
            for level in codec.levels where level > 0 { #expect(level.significand == 1) }
        }
    }

    @Test func powerOfTwoRoundsToNearestLevelInLinearDomain() {
        let codec = PowerOfTwoCodec(bits: 3, alpha: 1)  // 0, 0.25, 0.5, 1
        func q(_ w: Float) -> Float { codec.value(of: codec.code(of: w)) }
        #expect(q(0.74) == 0.5)
        #expect(q(0.76) == 1)
        #expect(q(0.37) == 0.25)
        #expect(q(0.38) == 0.5)
        #expect(q(0.124) == 0)
        #expect(q(0.126) == 0.25)
        #expect(q(5) == 1)
        #expect(q(-0.6) == -0.5)
        #expect(q(-0.01) == 0)
        #expect(codec.code(of: -0.01) == 0)  // never negative zero
    }

    /// The codec reads exponents from the float's bits; a search over the level set must agree,
    /// at every width, on random magnitudes across the whole range and on the exact midpoints
    /// (which round to the larger magnitude).
    @Test(arguments: QuantizationSpace.supportedBits)
    func powerOfTwoMatchesANearestLevelSearch(bits: Int) {
        let alpha: Float = 0.37
        let codec = PowerOfTwoCodec(bits: bits, alpha: alpha)
        let magnitudes = codec.levels.filter { $0 >= 0 }  // 0 and the powers, ascending
        func nearest(_ w: Float) -> Float {
            var best: Float = 0
            for level in magnitudes where abs(abs(w) - level) <= abs(abs(w) - best) { best = level }
            return w < 0 && best > 0 ? -best : best
        }
        var rng = SeededGeneratorShim(seed: UInt64(bits))
        var samples: [Float] = []
        for (lower, upper) in zip(magnitudes, magnitudes.dropFirst()) {
            let midpoint: Float = (lower + upper) / 2
            samples += [midpoint, -midpoint]
        }
        for _ in 0..<4000 {
            // |w| from 1.5·α down to below the smallest power, uniform in the exponent.
            let exponent = Float(rng.below(4096)) / 4096 * Float(magnitudes.count + 2)
            let w = alpha * 1.5 * Float(pow(2, -Double(exponent)))
            samples.append(rng.below(2) == 0 ? w : -w)
        }
        for w in samples {
            #expect(codec.value(of: codec.code(of: w)) == nearest(w), "w = \(w)")
        }
        // A NaN weight (a diverged fine-tune) has no nearest level; it must not trap the process.
        #expect(codec.code(of: .nan) == UInt32(codec.magnitudeCount - 1))
    }

    @Test func powerOfTwoCodeLayoutIsSignThenMagnitudeIndex() {
        let codec = PowerOfTwoCodec(bits: 4, alpha: 1)
        #expect(codec.code(of: 1) == 0b0111)
        #expect(codec.code(of: -1) == 0b1111)
        #expect(codec.code(of: 0.5) == 0b0110)
        #expect(codec.code(of: -1.0 / 64) == 0b1001)
    }

    @Test func calibratedAlphaNeverWorseThanMaxAbs() {
        var rng = SeededGeneratorShim(seed: 9)
        let weights = (0..<2000).map { _ in rng.gaussian() * 0.1 }
        for bits in [2, 3, 4] {
            let alpha = weights.withUnsafeBufferPointer { PowerOfTwoCodec.calibratedAlpha(for: $0, bits: bits) }
            let maxAbs = weights.map(abs).max()!
            func error(_ a: Float) -> Float {
                let codec = PowerOfTwoCodec(bits: bits, alpha: a)
                return weights.reduce(0) { $0 + pow2($1 - codec.value(of: codec.code(of: $1))) }
            }
            #expect(error(alpha) <= error(maxAbs))
            #expect(alpha <= maxAbs)
        }
    }
}

private func pow2(_ x: Float) -> Float { x * x }
