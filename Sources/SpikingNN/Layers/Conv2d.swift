public import Seeding
public import Tensor

/// 3×3 convolution, stride 1, padding 1, no bias, over a batch of frames.
///
/// Activations are channel-major, `[C, F, H, W]` with F = T·B frames: each channel's values are one
/// contiguous row, and a block of output columns is one GEMM,
/// `Y[Cout, n] = W[Cout, Cin·9] · cols[Cin·9, n]`, where `cols` is the im2col of those columns. The weight is stored PyTorch-style
/// `[out, in, 3, 3]`.
public final class Conv2d: QuantizableLayer {
    public let name: String
    public let inChannels: Int
    public let outChannels: Int
    public let weight: Parameter
    /// Spatial size of the input (and output), for MAC counts.
    public let height: Int
    public let width: Int
    let effective: EffectiveWeight
    public private(set) var inputActivity = InputActivity()
    var tracksActivity = false
    /// Which kernels compute the products (by measured density unless forced).
    public var productMode = ProductMode.fromEnvironment
    /// The paths taken and densities seen since the last ``resetActivity()``.
    public private(set) var products = ProductRecord()

    private var savedInput: Tensor?
    private var savedWeight: Tensor?
    private var savedDensity = 1.0

    public init(name: String, inChannels: Int, outChannels: Int, height: Int, width: Int, generator: inout SeededGenerator) {
        self.name = name
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.height = height
        self.width = width
        // PyTorch's default: kaiming_uniform(a=√5) = U(-1/√fan_in, 1/√fan_in).
        let fanIn = inChannels * 9
        let bound = 1 / Float(fanIn).squareRoot()
        weight = Parameter(
            name: name + ".weight",
            value: Tensor.uniform(shape: [outChannels, inChannels, 3, 3], bound: bound, generator: &generator),
            decays: true)
        effective = EffectiveWeight(weight: weight)
    }

    public var quantizer: (any WeightQuantizer)? {
        get { effective.quantizer }
        set { effective.quantizer = newValue }
    }

    public func invalidateQuantizedWeight() { effective.invalidate() }

    public var denseMACsPerTimeStep: Int { outChannels * inChannels * 9 * height * width }

    func resetActivity() {
        inputActivity = InputActivity()
        products = ProductRecord()
    }

    /// A block of output columns computed by one GEMM: frames `frames`, and within each of them
    /// image rows `rows` (a band of one frame, or whole frames).
    package struct Tile {
        package var frames: Range<Int>
        package var rows: Range<Int>
    }

    /// Splits the frames of this part into tiles of about `max(512, 2¹⁶/k)` columns: small enough
    /// that a tile's im2col (256 KiB) stays in the core's L2 cache while the int8 product packs it,
    /// large enough that OpenBLAS's packing of the weight is amortised (2¹⁸ measured the same for
    /// the float GEMM and 2 % slower for quantized inference).
    package func tiles(frames: Range<Int>) -> [Tile] {
        let k = inChannels * 9
        let target = max(512, (1 << 16) / k)
        let plane = height * width
        var result: [Tile] = []
        if plane >= target {
            let band = max(1, target / width)
            for f in frames {
                var y = 0
                while y < height {
                    result.append(Tile(frames: f..<(f + 1), rows: y..<min(height, y + band)))
                    y += band
                }
            }
        } else {
            let group = max(1, target / plane)
            var f = frames.lowerBound
            while f < frames.upperBound {
                result.append(Tile(frames: f..<min(frames.upperBound, f + group), rows: 0..<height))
                f += group
            }
        }
        return result
    }

    /// Columns of a tile in the output row `[F·H·W]`: they are contiguous.
    func columns(of tile: Tile) -> (start: Int, count: Int) {
        let plane = height * width
        if tile.frames.count == 1 {
            return (tile.frames.lowerBound * plane + tile.rows.lowerBound * width, tile.rows.count * width)
        }
        return (tile.frames.lowerBound * plane, tile.frames.count * plane)
    }

    /// `x`: `[Cin, F, H, W]` → `[Cout, F, H, W]`.
    ///
    /// Dense path: each thread takes a fixed range of frames. Where the direct kernel pays
    /// (``ProductCrossover/directConvolution(inChannels:gradient:)``: few input channels) it sums
    /// each output in registers; otherwise, tile by tile, it writes the im2col of the tile into its
    /// own scratch and multiplies it with a single-threaded GEMM, so the patches are consumed from
    /// cache right after they are written. Event path (sparse input):
    /// each output pixel gathers the weight rows of its neighbours' non-zero inputs
    /// (``EventKernels/sparseConv3x3Forward(_:inChannels:frames:height:width:transposedWeight:outChannels:scale:into:)``).
    /// With a ``LevelQuantizer`` and an integer input whose sums stay exact, both sum integer
    /// levels and apply the scale afterwards, so they give the same bits.
    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        forward(x, training: training, inspection: nil)
    }

    /// The forward pass, with the input's inspection when the caller already has it (spikes
    /// counted by the LIF layer that wrote them).
    func forward(_ x: Tensor, training: Bool, inspection known: EventKernels.Inspection?) -> Tensor {
        precondition(x.shape.count == 4 && x.shape[0] == inChannels && x.shape[2] == height && x.shape[3] == width,
                     "\(name): expected [\(inChannels), F, \(height), \(width)], got \(x.shape)")
        let snapshot = effective.snapshot(training: training)
        let inspection = known ?? EventKernels.inspect(x)
        if tracksActivity { inputActivity.record(inspection) }
        let exact = snapshot.levels.flatMap { $0.areExact(for: inspection) ? $0 : nil }
        // Dense exact products run on int8 × byte dot products where the CPU has them (same bits).
        let bytes = EventKernels.hasIntegerDotProducts && inspection.fitsInBytes ? exact?.bytes : nil
        let direct = ProductCrossover.directConvolution(inChannels: inChannels)
        let path = forwardPath(density: inspection.density, integer: bytes != nil, direct: direct)
        let integer = path == .dense ? bytes : nil
        products.recordForward(path, density: inspection.density, exact: exact != nil, integer: integer != nil)
        let frames = x.shape[1]
        let plane = height * width
        let k = inChannels * 9
        let w = exact?.levels ?? snapshot.value
        let scale = exact?.scale ?? 1
        var y = Tensor(uninitializedShape: [outChannels, frames, height, width])
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                let (input, output) = (px.baseAddress!, py.baseAddress!)
                if path == .events {
                    let table = exact?.transposed ?? snapshot.transposedValue
                    table.withUnsafeBufferPointer { pt in
                        EventKernels.sparseConv3x3Forward(
                            input, inChannels: inChannels, frames: frames, height: height, width: width,
                            transposedWeight: pt.baseAddress!, outChannels: outChannels, scale: scale, into: output)
                    }
                    return
                }
                if let integer {
                    // The int8 product packs its bytes straight from the input's patches: no im2col.
                    integer.withUnsafeBufferPointer { pl in
                        Compute.parallelParts(frames, grain: 1) { _, frameRange in
                            EventKernels.patchLevelProduct(
                                input, inChannels: self.inChannels, total: frames * plane, height: self.height, width: self.width,
                                positions: (frameRange.lowerBound * plane)..<(frameRange.upperBound * plane), levels: pl.baseAddress!,
                                outFeatures: self.outChannels, scale: scale, into: output)
                        }
                    }
                    return
                }
                if direct {
                    let table = exact?.transposed ?? snapshot.transposedValue
                    table.withUnsafeBufferPointer { pt in
                        Compute.parallelParts(frames, grain: 1) { _, frameRange in
                            ConvolutionKernels.direct3x3(
                                input, inChannels: self.inChannels, frames: frames, height: self.height, width: self.width,
                                frameRange: frameRange, transposedWeight: pt.baseAddress!, outChannels: self.outChannels,
                                scale: scale, into: output)
                        }
                    }
                    return
                }
                w.withUnsafeBufferPointer { pw in
                    let weights = pw.baseAddress!
                    Compute.parallelParts(frames, grain: 1) { _, frameRange in
                        self.forEachTile(frames: frameRange) { tile, cols, start, count in
                            self.im2col(input, frames: frames, tile: tile, into: cols)
                            BLAS.gemm(m: outChannels, n: count, k: k, a: weights, lda: k, b: cols, ldb: count,
                                      c: output + start, ldc: frames * plane, threaded: false)
                            if exact != nil {
                                // Exact integer sums, scaled afterwards (as the event kernel does).
                                for o in 0..<self.outChannels {
                                    let row = output + o * frames * plane + start
                                    for i in 0..<count { row[i] = row[i] * scale }
                                }
                            }
                        }
                    }
                }
            }
        }
        if training {
            savedInput = x
            savedWeight = snapshot.value
            savedDensity = inspection.density
        } else {
            savedInput = nil
            savedWeight = nil
        }
        return y
    }

    /// The forward kernel for an input of `density`: the gather kernel pays when the events
    /// around each output pixel outweigh its per-pixel bookkeeping (``ProductCrossover``), later
    /// against the `integer` (int8) dense product than against the float GEMM.
    func forwardPath(density: Double, integer: Bool, direct: Bool) -> ProductPath {
        productMode.path(
            density: density,
            crossover: ProductCrossover.convolutionForward(inChannels: inChannels, outChannels: outChannels, integer: integer, direct: direct))
    }

    /// The weight-gradient kernel for an input of `density`: the event kernel's fixed cost (dY
    /// copied pixel-major, a band of rows at a time) is paid back sooner with more input channels.
    func weightGradientPath(density: Double) -> ProductPath {
        productMode.path(density: density, crossover: ProductCrossover.convolutionWeightGradient(inChannels: inChannels))
    }

    /// Accumulates dL/dW and returns dL/dx (nil when `needsInputGradient` is false).
    ///
    /// dL/dx is the convolution of dY with the mirrored, transposed weight: Winograd's or the
    /// direct kernel where they pay (``ProductCrossover``), otherwise `Wᵀ·dY` per tile scattered
    /// back by col2im.
    ///
    /// Threads own fixed frame ranges (so their dx writes never overlap) and their own partial
    /// dW, which are added in part order: deterministic for a given thread count. The event
    /// weight gradient builds its partials transposed (`[Cin·9, Cout]`), turned round at the end.
    public func backward(_ dy: Tensor, needsInputGradient: Bool = true) -> Tensor? {
        guard let x = savedInput, let w = savedWeight else {
            preconditionFailure("\(name): backward without a training forward pass")
        }
        let frames = x.shape[1]
        let plane = height * width
        let k = inChannels * 9
        let parts = Compute.partCount(frames, grain: 1)
        let weightPath = weightGradientPath(density: savedDensity)
        products.recordWeightGradient(weightPath)
        let denseWeightGradient = weightPath == .dense
        var partials = Tensor(shape: [parts, outChannels * k])
        let winograd = ProductCrossover.winogradGradient(summed: outChannels, width: width)
        let direct = winograd || ProductCrossover.directConvolution(inChannels: outChannels, gradient: true)
        var dx: Tensor? = needsInputGradient ? (direct ? Tensor(uninitializedShape: x.shape) : Tensor(shape: x.shape)) : nil
        let flipped = needsInputGradient && direct ? flippedTransposedWeight(w) : Tensor(shape: [0])
        x.withUnsafeBufferPointer { px in
            dy.withUnsafeBufferPointer { pdy in
                w.withUnsafeBufferPointer { pw in
                    flipped.withUnsafeBufferPointer { pf in
                        partials.withUnsafeMutableBufferPointer { pp in
                            let (input, gradient, weights, partial) = (px.baseAddress!, pdy.baseAddress!, pw.baseAddress!, pp.baseAddress!)
                            let body = { (dxBase: UnsafeMutablePointer<Float>?) in
                                Compute.parallelParts(frames, grain: 1) { part, frameRange in
                                    let dw = partial + part * self.outChannels * k
                                    if !denseWeightGradient {
                                        EventKernels.sparseConv3x3WeightGradient(
                                            input, inChannels: self.inChannels, frames: frames, height: self.height, width: self.width,
                                            frameRange: frameRange, gradient: gradient, outChannels: self.outChannels, into: dw)
                                    }
                                    if direct, let dxBase {
                                        // dX = conv(dY, W flipped and transposed): the same kernel as the forward,
                                        // or its Winograd form.
                                        if winograd {
                                            ConvolutionKernels.winograd3x3(
                                                gradient, inChannels: self.outChannels, frames: frames, height: self.height, width: self.width,
                                                frameRange: frameRange, transposedWeight: pf.baseAddress!, outChannels: self.inChannels,
                                                scale: 1, into: dxBase)
                                        } else {
                                            ConvolutionKernels.direct3x3(
                                                gradient, inChannels: self.outChannels, frames: frames, height: self.height, width: self.width,
                                                frameRange: frameRange, transposedWeight: pf.baseAddress!, outChannels: self.inChannels,
                                                scale: 1, into: dxBase)
                                        }
                                    }
                                    let col2imTarget = direct ? nil : dxBase
                                    guard denseWeightGradient || col2imTarget != nil else { return }
                                    self.forEachTile(frames: frameRange) { tile, cols, start, count in
                                        if denseWeightGradient {
                                            self.im2col(input, frames: frames, tile: tile, into: cols)
                                            // dW += dY_tile · colsᵀ
                                            BLAS.gemm(transposeB: true, m: self.outChannels, n: k, k: count,
                                                      a: gradient + start, lda: frames * plane, b: cols, ldb: count, beta: 1,
                                                      c: dw, ldc: k, threaded: false)
                                        }
                                        if let col2imTarget {
                                            // dcols = Wᵀ · dY_tile, scattered back onto dx (col2im).
                                            BLAS.gemm(transposeA: true, m: k, n: count, k: self.outChannels, a: weights, lda: k,
                                                      b: gradient + start, ldb: frames * plane, c: cols, ldc: count, threaded: false)
                                            self.col2imAccumulate(cols, frames: frames, tile: tile, into: col2imTarget)
                                        }
                                    }
                                }
                            }
                            if dx != nil {
                                dx!.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
                            } else {
                                body(nil)
                            }
                        }
                    }
                }
            }
        }
        var sum = Tensor(shape: denseWeightGradient ? [outChannels, k] : [k, outChannels])
        partials.withUnsafeBufferPointer { pp in
            sum.withUnsafeMutableBufferPointer { ps in
                for part in 0..<parts {
                    let source = pp.baseAddress! + part * outChannels * k
                    for i in 0..<(outChannels * k) { ps[i] += source[i] }
                }
            }
        }
        let dw = denseWeightGradient ? sum : EventKernels.transposed(sum)
        effective.accumulateGradient(dw.reshaped(weight.value.shape))
        savedInput = nil
        savedWeight = nil
        return dx
    }

    /// `W` `[out, in, 3, 3]` as the weight of the input gradient's convolution: `[out·9, in]`, row
    /// `o·9 + tap` holding `W[o, :, 8 − tap]` (the taps mirrored, so that dX = conv(dY, ·)).
    func flippedTransposedWeight(_ w: Tensor) -> Tensor {
        var result = Tensor(uninitializedShape: [outChannels * 9, inChannels])
        w.withUnsafeBufferPointer { pw in
            result.withUnsafeMutableBufferPointer { pr in
                for o in 0..<outChannels {
                    for c in 0..<inChannels {
                        for tap in 0..<9 { pr[(o * 9 + tap) * inChannels + c] = pw[(o * inChannels + c) * 9 + 8 - tap] }
                    }
                }
            }
        }
        return result
    }

    /// Each tile of `frameRange` in turn, with one `[Cin·9, tile columns]` scratch buffer of this
    /// thread for its patches: `body(tile, cols, start, count)` for output columns `start..<start + count`.
    private func forEachTile(
        frames frameRange: Range<Int>, _ body: (_ tile: Tile, _ cols: UnsafeMutablePointer<Float>, _ start: Int, _ count: Int) -> Void
    ) {
        let tiles = tiles(frames: frameRange)
        let capacity = tiles.map { columns(of: $0).count }.max() ?? 0
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: inChannels * 9 * capacity)
        defer { cols.deallocate() }
        for tile in tiles {
            let (start, count) = columns(of: tile)
            body(tile, cols, start, count)
        }
    }

    /// Writes the 3×3 patches of `tile` of `x` (`[C, F, H, W]`) into `cols`
    /// (`[C·9, tile columns]`), zero outside the image.
    ///
    /// The tile's columns are contiguous in the flat `[F, H, W]` index and tap (ky, kx) reads the
    /// input at a fixed offset `ky·W + kx` from its output position, so each row of `cols` is one
    /// shifted copy of the tile's span; the positions whose tap falls into the padding (which the
    /// copy filled from a neighbouring row or frame) are then zeroed.
    func im2col(_ x: UnsafePointer<Float>, frames: Int, tile: Tile, into cols: UnsafeMutablePointer<Float>) {
        let (start, length) = columns(of: tile)
        let total = frames * height * width
        for row in 0..<(inChannels * 9) {
            let (c, ky, kx) = (row / 9, (row % 9) / 3 - 1, row % 3 - 1)
            let destination = cols + row * length
            let span = shiftedSpan(start: start, length: length, offset: ky * width + kx, within: 0..<total)
            destination.update(repeating: 0, count: span.lowerBound)
            (destination + span.lowerBound).update(from: x + c * total + start + ky * width + kx + span.lowerBound,
                                                   count: span.count)
            (destination + span.upperBound).update(repeating: 0, count: length - span.upperBound)
            zeroPadding(destination, tile: tile, ky: ky, kx: kx)
        }
    }

    /// The positions `j < length` whose source `start + j + offset` lies in `bounds`.
    @inline(__always)
    func shiftedSpan(start: Int, length: Int, offset: Int, within bounds: Range<Int>) -> Range<Int> {
        let lower = min(length, max(0, bounds.lowerBound - start - offset))
        let upper = max(lower, min(length, bounds.upperBound - start - offset))
        return lower..<upper
    }

    /// Zeroes the positions of a tile's `cols` row whose tap (ky, kx) falls outside the image.
    func zeroPadding(_ row: UnsafeMutablePointer<Float>, tile: Tile, ky: Int, kx: Int) {
        let tileRows = tile.rows.count
        // The image row whose taps fall above or below the image, when the tile holds it.
        let edgeRow = ky < 0 ? 0 : ky > 0 ? height - 1 : -1
        let blankRow = tile.rows.contains(edgeRow) ? edgeRow - tile.rows.lowerBound : nil
        // The column whose taps fall left or right of the image.
        let blankColumn = kx < 0 ? 0 : kx > 0 ? width - 1 : nil
        for slot in 0..<tile.frames.count {
            let frame = row + slot * tileRows * width
            if let blankColumn {
                var position = frame + blankColumn
                for _ in 0..<tileRows {
                    position.pointee = 0
                    position += width
                }
            }
            if let blankRow { (frame + blankRow * width).update(repeating: 0, count: width) }
        }
    }

    /// Adds the patch gradients `cols` of `tile` back onto `dx` (`[C, F, H, W]`); zeroes the
    /// padding positions of `cols` on the way.
    ///
    /// The mirror image of ``im2col(_:frames:tile:into:)``: each row of `cols`, its padding
    /// zeroed, is added at a fixed offset. The span is clipped to the tile's own frames (the
    /// positions cut off are padding), so threads working on other frames are never touched.
    func col2imAccumulate(_ cols: UnsafeMutablePointer<Float>, frames: Int, tile: Tile, into dx: UnsafeMutablePointer<Float>) {
        let plane = height * width
        let (start, length) = columns(of: tile)
        let total = frames * plane
        let owned = (tile.frames.lowerBound * plane)..<(tile.frames.upperBound * plane)
        for c in 0..<inChannels {
            for tap in 0..<9 {
                let (ky, kx) = (tap / 3 - 1, tap % 3 - 1)
                let source = cols + (c * 9 + tap) * length
                zeroPadding(source, tile: tile, ky: ky, kx: kx)
                let span = shiftedSpan(start: start, length: length, offset: ky * width + kx, within: owned)
                let target = dx + c * total + start + ky * width + kx
                var j = span.lowerBound
                while j + 8 <= span.upperBound {
                    HeadKernels.store(HeadKernels.load(target + j) + HeadKernels.load(source + j), target + j)
                    j += 8
                }
                while j < span.upperBound {
                    target[j] += source[j]
                    j += 1
                }
            }
        }
    }
}

extension Conv2d: Module, ActivityCounting, ProductLayer {
    public var ownState: [Parameter] { [weight] }
}
