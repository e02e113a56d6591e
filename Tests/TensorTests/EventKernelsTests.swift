import Seeding
import Tensor
import TestSupport
import Testing

/// The event-driven kernels against direct sums in Double, and every instruction-set variant this
/// CPU has against the others (they must agree bit for bit).
struct EventKernelsTests {
    /// A sparse tensor: each element non-zero with probability `density`, values 1…`maxCount`.
    static func events(_ shape: [Int], density: Float, maxCount: Int = 1, _ rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in
            rng.nextUnitFloat() < density ? Float(1 + Int(rng.next() % UInt64(maxCount))) : 0
        })
    }

    static func uniform(_ shape: [Int], _ rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.nextUnitFloat() * 2 - 1 })
    }

    /// The variants to compare: every one up to the detected.
    static var variants: [String] {
        let all = ["generic", "avx2", "avx512"]
        return Array(all.prefix(through: all.firstIndex(of: EventKernels.detectedInstructionSet)!))
    }

    /// Runs `body` under every variant; expects identical results and returns the first.
    static func agreeingAcrossVariants(_ body: () -> [Float]) -> [Float] {
        defer { EventKernels.useInstructionSet(EventKernels.detectedInstructionSet) }
        var results: [(String, [Float])] = []
        for variant in variants {
            #expect(EventKernels.useInstructionSet(variant) == variant)
            results.append((variant, body()))
        }
        for (variant, result) in results.dropFirst() {
            #expect(result == results[0].1, "\(variant) differs from \(results[0].0)")
        }
        return results[0].1
    }

    /// Comparing variants (as these tests do while other suites train models in the same process)
    /// switches only the kernels whose variants agree bit for bit: which products run (the wide
    /// product, Winograd, the direct convolution) stays as chosen at start-up.
    @Test func switchingVariantsLeavesTheProductChoicesAlone() {
        let chosen = { (BLAS.usesWideProduct(n: 64, k: 64), ConvolutionKernels.isFast, ConvolutionKernels.hasWinograd) }
        let atStartUp = chosen()
        defer { EventKernels.useInstructionSet(EventKernels.detectedInstructionSet) }
        for variant in ["generic", "avx2"] {
            EventKernels.useInstructionSet(variant)
            #expect(chosen() == atStartUp, "under \(variant)")
        }
    }

    /// 16×16 register blocks plus both ragged edges.
    @Test func transposeMatchesIndexSwap() {
        var rng = SeededGenerator(seed: 4)
        let (rows, columns) = (37, 53)
        let m = Self.uniform([rows, columns], &rng)
        let t = Self.agreeingAcrossVariants { EventKernels.transposed(m).scalars }
        for r in 0..<rows {
            for c in 0..<columns where t[c * rows + r] != m[flat: r * columns + c] {
                Issue.record("t[\(c), \(r)] = \(t[c * rows + r]), m[\(r), \(c)] = \(m[flat: r * columns + c])")
            }
        }
    }

    @Test func inspectionCountsNonZerosMaximumAndIntegrality() {
        var x = Tensor(shape: [70_001], repeating: 0)
        x[flat: 3] = 2
        x[flat: 65_540] = -7
        x[flat: 70_000] = 1
        var inspection = EventKernels.inspect(x)
        #expect(inspection.nonZero == 3 && inspection.count == 70_001 && inspection.maxAbs == 7 && inspection.isIntegral)
        x[flat: 17] = 0.5
        inspection = EventKernels.inspect(x)
        #expect(inspection.nonZero == 4 && !inspection.isIntegral)
        x[flat: 17] = .nan
        inspection = EventKernels.inspect(x)
        #expect(inspection.nonZero == 4 && !inspection.isIntegral, "NaN is non-zero and not an integer")
    }

    /// The int8 level product against direct integer sums: ragged feature groups (not a multiple
    /// of 4), row groups (not a multiple of 8), token blocks and tiles (not a multiple of 16 or
    /// 128), a token range not starting at 0, strided input and output, with and without bias.
    /// Every variant (VNNI dot products under avx512 where the CPU has them, portable C below)
    /// gives the same bits, and they are the float GEMM's: exact sums, then ·scale, then +bias.
    @Test(arguments: [(37, 13, 301), (64, 64, 256), (18, 8, 40), (256, 11, 17)])
    func levelProductIsTheExactIntegerSum(inFeatures: Int, outFeatures: Int, length: Int) {
        var rng = SeededGenerator(seed: UInt64(inFeatures * 7 + outFeatures))
        let x = Self.events([inFeatures, length + 5], density: 0.3, maxCount: 255, &rng)
        let padded = (inFeatures + 3) / 4 * 4
        var levels = [Int8](repeating: 0, count: outFeatures * padded)
        for o in 0..<outFeatures {
            for i in 0..<inFeatures { levels[o * padded + i] = Int8(truncatingIfNeeded: Int(rng.next() % 256) - 128) }
        }
        let bias = Self.uniform([outFeatures], &rng)
        let scale: Float = 0.013
        let tokens = 3..<length
        for withBias in [false, true] {
            let y = Self.agreeingAcrossVariants {
                var y = Tensor(shape: [outFeatures, length + 2], repeating: -9)
                x.withUnsafeBufferPointer { px in
                    bias.withUnsafeBufferPointer { pb in
                        y.withUnsafeMutableBufferPointer { py in
                            EventKernels.levelProduct(
                                px.baseAddress!, inFeatures: inFeatures, stride: length + 5, tokens: tokens, levels: levels,
                                outFeatures: outFeatures, bias: withBias ? pb.baseAddress! : nil, scale: scale, into: py.baseAddress!,
                                stride: length + 2)
                        }
                    }
                }
                return y.scalars
            }
            for o in 0..<outFeatures {
                for t in 0..<(length + 2) {
                    var expected: Float = -9
                    if tokens.contains(t) {
                        var sum = 0
                        for i in 0..<inFeatures { sum += Int(levels[o * padded + i]) * Int(x[flat: i * (length + 5) + t]) }
                        expected = Float(sum) * scale
                        if withBias { expected = expected + bias[flat: o] }
                    }
                    #expect(y[o * (length + 2) + t] == expected, "row \(o) token \(t) bias \(withBias)")
                }
            }
        }
    }

    /// On rows of spikes the event-driven combination gives combineRows' bits in every variant: head
    /// dimensions below, at and above one vector, lengths that end mid-block, a row stride, silent
    /// and all-firing rows, and coefficients of both signs (so sums cross zero).
    @Test(arguments: [(16, 64), (13, 37), (32, 50), (5, 16)])
    func combineSpikeRowsMatchesCombineRows(d: Int, n: Int) {
        var rng = SeededGenerator(seed: UInt64(d * 100 + n))
        let stride = n + 7
        var rows = Self.events([d, stride], density: 0.25, maxCount: 1, &rng)
        for t in 0..<stride {
            rows[flat: t] = 0  // a silent row
            rows[flat: (d - 1) * stride + t] = 1  // an always-firing row
        }
        let c = Self.uniform([d * d], &rng)
        func combined(spikes: Bool) -> [Float] {
            Self.agreeingAcrossVariants {
                var out = Tensor(shape: [d, stride], repeating: -9)
                var scratch = [Float](repeating: .nan, count: EventKernels.combineSpikeRowsScratch(rows: d))
                rows.withUnsafeBufferPointer { pr in
                    c.withUnsafeBufferPointer { pc in
                        out.withUnsafeMutableBufferPointer { po in
                            scratch.withUnsafeMutableBufferPointer { ps in
                                if spikes {
                                    EventKernels.combineSpikeRows(pr.baseAddress!, coefficients: pc.baseAddress!, stride: stride, rows: d,
                                                                  length: n, into: po.baseAddress!, scratch: ps.baseAddress!)
                                } else {
                                    EventKernels.combineRows(pr.baseAddress!, coefficients: pc.baseAddress!, stride: stride, rows: d,
                                                             length: n, into: po.baseAddress!)
                                }
                            }
                        }
                    }
                }
                return out.scalars
            }
        }
        let events = combined(spikes: true)
        let dense = combined(spikes: false)
        #expect(events.map(\.bitPattern) == dense.map(\.bitPattern))
        #expect(events[n] == -9, "a token past the length was written")
    }


    /// The 3×3 patch product against a direct padded convolution in integers: ragged feature groups
    /// (3 channels: 27 features), images narrower and shorter than a token block, several frames (so
    /// taps at an image's edge would read the neighbouring row or frame, and at the buffer's ends
    /// past it), a position range that starts and ends mid-image. Every variant gives the same bits,
    /// and positions outside the range are left alone.
    @Test(arguments: [(3, 5, 7, 4, 9), (8, 32, 32, 2, 0), (2, 3, 3, 3, 1)])
    func patchLevelProductIsTheExactPaddedConvolution(inChannels: Int, height: Int, width: Int, frames: Int, skip: Int) {
        var rng = SeededGenerator(seed: UInt64(inChannels * 31 + height))
        let plane = height * width
        let total = frames * plane
        let x = Self.events([inChannels, total], density: 0.4, maxCount: 255, &rng)
        let outFeatures = 11
        let inFeatures = inChannels * 9
        let padded = (inFeatures + 3) / 4 * 4
        var levels = [Int8](repeating: 0, count: outFeatures * padded)
        for o in 0..<outFeatures {
            for i in 0..<inFeatures { levels[o * padded + i] = Int8(truncatingIfNeeded: Int(rng.next() % 256) - 128) }
        }
        let scale: Float = 0.021
        let positions = skip..<(total - skip)
        let y = Self.agreeingAcrossVariants {
            var y = Tensor(shape: [outFeatures, total], repeating: -9)
            x.withUnsafeBufferPointer { px in
                y.withUnsafeMutableBufferPointer { py in
                    EventKernels.patchLevelProduct(
                        px.baseAddress!, inChannels: inChannels, total: total, height: height, width: width, positions: positions,
                        levels: levels, outFeatures: outFeatures, scale: scale, into: py.baseAddress!)
                }
            }
            return y.scalars
        }
        for o in 0..<outFeatures {
            for p in 0..<total {
                var expected: Float = -9
                if positions.contains(p) {
                    let (frame, row, column) = (p / plane, (p % plane) / width, p % width)
                    var sum = 0
                    for c in 0..<inChannels {
                        for tap in 0..<9 {
                            let (r, q) = (row + tap / 3 - 1, column + tap % 3 - 1)
                            guard (0..<height).contains(r) && (0..<width).contains(q) else { continue }
                            sum += Int(levels[o * padded + c * 9 + tap]) * Int(x[flat: c * total + frame * plane + r * width + q])
                        }
                    }
                    expected = Float(sum) * scale
                }
                #expect(y[o * total + p] == expected, "output \(o) position \(p)")
            }
        }
    }

    /// The sum and binarity that activity tracking (firing rates, energy) reads from the inspection:
    /// exact for spike counts in every variant, tails included; a −1 or a 2 is not binary.
    @Test func inspectionSumsAndTellsSpikesFromCounts() {
        var rng = SeededGenerator(seed: 9)
        let spikes = Self.events([3, 33_337], density: 0.2, maxCount: 1, &rng)
        let counts = Self.events([3, 33_337], density: 0.2, maxCount: 3, &rng)
        for (x, binary) in [(spikes, true), (counts, false)] {
            let expected = x.scalars.reduce(0.0) { $0 + Double($1) }
            let sums = Self.agreeingAcrossVariants { [Float(EventKernels.inspect(x).sum)] }
            #expect(Double(sums[0]) == expected)
            let inspection = EventKernels.inspect(x)
            #expect(inspection.sum == expected && inspection.isBinary == binary)
        }
        var signed = spikes
        signed[flat: 5] = -1
        #expect(!EventKernels.inspect(signed).isBinary, "a −1 has magnitude 1 but is not a spike")
        #expect(EventKernels.inspect(Tensor(shape: [40], repeating: 0)).isBinary)
        let real = Tensor(shape: [2, 1_000], scalars: (0..<2_000).map { Float($0 % 7) * 0.1 })
        let direct = real.scalars.reduce(0.0) { $0 + Double($1) }
        #expect(abs(EventKernels.inspect(real).sum - direct) <= 1e-6 * direct)
    }

    @Test(arguments: [(64, 80, 1_000), (7, 3, 77), (256, 16, 130)])
    func sparseLinearForwardMatchesDirectSums(inFeatures: Int, outFeatures: Int, length: Int) {
        var rng = SeededGenerator(seed: UInt64(inFeatures * 1000 + outFeatures))
        let x = Self.events([inFeatures, length], density: 0.15, maxCount: 3, &rng)
        let w = Self.uniform([outFeatures, inFeatures], &rng)
        let bias = Self.uniform([outFeatures], &rng)
        let wt = EventKernels.transposed(w)
        let scale: Float = 0.75
        let y = Self.agreeingAcrossVariants {
            var y = Tensor(uninitializedShape: [outFeatures, length])
            x.withUnsafeBufferPointer { px in
                wt.withUnsafeBufferPointer { pw in
                    bias.withUnsafeBufferPointer { pb in
                        y.withUnsafeMutableBufferPointer { py in
                            EventKernels.sparseLinearForward(
                                px.baseAddress!, inFeatures: inFeatures, length: length, transposedWeight: pw.baseAddress!,
                                outFeatures: outFeatures, bias: pb.baseAddress!, scale: scale, into: py.baseAddress!)
                        }
                    }
                }
            }
            return y.scalars
        }
        for o in 0..<outFeatures {
            for n in 0..<length {
                var sum = 0.0
                var magnitude = 0.0
                for i in 0..<inFeatures {
                    let term = Double(w[flat: o * inFeatures + i]) * Double(x[flat: i * length + n])
                    sum += term
                    magnitude += abs(term)
                }
                let expected = sum * Double(scale) + Double(bias[flat: o])
                // Float sums of `inFeatures` terms: error below (n + 2)·u·Σ|terms| (u = 2⁻²⁴).
                let bound = Double(inFeatures + 2) * 0x1p-24 * (magnitude * Double(scale) + abs(Double(bias[flat: o])))
                #expect(abs(Double(y[o * length + n]) - expected) <= bound, "y[\(o), \(n)]")
            }
        }
    }

    @Test func sparseLinearWeightGradientMatchesDirectSums() {
        var rng = SeededGenerator(seed: 7)
        // 70 outputs: tiles of 928 tokens, so 2003 tokens take two full tiles and a partial one that
        // ends mid-block; feature 0 fires everywhere (its event list fills the whole tile).
        let (inFeatures, outFeatures, length) = (40, 70, 2003)
        var x = Self.events([inFeatures, length], density: 0.1, maxCount: 2, &rng)
        for n in 0..<length { x[flat: n] = Float(1 + n % 2) }
        let dy = Self.uniform([outFeatures, length], &rng)
        let dwt = Self.agreeingAcrossVariants {
            var dwt = Tensor(uninitializedShape: [inFeatures, outFeatures])
            x.withUnsafeBufferPointer { px in
                dy.withUnsafeBufferPointer { pg in
                    dwt.withUnsafeMutableBufferPointer { pw in
                        EventKernels.sparseLinearWeightGradient(
                            px.baseAddress!, inFeatures: inFeatures, length: length, gradient: pg.baseAddress!,
                            outFeatures: outFeatures, into: pw.baseAddress!)
                    }
                }
            }
            return dwt.scalars
        }
        for i in 0..<inFeatures {
            for o in 0..<outFeatures {
                var sum = 0.0
                var magnitude = 0.0
                for n in 0..<length {
                    let term = Double(dy[flat: o * length + n]) * Double(x[flat: i * length + n])
                    sum += term
                    magnitude += abs(term)
                }
                #expect(abs(Double(dwt[i * outFeatures + o]) - sum) <= Double(length) * 0x1p-24 * magnitude, "dW[\(o), \(i)]")
            }
        }
    }

    /// Direct 3×3 convolution (padding 1) in Double, with the sum of term magnitudes.
    static func directConvolution(_ x: Tensor, _ w: Tensor, inChannels c: Int, outChannels: Int, frames: Int, height: Int, width: Int,
                                  o: Int, f: Int, y: Int, x column: Int) -> (Double, Double) {
        var sum = 0.0
        var magnitude = 0.0
        for ci in 0..<c {
            for ky in 0..<3 {
                for kx in 0..<3 {
                    let (sy, sx) = (y + ky - 1, column + kx - 1)
                    guard (0..<height).contains(sy), (0..<width).contains(sx) else { continue }
                    let term = Double(w[flat: ((o * c + ci) * 3 + ky) * 3 + kx]) * Double(x[flat: ((ci * frames + f) * height + sy) * width + sx])
                    sum += term
                    magnitude += abs(term)
                }
            }
        }
        return (sum, magnitude)
    }

    /// Every output of a convolution `y` (`[outChannels, F, H, W]`) against `scale` times the Double
    /// sum, within one rounding per term (times `slack` for kernels that regroup the sums).
    static func expectMatchesDirectSums(_ y: [Float], _ x: Tensor, _ w: Tensor, inChannels: Int, outChannels: Int, frames: Int,
                                        height: Int, width: Int, scale: Float, slack: Double = 1) {
        for o in 0..<outChannels {
            for f in 0..<frames {
                for yy in 0..<height {
                    for xx in 0..<width {
                        let (sum, magnitude) = directConvolution(
                            x, w, inChannels: inChannels, outChannels: outChannels, frames: frames, height: height, width: width,
                            o: o, f: f, y: yy, x: xx)
                        let got = Double(y[((o * frames + f) * height + yy) * width + xx])
                        #expect(abs(got - Double(scale) * sum) <= slack * Double(9 * inChannels) * 0x1p-24 * magnitude,
                                "y[\(o), \(f), \(yy), \(xx)]")
                    }
                }
            }
        }
    }

    /// Counts up to 3, and spikes (the add-only path); the last two shapes give a pixel more than 16
    /// events, which its neighbours' lists take in two 16-entry copies.
    @Test(arguments: [(3, 80, 9, 13, 0.2, 3), (8, 16, 5, 4, 0.2, 3), (2, 33, 1, 17, 0.2, 3), (40, 70, 6, 7, 0.6, 1),
                      (20, 64, 4, 5, 0.9, 2)])
    func sparseConvolutionMatchesDirectSums(inChannels: Int, outChannels: Int, height: Int, width: Int, density: Float, maxCount: Int) {
        var rng = SeededGenerator(seed: UInt64(inChannels * 100 + outChannels))
        let frames = 3
        let x = Self.events([inChannels, frames, height, width], density: density, maxCount: maxCount, &rng)
        let w = Self.uniform([outChannels, inChannels, 3, 3], &rng)
        let wt = EventKernels.transposed(w.reshaped([outChannels, inChannels * 9]))
        let y = Self.agreeingAcrossVariants {
            var y = Tensor(uninitializedShape: [outChannels, frames, height, width])
            x.withUnsafeBufferPointer { px in
                wt.withUnsafeBufferPointer { pw in
                    y.withUnsafeMutableBufferPointer { py in
                        EventKernels.sparseConv3x3Forward(
                            px.baseAddress!, inChannels: inChannels, frames: frames, height: height, width: width,
                            transposedWeight: pw.baseAddress!, outChannels: outChannels, scale: 1, into: py.baseAddress!)
                    }
                }
            }
            return y.scalars
        }
        Self.expectMatchesDirectSums(y, x, w, inChannels: inChannels, outChannels: outChannels, frames: frames, height: height,
                                     width: width, scale: 1)
    }

    /// The dense direct kernel: 37 output channels exercise the 16-, 4- (or 2-) and 1-wide blocks;
    /// vectors of 16 positions span parts of rows (20, 33), whole rows (16) and two or more rows
    /// (8, 6; 5·6 positions leave a partial vector); frames in two calls, as two threads would.
    @Test(arguments: [(3, 37, 5, 20), (8, 16, 4, 16), (2, 9, 3, 33), (4, 21, 8, 8), (3, 5, 5, 6)])
    func directConvolutionMatchesDirectSums(inChannels: Int, outChannels: Int, height: Int, width: Int) {
        let (x, w, wt) = Self.denseConvolutionCase(inChannels: inChannels, outChannels: outChannels, height: height, width: width)
        let y = Self.agreeingAcrossVariants {
            Self.convolvedInTwoCalls(ConvolutionKernels.direct3x3, x, wt, outChannels: outChannels, scale: 0.5)
        }
        Self.expectMatchesDirectSums(y, x, w, inChannels: inChannels, outChannels: outChannels, frames: x.shape[1], height: height,
                                     width: width, scale: 0.5)
    }

    /// A uniform input of 3 frames and a uniform weight, seeded by the channel counts, with the
    /// weight transposed as the kernels take it (`[inChannels·9, outChannels]`).
    static func denseConvolutionCase(inChannels: Int, outChannels: Int, height: Int, width: Int) -> (x: Tensor, w: Tensor, wt: Tensor) {
        var rng = SeededGenerator(seed: UInt64(inChannels * 100 + outChannels))
        let x = uniform([inChannels, 3, height, width], &rng)
        let w = uniform([outChannels, inChannels, 3, 3], &rng)
        return (x, w, EventKernels.transposed(w.reshaped([outChannels, inChannels * 9])))
    }

    /// `kernel` (``ConvolutionKernels/direct3x3(_:inChannels:frames:height:width:frameRange:transposedWeight:outChannels:scale:into:)``
    /// or its Winograd twin) over `x`, the first frame and the rest in two calls as two threads
    /// would; outputs it does not write stay NaN.
    static func convolvedInTwoCalls(
        _ kernel: (UnsafePointer<Float>, Int, Int, Int, Int, Range<Int>, UnsafePointer<Float>, Int, Float, UnsafeMutablePointer<Float>) -> Void,
        _ x: Tensor, _ wt: Tensor, outChannels: Int, scale: Float
    ) -> [Float] {
        let (inChannels, frames, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var y = Tensor(shape: [outChannels, frames, height, width])
        y.fill(.nan)
        x.withUnsafeBufferPointer { px in
            wt.withUnsafeBufferPointer { pw in
                y.withUnsafeMutableBufferPointer { py in
                    for frameRange in [0..<1, 1..<frames] {
                        kernel(px.baseAddress!, inChannels, frames, height, width, frameRange, pw.baseAddress!, outChannels, scale,
                               py.baseAddress!)
                    }
                }
            }
        }
        return y.scalars
    }

    /// Winograd's F(2×2, 3×3): odd heights and widths (partial tiles), rows of tiles that end in a
    /// partial group of 16, planes of more than one chunk's 6 groups (a partial last chunk),
    /// channel counts off the wide product's 8-row blocks, frames in two calls as two threads
    /// would. Planes 15–16 and 7–8 wide put 2 or 4 tile rows in a group, with a partial last group
    /// (heights 5, 13, 9) and groups of several frames in one chunk. The transforms add up to four
    /// terms before multiplying, so the bound is 8× the direct kernel's.
    @Test(.enabled(if: ConvolutionKernels.hasWinograd, "the Winograd kernel needs AVX-512"),
          arguments: [(3, 37, 5, 7), (16, 8, 8, 8), (5, 11, 1, 17), (12, 20, 34, 35), (1, 1, 2, 2), (33, 9, 9, 4), (4, 6, 13, 70),
                      (6, 10, 16, 16), (3, 5, 13, 15), (7, 9, 8, 8), (2, 17, 9, 7), (4, 3, 5, 16)])
    func winogradConvolutionMatchesDirectSums(inChannels: Int, outChannels: Int, height: Int, width: Int) {
        let (x, w, wt) = Self.denseConvolutionCase(inChannels: inChannels, outChannels: outChannels, height: height, width: width)
        let y = Self.convolvedInTwoCalls(ConvolutionKernels.winograd3x3, x, wt, outChannels: outChannels, scale: 0.5)
        Self.expectMatchesDirectSums(y, x, w, inChannels: inChannels, outChannels: outChannels, frames: x.shape[1], height: height,
                                     width: width, scale: 0.5, slack: 8)
    }

    /// 52 output channels exercise the 32-wide, the 16-wide and the scalar blocks; spikes (the
    /// multiply-free branch) and counts up to 3; frames added in two calls, as two threads would.
    /// The third shape's zero-bordered dY rows take 32·300 floats, so its frames go in bands of 4
    /// rows (4 + 4 + 3), each band's copy of dY beginning with the two rows the last one ended with.
    @Test(arguments: [(3, 52, 4, 6, 7, 1), (3, 52, 4, 6, 7, 3), (2, 300, 2, 11, 30, 1)])
    func sparseConvolutionWeightGradientMatchesDirectSums(inChannels: Int, outChannels: Int, frames: Int, height: Int, width: Int,
                                                           maxCount: Int) {
        var rng = SeededGenerator(seed: 11)
        var x = Self.events([inChannels, frames, height, width], density: 0.25, maxCount: maxCount, &rng)
        for p in 0..<(height * width) { x[flat: p] = 1 }  // channel 0 fires everywhere in frame 0: a full event list
        let dy = Self.uniform([outChannels, frames * height * width], &rng)
        let dwt = Self.agreeingAcrossVariants {
            var dwt = Tensor(shape: [inChannels * 9, outChannels])
            x.withUnsafeBufferPointer { px in
                dy.withUnsafeBufferPointer { pg in
                    dwt.withUnsafeMutableBufferPointer { pw in
                        for frameRange in [0..<1, 1..<frames] {
                            EventKernels.sparseConv3x3WeightGradient(
                                px.baseAddress!, inChannels: inChannels, frames: frames, height: height, width: width,
                                frameRange: frameRange, gradient: pg.baseAddress!, outChannels: outChannels, into: pw.baseAddress!)
                        }
                    }
                }
            }
            return dwt.scalars
        }
        for o in 0..<outChannels {
            for c in 0..<inChannels {
                for ky in 0..<3 {
                    for kx in 0..<3 {
                        var sum = 0.0
                        var magnitude = 0.0
                        for f in 0..<frames {
                            for yy in 0..<height {
                                for xx in 0..<width {
                                    let (sy, sx) = (yy + ky - 1, xx + kx - 1)
                                    guard (0..<height).contains(sy), (0..<width).contains(sx) else { continue }
                                    let term = Double(dy[flat: o * frames * height * width + (f * height + yy) * width + xx])
                                        * Double(x[flat: ((c * frames + f) * height + sy) * width + sx])
                                    sum += term
                                    magnitude += abs(term)
                                }
                            }
                        }
                        let got = Double(dwt[(c * 9 + ky * 3 + kx) * outChannels + o])
                        #expect(abs(got - sum) <= Double(frames * height * width) * 0x1p-24 * magnitude, "dW[\(o), \(c), \(ky), \(kx)]")
                    }
                }
            }
        }
    }

    @Test func integerWeightsGiveExactSumsOnEveryPath() {
        // Integer levels times integer inputs: the event kernel and the GEMM agree bit for bit.
        var rng = SeededGenerator(seed: 13)
        let (inFeatures, outFeatures, length) = (96, 48, 700)
        let x = Self.events([inFeatures, length], density: 0.2, maxCount: 4, &rng)
        let levels = Tensor(shape: [outFeatures, inFeatures], scalars: (0..<(outFeatures * inFeatures)).map { _ in
            Float(Int(rng.next() % 255) - 127)
        })
        let dense = BLAS.matmul(levels, x)
        let wt = EventKernels.transposed(levels)
        var events = Tensor(uninitializedShape: [outFeatures, length])
        x.withUnsafeBufferPointer { px in
            wt.withUnsafeBufferPointer { pw in
                events.withUnsafeMutableBufferPointer { py in
                    EventKernels.sparseLinearForward(
                        px.baseAddress!, inFeatures: inFeatures, length: length, transposedWeight: pw.baseAddress!,
                        outFeatures: outFeatures, bias: nil, scale: 1, into: py.baseAddress!)
                }
            }
        }
        #expect(events == dense)
    }

    @Test func transposeSwapsRowsAndColumns() {
        var rng = SeededGenerator(seed: 17)
        let m = Self.uniform([37, 70], &rng)
        let t = EventKernels.transposed(m)
        #expect(t.shape == [70, 37])
        for r in 0..<37 {
            for c in 0..<70 { #expect(t[flat: c * 37 + r] == m[flat: r * 70 + c]) }
        }
    }

    /// Attention's row combination in every variant equals the sums taken here in the same order
    /// (from 0, `c·row` added over the input rows in turn), bit for bit: pairs of output rows,
    /// blocks of 64 and 16 tokens, a scalar tail, an odd row count, and rows inside a wider stride.
    @Test(arguments: [(16, 64, 64), (5, 83, 100), (16, 37, 37), (1, 15, 15)])
    func combineRowsSumsInOrder(rows d: Int, length n: Int, stride: Int) {
        var rng = SeededGenerator(seed: 23)
        let rows = Self.uniform([d * stride], &rng)
        let c = Self.uniform([d * d], &rng)
        let marker: Float = 7  // outside the rows' length: must stay untouched
        let out = Self.agreeingAcrossVariants {
            var out = [Float](repeating: marker, count: d * stride)
            rows.withUnsafeBufferPointer { pr in
                c.withUnsafeBufferPointer { pc in
                    EventKernels.combineRows(pr.baseAddress!, coefficients: pc.baseAddress!, stride: stride, rows: d, length: n,
                                             into: &out)
                }
            }
            return out
        }
        for o in 0..<d {
            for t in 0..<stride {
                var y: Float = 0
                for i in 0..<d { y += c[flat: o * d + i] * rows[flat: i * stride + t] }
                #expect(out[o * stride + t] == (t < n ? y : marker), "out[\(o)][\(t)]")
            }
        }
    }

    /// Attention's d × d products in every variant equal the sums taken here in the same order
    /// (over the tokens where the spike row is non-zero, ascending), then scaled: the 16-wide rows
    /// of the shipped configurations, an odd head size, a token count off the 16-lane grid, counts
    /// above 1 in the spike operand and rows inside a wider stride.
    @Test(arguments: [(16, 64, 64), (5, 37, 50), (16, 19, 19)])
    func attentionProductsSumInTokenOrder(rows d: Int, length n: Int, stride: Int) {
        var rng = SeededGenerator(seed: 41)
        let a = Self.events([d * stride], density: 0.3, maxCount: 2, &rng)
        let b = Self.uniform([d * stride], &rng)
        let scale: Float = 0.125
        let out = Self.agreeingAcrossVariants {
            var out = [Float](repeating: 0, count: d * d)
            var scratch = [Float](repeating: 0, count: n * d)
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    EventKernels.attentionProducts(pa.baseAddress!, pb.baseAddress!, stride: stride, rows: d, length: n, scale: scale,
                                                   scratch: &scratch, into: &out)
                }
            }
            return out
        }
        for i in 0..<d {
            for j in 0..<d {
                var sum: Float = 0
                for t in 0..<n where a[flat: i * stride + t] != 0 { sum += a[flat: i * stride + t] * b[flat: j * stride + t] }
                #expect(out[i * d + j] == scale * sum, "out[\(i)][\(j)]")
            }
        }
    }
}
