public import Tensor

/// Max pooling with a 3×3 window, stride 2, padding 1 (padding never wins), over `[C, F, H, W]`.
///
/// Ties (common with binary spikes) go to the first maximum in row-major window order, as in
/// PyTorch, and the backward pass routes each output gradient to that element.
public final class MaxPool2d {
    /// Kept between training steps (every element is rewritten): a fresh array of this size each
    /// step was page-faulted and zeroed again (paper-model training ran 5 % slower).
    private var savedArgmax: [Int32] = []
    private var savedInputShape: [Int] = []

    public init() {}

    /// Output extent for an input extent: ⌊(n + 2·1 − 3)/2⌋ + 1.
    public static func outputSize(_ n: Int) -> Int { (n - 1) / 2 + 1 }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        precondition(x.shape.count == 4, "MaxPool2d: expected [C, F, H, W], got \(x.shape)")
        let (channels, frames, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = Self.outputSize(height)
        let ow = Self.outputSize(width)
        var y = Tensor(uninitializedShape: [channels, frames, oh, ow])
        if training && savedArgmax.count != y.count { savedArgmax = [Int32](repeating: 0, count: y.count) }
        savedInputShape = training ? x.shape : []
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                savedArgmax.withUnsafeMutableBufferPointer { pa in
                    let input = px.baseAddress!
                    let output = py.baseAddress!
                    let indices = training ? pa.baseAddress : nil
                    Compute.parallelFor(channels * frames, grain: 1) { planes in
                        // Separable: the max over 3 columns (stride 2) of every row, then over 3 of
                        // those rows. Taking the first maximum in each pass gives the first maximum
                        // of the window in row-major order.
                        let rowMax = UnsafeMutablePointer<Float>.allocate(capacity: height * ow)
                        let rowArg = UnsafeMutablePointer<Int32>.allocate(capacity: height * ow)
                        defer {
                            rowMax.deallocate()
                            rowArg.deallocate()
                        }
                        for plane in planes {
                            Self.horizontalMax(plane: input + plane * height * width, height: height, width: width,
                                               outputWidth: ow, into: rowMax, arguments: rowArg)
                            let dst = output + plane * oh * ow
                            for oy in 0..<oh {
                                let y0 = max(0, 2 * oy - 1)
                                let y1 = min(height, 2 * oy + 2)
                                let out = dst + oy * ow
                                out.update(from: rowMax + y0 * ow, count: ow)
                                let index = indices.map { $0 + plane * oh * ow + oy * ow }
                                index?.update(from: rowArg + y0 * ow, count: ow)
                                for yy in (y0 + 1)..<y1 {
                                    Self.verticalMax(rowMax + yy * ow, arguments: rowArg + yy * ow, count: ow, into: out, indices: index)
                                }
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// For every row of a plane, `out[y·ow + ox]` = max of `row_y[2·ox − 1 ... 2·ox + 1]` (within
    /// the row) and `arguments[…]` = the plane index `y·W + column` of its first occurrence.
    ///
    /// For even widths output o's centre is plane element 2·o, so the whole plane is one strided
    /// sequence: eight outputs at a time come from two 16-wide loads split into even and odd
    /// lanes (left, centre and right neighbours). Outputs at the start of a row, whose left
    /// neighbour belongs to the previous row, are then recomputed by the scalar path.
    static func horizontalMax(plane: UnsafePointer<Float>, height: Int, width: Int, outputWidth ow: Int,
                              into out: UnsafeMutablePointer<Float>, arguments: UnsafeMutablePointer<Int32>) {
        guard width % 2 == 0 else {
            for y in 0..<height {
                scalarHorizontalMax(plane, width: width, row: y, outputs: 0..<ow, into: out + y * ow, arguments: arguments + y * ow)
            }
            return
        }
        let count = height * ow
        let total = height * width
        var o = 1
        while 2 * o + 16 <= total && o + 8 <= count {
            let base = plane + 2 * o - 1
            let first = UnsafeRawPointer(base).loadUnaligned(as: SIMD16<Float>.self)
            let second = UnsafeRawPointer(base + 1).loadUnaligned(as: SIMD16<Float>.self)
            let (left, center, right) = (first.evenHalf, first.oddHalf, second.oddHalf)
            let columns = SIMD8<Int32>(0, 2, 4, 6, 8, 10, 12, 14) &+ Int32(2 * o)
            // First maximum in window order: the left neighbour wins ties with the centre, the
            // right one only a strict comparison.
            let leftWins = left .>= center
            var best = center.replacing(with: left, where: leftWins)
            var argument = columns.replacing(with: columns &- 1, where: leftWins)
            let rightWins = right .> best
            best = best.replacing(with: right, where: rightWins)
            argument = argument.replacing(with: columns &+ 1, where: rightWins)
            UnsafeMutableRawPointer(out + o).storeBytes(of: best, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(arguments + o).storeBytes(of: argument, as: SIMD8<Int32>.self)
            o += 8
        }
        for y in 0..<height {
            let rowStart = y * ow
            let done = min(max(o - rowStart, 1), ow)  // outputs of this row the vector loop got right
            scalarHorizontalMax(plane, width: width, row: y, outputs: 0..<1, into: out + rowStart, arguments: arguments + rowStart)
            scalarHorizontalMax(plane, width: width, row: y, outputs: done..<ow, into: out + rowStart, arguments: arguments + rowStart)
        }
    }

    @inline(__always)
    static func scalarHorizontalMax(_ plane: UnsafePointer<Float>, width: Int, row y: Int, outputs: Range<Int>,
                                    into out: UnsafeMutablePointer<Float>, arguments: UnsafeMutablePointer<Int32>) {
        let row = plane + y * width
        for ox in outputs {
            let center = 2 * ox
            var best = row[center]
            var argument = center
            if center > 0, row[center - 1] >= best {
                best = row[center - 1]
                argument = center - 1
            }
            if center + 1 < width, row[center + 1] > best {
                best = row[center + 1]
                argument = center + 1
            }
            out[ox] = best
            arguments[ox] = Int32(y * width + argument)
        }
    }

    /// `out = max(out, row)` element-wise; where `row` is strictly larger, `indices` takes `arguments`.
    @inline(__always)
    static func verticalMax(_ row: UnsafePointer<Float>, arguments: UnsafePointer<Int32>, count: Int,
                            into out: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int32>?) {
        var i = 0
        while i + 8 <= count {
            let candidate = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self)
            let current = UnsafeRawPointer(out + i).loadUnaligned(as: SIMD8<Float>.self)
            let wins = candidate .> current
            UnsafeMutableRawPointer(out + i).storeBytes(of: current.replacing(with: candidate, where: wins), as: SIMD8<Float>.self)
            if let indices {
                let index = UnsafeRawPointer(indices + i).loadUnaligned(as: SIMD8<Int32>.self)
                let argument = UnsafeRawPointer(arguments + i).loadUnaligned(as: SIMD8<Int32>.self)
                UnsafeMutableRawPointer(indices + i).storeBytes(of: index.replacing(with: argument, where: wins), as: SIMD8<Int32>.self)
            }
            i += 8
        }
        while i < count {
            if row[i] > out[i] {
                out[i] = row[i]
                indices?[i] = arguments[i]
            }
            i += 1
        }
    }

    public func backward(_ dy: Tensor) -> Tensor {
        precondition(!savedInputShape.isEmpty && savedArgmax.count == dy.count, "MaxPool2d: backward without a training forward pass")
        defer { savedInputShape = [] }
        let shape = savedInputShape
        let planeIn = shape[2] * shape[3]
        let planeOut = dy.shape[2] * dy.shape[3]
        // Each plane is zeroed just before its gradients are added, while it is in cache, instead
        // of zeroing the whole tensor in a pass of its own.
        var dx = Tensor(uninitializedShape: shape)
        dy.withUnsafeBufferPointer { pdy in
            dx.withUnsafeMutableBufferPointer { pdx in
                savedArgmax.withUnsafeBufferPointer { pa in
                    let g = pdy.baseAddress!
                    let out = pdx.baseAddress!
                    let indices = pa.baseAddress!
                    Compute.parallelFor(shape[0] * shape[1], grain: 1) { planes in
                        for plane in planes {
                            (out + plane * planeIn).update(repeating: 0, count: planeIn)
                            for o in 0..<planeOut {
                                let k = plane * planeOut + o
                                out[plane * planeIn + Int(indices[k])] += g[k]
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}

extension MaxPool2d: Module {}
