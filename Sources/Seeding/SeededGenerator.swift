/// A fast, seedable, serialisable random number generator (xoshiro256**).
///
/// Everything in SpikeQuant that draws random numbers (weight initialisation, data shuffling and
/// augmentation, the synthetic gesture renderer, the evolutionary search) takes one of these, so that
/// a run is reproducible from its seed and its state can be stored in the run database and resumed.
///
/// The state is seeded through SplitMix64, as the xoshiro authors recommend, so that nearby seeds
/// give unrelated streams.
public struct SeededGenerator: RandomNumberGenerator, Codable, Hashable, Sendable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// Creates a generator whose whole stream is determined by `seed`.
    public init(seed: UInt64) {
        var mixer = SplitMix64(state: seed)
        s0 = mixer.next()
        s1 = mixer.next()
        s2 = mixer.next()
        s3 = mixer.next()
        if s0 | s1 | s2 | s3 == 0 { s0 = 0x9E37_79B9_7F4A_7C15 }
    }

    /// Creates a generator for a named sub-stream of `seed`, e.g. `("shuffle", 42)`.
    ///
    /// Sub-streams let independent consumers (data order, dropout of a layer, a candidate's fine-tune)
    /// draw from the same run seed without their draws depending on each other's call counts.
    public init(seed: UInt64, stream: String) {
        self.init(seed: seed ^ Self.fnv1a(stream))
    }

    /// A new, independent generator derived from this one's current state and `label`.
    /// Does not advance `self`.
    public func derived(_ label: String) -> SeededGenerator {
        SeededGenerator(seed: s0 ^ Self.rotl(s2, 17) ^ Self.fnv1a(label))
    }

    public mutating func next() -> UInt64 {
        let result = Self.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = Self.rotl(s3, 45)
        return result
    }

    /// A uniform Float in [0, 1) with 24 bits of resolution.
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A uniform Double in [0, 1) with 53 bits of resolution.
    public mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// A standard normal sample (Box–Muller; one of the pair is discarded so the state stays simple).
    public mutating func nextGaussian() -> Float {
        var u1 = nextUnitDouble()
        while u1 <= .leastNormalMagnitude { u1 = nextUnitDouble() }
        let u2 = nextUnitDouble()
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// 64-bit FNV-1a of the UTF-8 bytes; stable across platforms and Swift versions
    /// (unlike `Hasher`, which is randomly seeded per process).
    public static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}

/// SplitMix64, used only to expand a seed into xoshiro state.
package struct SplitMix64 {
    package var state: UInt64
    package init(state: UInt64) { self.state = state }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
