import QuantConfig
import Tensor

/// Maps a float weight to an integer code and a code back to its value, for one layer.
///
/// The fake-quantized weight the model trains and evaluates with is exactly `value(of: code(of: w))`,
/// and the packed export stores `code(of: w)` plus the codec's scale. Re-loading a packed model
/// therefore recomputes the same Float32 values bit for bit, so `spikeq infer` gives the same
/// predictions as the fake-quantized model it came from.
public protocol WeightCodec: Sendable {
    /// Bits per stored code.
    var bits: Int { get }
    /// The code of `weight`; fits in `bits` bits.
    func code(of weight: Float) -> UInt32
    /// The weight a code stands for.
    func value(of code: UInt32) -> Float
    /// Every representable value, ascending (for documentation and tests).
    var levels: [Float] { get }
}

/// Symmetric signed uniform quantization: integer levels `-Qp … Qp` with `Qp = 2^(b-1) - 1`,
/// times a step `s` (LSQ's step size).
///
/// Codes are stored biased: `code = level + Qp`, in `0 … 2·Qp`. The all-ones code `2^b - 1` is
/// unused (symmetric range), as in symmetric LSQ.
public struct UniformCodec: WeightCodec, Hashable {
    public let bits: Int
    public let step: Float

    public init(bits: Int, step: Float) {
        precondition(QuantizationSpace.supportedBits.contains(bits), "uniform: unsupported width \(bits)")
        self.bits = bits
        self.step = step
    }

    /// `Qp = 2^(b-1) - 1`, the largest level.
    public var maxLevel: Int { (1 << (bits - 1)) - 1 }

    /// The integer level of `weight`: `clamp(round(w / s), -Qp, Qp)` (round half away from zero).
    @inline(__always)
    public func level(of weight: Float) -> Int {
        let qp = Float(maxLevel)
        let v = (weight / step).rounded(.toNearestOrAwayFromZero)
        return Int(min(max(v, -qp), qp))
    }

    @inline(__always)
    public func code(of weight: Float) -> UInt32 { UInt32(level(of: weight) + maxLevel) }

    @inline(__always)
    public func value(of code: UInt32) -> Float { Float(Int(code) - maxLevel) * step }

    public var levels: [Float] { (0...(2 * maxLevel)).map { value(of: UInt32($0)) } }

    /// LSQ's initial step: `2 · mean|w| / sqrt(Qp)`.
    public static func initialStep(for weights: UnsafeBufferPointer<Float>, bits: Int) -> Float {
        var sum = 0.0
        for w in weights { sum += Double(abs(w)) }
        let meanAbs = weights.isEmpty ? 0 : sum / Double(weights.count)
        let qp = Double((1 << (bits - 1)) - 1)
        let step = Float(2 * meanAbs / qp.squareRoot())
        return step > 0 ? step : Float.leastNormalMagnitude
    }
}

/// Power-of-two quantization: a sign bit and `b - 1` bits indexing `M = 2^(b-1)` magnitudes
/// `{0} ∪ {α·2^-k : k = 0 … M-2}`.
///
/// Code layout: bit `b-1` is the sign (1 = negative), bits `0 … b-2` the magnitude index `m`:
/// `m = 0` is zero, `m ≥ 1` is `α·2^-(M-1-m)` (so `m = M-1` is `α`). The negative zero code is
/// never produced. Levels per width:
///
/// | bits | magnitudes |
/// |---|---|
/// | 2 | 0, α (ternary; the same set as 2-bit uniform) |
/// | 3 | 0, α/4, α/2, α |
/// | 4 | 0, α/64 … α/2, α (7 powers) |
/// | 5 | 0, α·2^-14 … α (15 powers) |
/// | b | 0 and 2^(b-1) - 1 powers of two down from α |
///
/// Rounding is to the nearest level in the linear domain (the midpoint between `α·2^-(k+1)` and
/// `α·2^-k` is `0.75·α·2^-k`; below the smallest power the midpoint is half of it); magnitudes above
/// α clip to α. Multiplying by an exact power of two is exact in Float32, so `value(of:)` is exact.
public struct PowerOfTwoCodec: WeightCodec, Hashable {
    public let bits: Int
    public let alpha: Float

    public init(bits: Int, alpha: Float) {
        precondition(QuantizationSpace.supportedBits.contains(bits), "pot: unsupported width \(bits)")
        self.bits = bits
        self.alpha = alpha
    }

    /// Number of magnitude codes, `2^(b-1)`, including zero.
    public var magnitudeCount: Int { 1 << (bits - 1) }

    /// The smallest non-zero exponent: the smallest magnitude is `α·2^-minExponent`.
    public var minExponent: Int { magnitudeCount - 2 }

    /// The magnitude index (0 = zero, M-1 = α) nearest to `|weight|`.
    @inline(__always)
    public func magnitudeIndex(of weight: Float) -> Int {
        let r = abs(weight) / alpha
        if !(r < 1) { return magnitudeCount - 1 }  // also NaN, which has no nearest level
        let smallest = Self.powerOfTwo(-minExponent)
        if r < smallest {
            return r >= smallest * 0.5 ? 1 : 0
        }
        // r in [2^-(k+1), 2^-k) with k = -exponent(r) - 1; r is normal here (r ≥ smallest ≥ 2^-126),
        // so its exponent is the biased exponent field minus 127.
        let k = 126 - Int(r.bitPattern >> 23)
        let upper = Self.powerOfTwo(-k)
        let exponent = r >= 0.75 * upper ? k : k + 1
        // exponent ≤ minExponent since r ≥ smallest.
        return magnitudeCount - 1 - exponent
    }

    @inline(__always)
    public func code(of weight: Float) -> UInt32 {
        let m = magnitudeIndex(of: weight)
        let negative = weight < 0 && m > 0
        return (negative ? UInt32(1) << UInt32(bits - 1) : 0) | UInt32(m)
    }

    @inline(__always)
    public func value(of code: UInt32) -> Float {
        let m = Int(code & UInt32(magnitudeCount - 1))
        guard m > 0 else { return 0 }
        let magnitude = alpha * Self.powerOfTwo(-(magnitudeCount - 1 - m))
        return code >> UInt32(bits - 1) & 1 == 1 ? -magnitude : magnitude
    }

    public var levels: [Float] {
        let magnitudes = (1..<magnitudeCount).map { value(of: UInt32($0)) }
        return magnitudes.reversed().map { -$0 } + [0] + magnitudes
    }

    /// An exact power of two as Float32, built from its bits (the quantizers call this per weight
    /// per training step); `exponent` must lie in the normal range −126…127.
    @inline(__always)
    static func powerOfTwo(_ exponent: Int) -> Float {
        assert((-126...127).contains(exponent), "2^\(exponent) is not a normal Float")
        return Float(bitPattern: UInt32(truncatingIfNeeded: exponent + 127) << 23)
    }

    /// Calibrates α to minimise the squared quantization error over a grid of fractions of max|w|.
    ///
    /// The grid is `max|w| · f` for `f` in 1.00, 0.98, …, 0.30. Power-of-two levels are dense near
    /// zero and sparse near α, so clipping a few large weights often lowers the total error.
    public static func calibratedAlpha(for weights: UnsafeBufferPointer<Float>, bits: Int) -> Float {
        var maxAbs: Float = 0
        for w in weights { maxAbs = max(maxAbs, abs(w)) }
        guard maxAbs > 0 else { return Float.leastNormalMagnitude }
        // Each candidate's error is one sequential sum, so computing them side by side (a candidate
        // per part of the compute pool) changes no bits; the first smallest wins, as in order.
        let candidates = (0...35).map { maxAbs * (1 - 0.02 * Float($0)) }
        var errors = [Double](repeating: 0, count: candidates.count)
        errors.withUnsafeMutableBufferPointer { errors in
            let target = errors.baseAddress!
            Compute.parallelFor(candidates.count, grain: 1) { range in
                for index in range {
                    let codec = PowerOfTwoCodec(bits: bits, alpha: candidates[index])
                    var error = 0.0
                    for w in weights {
                        let d = Double(w - codec.value(of: codec.code(of: w)))
                        error += d * d
                    }
                    target[index] = error
                }
            }
        }
        var best = maxAbs
        var bestError = Double.infinity
        for (alpha, error) in zip(candidates, errors) where error < bestError {
            bestError = error
            best = alpha
        }
        return best
    }
}
