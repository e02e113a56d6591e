import CKernels

/// Event-driven (sparse-input) products, the int8 level product, and the input inspection that
/// decides between them and the dense GEMMs; the Swift face of the `CKernels` C target.
///
/// The kernels exist in several instruction-set variants (AVX-512, AVX2 + FMA, the baseline)
/// compiled into every build; the best one this CPU supports is picked once at run time, so a
/// portable build still runs the AVX-512 code on a machine that has it. Every variant performs the
/// same roundings in the same order, so results do not depend on the variant.
public enum EventKernels {
    /// What a product needs to know about its input: how sparse it is, and whether integer weight
    /// levels times it are exact.
    public struct Inspection: Sendable, Hashable {
        public var nonZero: Int
        public var count: Int
        /// Largest magnitude.
        public var maxAbs: Float
        /// Every element is an integer (spikes, sums of spikes, event counts).
        public var isIntegral: Bool
        /// Sum of the elements (exact for spikes and spike counts).
        public var sum: Double = 0
        /// No element is negative (or NaN).
        public var isNonNegative = true

        /// `nonZero / count` (0 for an empty input).
        public var density: Double { count == 0 ? 0 : Double(nonZero) / Double(count) }

        /// Every element is 0 or 1: integers of magnitude at most 1 whose sum equals their count
        /// (a −1 would make the sum smaller).
        public var isBinary: Bool { isIntegral && maxAbs <= 1 && sum == Double(nonZero) }

        /// The inspection of `count` values of which `spikes` are 1 and the rest 0, for a producer
        /// that counted its spikes while writing them.
        public static func ofSpikes(_ spikes: Int, count: Int) -> Inspection {
            Inspection(nonZero: spikes, count: count, maxAbs: spikes > 0 ? 1 : 0, isIntegral: true, sum: Double(spikes), isNonNegative: true)
        }

        /// Every element is an integer in 0...255, as ``levelProduct(_:inFeatures:length:levels:outFeatures:bias:scale:into:)`` needs.
        public var fitsInBytes: Bool { isIntegral && isNonNegative && maxAbs <= 255 }
    }

    /// The instruction-set variant in use: `avx512`, `avx2` or `generic`.
    public static var instructionSet: String { name(CKernels_activeISA()) }

    /// The best variant this CPU supports.
    public static var detectedInstructionSet: String { name(CKernels_detectedISA()) }

    /// Uses a lower variant (`generic`, `avx2`, `avx512`; never one the CPU lacks), for
    /// comparisons; returns the variant now in use. `SPIKEQ_ISA` in the environment does the same
    /// at start-up.
    @discardableResult
    public static func useInstructionSet(_ name: String) -> String {
        let isa: CKernels_ISA
        switch name {
        case "generic": isa = CKernels_ISA_generic
        case "avx2": isa = CKernels_ISA_avx2
        default: isa = CKernels_ISA_avx512
        }
        return self.name(CKernels_useISA(isa))
    }

    private static func name(_ isa: CKernels_ISA) -> String {
        switch isa {
        case CKernels_ISA_avx512: return "avx512"
        case CKernels_ISA_avx2: return "avx2"
        default: return "generic"
        }
    }

    /// Non-zero count, largest magnitude, sum and integrality of `x` (one pass, split over the pool).
    public static func inspect(_ x: Tensor) -> Inspection {
        x.withUnsafeBufferPointer { buffer in
            let count = buffer.count
            let grain = 1 << 16
            let parts = Compute.partCount(count, grain: grain)
            var results = [CKernels_Inspection](repeating: CKernels_Inspection(), count: parts)
            results.withUnsafeMutableBufferPointer { out in
                let o = out.baseAddress!
                let base = buffer.baseAddress!
                Compute.parallelParts(count, grain: grain) { part, range in
                    o[part] = CKernels_inspect(base + range.lowerBound, Int64(range.count))
                }
            }
            var inspection = Inspection(nonZero: 0, count: count, maxAbs: 0, isIntegral: true)
            for r in results {
                inspection.nonZero += Int(r.nonZero)
                inspection.maxAbs = max(inspection.maxAbs, r.maxAbs)
                inspection.sum += r.sum
                if r.nonNegative == 0 { inspection.isNonNegative = false }
                if r.integral == 0 { inspection.isIntegral = false }
            }
            return inspection
        }
    }

    /// `out[c·ldo + r] = in[r·ldi + c]` (rows × columns → columns × rows), split over the pool by rows of `out`.
    public static func transpose(_ input: UnsafePointer<Float>, rows: Int, columns: Int, into output: UnsafeMutablePointer<Float>) {
        Compute.parallelFor(columns, grain: 64) { range in
            CKernels_transpose(input + range.lowerBound, Int64(rows), Int64(range.count), Int64(columns),
                               output + range.lowerBound * rows, Int64(rows))
        }
    }

    /// The transpose of a rank-2 tensor.
    public static func transposed(_ matrix: Tensor) -> Tensor {
        precondition(matrix.shape.count == 2, "transposed needs a rank-2 tensor, got \(matrix.shape)")
        let (rows, columns) = (matrix.shape[0], matrix.shape[1])
        var out = Tensor(uninitializedShape: [columns, rows])
        matrix.withUnsafeBufferPointer { pin in
            out.withUnsafeMutableBufferPointer { pout in
                transpose(pin.baseAddress!, rows: rows, columns: columns, into: pout.baseAddress!)
            }
        }
        return out
    }

    /// Whether ``levelProduct(_:inFeatures:length:levels:outFeatures:bias:scale:into:)`` runs on
    /// integer dot-product instructions (AVX-512 VNNI) on this CPU; without them it is slower than the
    /// float GEMM and is not used.
    public static var hasIntegerDotProducts: Bool { CKernels_hasIntegerDotProducts() != 0 }

    /// Dense `y[:, tokens] = scale·(L·x) + bias` for int8 weight levels in exact 32-bit integer sums
    /// (the same bits as the float GEMM of the levels when its sums are exact), split over the pool by
    /// token ranges.
    ///
    /// - Parameters:
    ///   - x: `[inFeatures, length]`, integers in 0...255 (``Inspection/fitsInBytes``).
    ///   - levels: `[outFeatures, 4·⌈inFeatures/4⌉]` int8, each row zero-padded.
    ///   - y: `[outFeatures, length]`, fully written.
    public static func levelProduct(
        _ x: UnsafePointer<Float>, inFeatures: Int, length: Int, levels: UnsafePointer<Int8>, outFeatures: Int,
        bias: UnsafePointer<Float>?, scale: Float, into y: UnsafeMutablePointer<Float>
    ) {
        Compute.parallelFor(length, grain: 256) { range in
            levelProduct(x, inFeatures: inFeatures, stride: length, tokens: range, levels: levels, outFeatures: outFeatures,
                         bias: bias, scale: scale, into: y, stride: length)
        }
    }

    /// The same on the calling thread, for `tokens` of an `x` and a `y` with row strides `ldx` and
    /// `ldy` (a convolution's im2col tile and its place in the output).
    public static func levelProduct(
        _ x: UnsafePointer<Float>, inFeatures: Int, stride ldx: Int, tokens: Range<Int>, levels: UnsafePointer<Int8>,
        outFeatures: Int, bias: UnsafePointer<Float>?, scale: Float, into y: UnsafeMutablePointer<Float>, stride ldy: Int
    ) {
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: Int(CKernels_levelProductScratch(Int64(inFeatures))))
        defer { scratch.deallocate() }
        CKernels_levelProduct(
            x, Int64(inFeatures), Int64(ldx), Int64(tokens.lowerBound), Int64(tokens.upperBound), levels, Int64(outFeatures),
            bias, scale, y, Int64(ldy), scratch)
    }

    /// `levelProduct` of a 3×3 convolution (padding 1) for output positions `positions` of
    /// `x` (`[inChannels, F, H, W]`, `total = F·H·W` positions per channel), reading the patches
    /// straight from `x` instead of an im2col copy, on the calling thread. Writes
    /// `y[o·total + p]`; `levels` are `[outFeatures, inChannels·9]` rows padded to a multiple of 4.
    public static func patchLevelProduct(
        _ x: UnsafePointer<Float>, inChannels: Int, total: Int, height: Int, width: Int, positions: Range<Int>,
        levels: UnsafePointer<Int8>, outFeatures: Int, scale: Float, into y: UnsafeMutablePointer<Float>
    ) {
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: Int(CKernels_levelProductScratch(Int64(inChannels * 9))))
        defer { scratch.deallocate() }
        CKernels_patchLevelProduct(
            x, Int64(inChannels), Int64(total), Int64(height), Int64(width), Int64(positions.lowerBound), Int64(positions.upperBound),
            levels, Int64(outFeatures), scale, y, scratch)
    }

    /// Event-driven `y[:, tokens] = scale·(W·x) + bias` over channel-major tokens, split over the
    /// pool by token ranges.
    ///
    /// - Parameters:
    ///   - x: `[inFeatures, length]`.
    ///   - transposedWeight: `[inFeatures, outFeatures]` (Wᵀ).
    ///   - bias: `outFeatures` values, or nil.
    ///   - y: `[outFeatures, length]`, fully written.
    public static func sparseLinearForward(
        _ x: UnsafePointer<Float>, inFeatures: Int, length: Int, transposedWeight: UnsafePointer<Float>, outFeatures: Int,
        bias: UnsafePointer<Float>?, scale: Float, into y: UnsafeMutablePointer<Float>
    ) {
        let scratchCount = Int(CKernels_sparseLinearScratch(Int64(inFeatures), Int64(outFeatures)))
        Compute.parallelFor(length, grain: 512) { range in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
            defer { scratch.deallocate() }
            CKernels_sparseLinearForward(
                x, Int64(inFeatures), Int64(length), Int64(range.lowerBound), Int64(range.upperBound), transposedWeight,
                Int64(outFeatures), bias, scale, y, Int64(length), scratch)
        }
    }

    /// Event-driven `dWᵀ[i, :] = Σ_n x[i, n]·dY[:, n]` over the non-zero `x[i, n]`, split over
    /// the pool by tokens: each part copies only its own tokens' dY token-major (split by features,
    /// every thread copied all of dY) and sums them for every feature into its own partial; the
    /// partials are then added in part order.
    ///
    /// - Parameters:
    ///   - x: `[inFeatures, length]`; `gradient`: dY, `[outFeatures, length]`.
    ///   - into: dWᵀ, `[inFeatures, outFeatures]`, fully written.
    public static func sparseLinearWeightGradient(
        _ x: UnsafePointer<Float>, inFeatures: Int, length: Int, gradient dy: UnsafePointer<Float>, outFeatures: Int,
        into dwt: UnsafeMutablePointer<Float>
    ) {
        let scratchCount = Int(CKernels_sparseLinearWeightGradientScratch(Int64(outFeatures)))
        let grain = 1024
        let size = inFeatures * outFeatures
        let extraParts = max(Compute.partCount(length, grain: grain) - 1, 0)
        var partials = Tensor(uninitializedShape: [extraParts, size])
        partials.withUnsafeMutableBufferPointer { pp in
            let rest = pp.baseAddress
            Compute.parallelParts(max(length, 1), grain: grain) { part, tokens in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
                defer { scratch.deallocate() }
                let target = part == 0 ? dwt : rest! + (part - 1) * size
                CKernels_sparseLinearWeightGradient(
                    x, Int64(length), Int64(tokens.lowerBound), Int64(min(tokens.upperBound, length)), Int64(inFeatures), dy,
                    Int64(outFeatures), target, scratch)
            }
            guard let rest, extraParts > 0 else { return }
            Compute.parallelFor(size, grain: 16_384) { range in
                for part in 0..<extraParts {
                    let partial = rest + part * size
                    for i in range { dwt[i] += partial[i] }
                }
            }
        }
    }

    /// Event-driven 3×3 convolution (stride 1, padding 1), `y = scale·conv(x, W)`, channel-major
    /// `[C, F, H, W]`, split over the pool by frames.
    ///
    /// - Parameters:
    ///   - transposedWeight: `[inChannels·9, outChannels]` (row `c·9 + ky·3 + kx`).
    ///   - y: `[outChannels, frames, height, width]`, fully written.
    public static func sparseConv3x3Forward(
        _ x: UnsafePointer<Float>, inChannels: Int, frames: Int, height: Int, width: Int,
        transposedWeight: UnsafePointer<Float>, outChannels: Int, scale: Float, into y: UnsafeMutablePointer<Float>
    ) {
        let scratchCount = Int(CKernels_sparseConv3x3Scratch(Int64(inChannels), Int64(height), Int64(width), Int64(outChannels)))
        Compute.parallelFor(frames, grain: 1) { range in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
            defer { scratch.deallocate() }
            CKernels_sparseConv3x3Forward(
                x, Int64(inChannels), Int64(frames), Int64(height), Int64(width), Int64(range.lowerBound), Int64(range.upperBound),
                transposedWeight, Int64(outChannels), scale, y, scratch)
        }
    }

    /// Adds the event-driven weight gradient of the 3×3 convolution over the frames `frameRange`
    /// to `dwt` `[inChannels·9, outChannels]`, from `x` `[C, F, H, W]` and the channel-major output
    /// gradient `dy` `[outChannels, F, H, W]`, on the calling thread (callers split by frames).
    public static func sparseConv3x3WeightGradient(
        _ x: UnsafePointer<Float>, inChannels: Int, frames: Int, height: Int, width: Int, frameRange: Range<Int>,
        gradient dy: UnsafePointer<Float>, outChannels: Int, into dwt: UnsafeMutablePointer<Float>
    ) {
        precondition((height + 2) * (width + 2) * outChannels < Int(Int32.max),
                     "sparseConv3x3WeightGradient: a \(height)×\(width)×\(outChannels) plane exceeds 32-bit offsets")
        let scratchCount = Int(CKernels_sparseConv3x3WeightGradientScratch(Int64(height), Int64(width), Int64(outChannels)))
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
        defer { scratch.deallocate() }
        CKernels_sparseConv3x3WeightGradient(
            x, Int64(inChannels), Int64(frames), Int64(height), Int64(width), Int64(frameRange.lowerBound),
            Int64(frameRange.upperBound), dy, Int64(outChannels), dwt, scratch)
    }

    /// Words per row of ``binaryRows(_:stride:rows:length:into:)``'s masks.
    public static func maskWords(length: Int) -> Int { (length + 63) / 64 }

    /// Bit masks of `rows` rows of `length` spikes (row r at `x + r·stride`, ``maskWords(length:)``
    /// words each); false when some value is neither 0 nor 1 (the masks are then not usable).
    public static func binaryRows(_ x: UnsafePointer<Float>, stride: Int, rows: Int, length: Int,
                                  into masks: UnsafeMutablePointer<UInt64>) -> Bool {
        CKernels_binaryRows(x, Int64(stride), Int64(rows), Int64(length), masks) != 0
    }

    /// `out[i·rows + j] = scale·|a_i ∧ b_j|`: the product of two binary matrices given as bit
    /// masks (``binaryRows(_:stride:rows:length:into:)``), counted exactly with popcounts.
    public static func countProducts(_ a: UnsafePointer<UInt64>, _ b: UnsafePointer<UInt64>, rows: Int, words: Int, scale: Float,
                                     into out: UnsafeMutablePointer<Float>) {
        CKernels_countProducts(a, b, Int64(rows), Int64(words), scale, out)
    }

    /// `out[i·d + j] = scale · Σ_t a_i[t]·b_j[t]` over the tokens `t < n` where `a_i` (a spike row)
    /// is non-zero, in token order (`a_i = a + i·stride`, the same for b); `scratch`: `n·d` floats.
    public static func attentionProducts(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, stride: Int, rows d: Int,
                                         length n: Int, scale: Float, scratch: UnsafeMutablePointer<Float>,
                                         into out: UnsafeMutablePointer<Float>) {
        CKernels_attentionProducts(a, b, Int64(stride), Int64(d), Int64(n), scale, scratch, out)
    }

    /// `out_o[t] = Σ_i c[o·d + i]·rows_i[t]` for `o, i < d` and `t < n`, with `rows_i = rows + i·stride`
    /// and `out_o = out + o·stride`: the d × d by d × n products of attention, summed over `i` in order.
    public static func combineRows(_ rows: UnsafePointer<Float>, coefficients c: UnsafePointer<Float>, stride: Int, rows d: Int,
                                   length n: Int, into out: UnsafeMutablePointer<Float>) {
        CKernels_combineRows(rows, c, Int64(stride), Int64(d), Int64(n), out)
    }

    /// Floats of scratch ``combineSpikeRows(_:coefficients:stride:rows:length:into:scratch:)`` needs.
    public static func combineSpikeRowsScratch(rows d: Int) -> Int { (d + 16) * ((d + 15) / 16 * 16) }

    /// ``combineRows(_:coefficients:stride:rows:length:into:)`` for rows of spikes (every value 0
    /// or 1, which the caller guarantees): the same bits, adding only the firing tokens' coefficients.
    public static func combineSpikeRows(_ rows: UnsafePointer<Float>, coefficients c: UnsafePointer<Float>, stride: Int, rows d: Int,
                                        length n: Int, into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        CKernels_combineSpikeRows(rows, c, Int64(stride), Int64(d), Int64(n), out, scratch)
    }
}
