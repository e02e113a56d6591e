public import Tensor

/// Max pooling with a 3×3 window, stride 2, padding 1 (padding never wins), over `[C, F, H, W]`.
///
/// Ties (common with binary spikes) go to the first maximum in row-major window order, as in
/// PyTorch, and the backward pass routes each output gradient to that element.
public final class MaxPool2d {
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
        var argmax = [Int32](repeating: 0, count: training ? y.count : 0)
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                argmax.withUnsafeMutableBufferPointer { pa in
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
                            let src = input + plane * height * width
                            for yy in 0..<height {
                                Self.horizontalMax(src + yy * width, width: width, outputWidth: ow,
                                                   into: rowMax + yy * ow, arguments: rowArg + yy * ow)
                            }
                            let dst = output + plane * oh * ow
                            for oy in 0..<oh {
                                let y0 = max(0, 2 * oy - 1)
                                let y1 = min(height, 2 * oy + 2)
                                let out = dst + oy * ow
                                (out).update(from: rowMax + y0 * ow, count: ow)
                                if let indices {
                                    let index = indices + plane * oh * ow + oy * ow
                                    for ox in 0..<ow { index[ox] = Int32(y0 * width) + rowArg[y0 * ow + ox] }
                                    for yy in (y0 + 1)..<y1 {
                                        let row = rowMax + yy * ow
                                        let arg = rowArg + yy * ow
                                        for ox in 0..<ow where row[ox] > out[ox] {
                                            out[ox] = row[ox]
                                            index[ox] = Int32(yy * width) + arg[ox]
                                        }
                                    }
                                } else {
                                    for yy in (y0 + 1)..<y1 {
                                        let row = rowMax + yy * ow
                                        for ox in 0..<ow { out[ox] = max(out[ox], row[ox]) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if training {
            savedArgmax = argmax
            savedInputShape = x.shape
        } else {
            savedArgmax = []
        }
        return y
    }

    /// `out[ox]` = max of `row[2·ox − 1 ... 2·ox + 1]` (within the row), `arguments[ox]` = the column
    /// of its first occurrence.
    @inline(__always)
    static func horizontalMax(_ row: UnsafePointer<Float>, width: Int, outputWidth ow: Int,
                              into out: UnsafeMutablePointer<Float>, arguments: UnsafeMutablePointer<Int32>) {
        for ox in 0..<ow {
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
            arguments[ox] = Int32(argument)
        }
    }

    public func backward(_ dy: Tensor) -> Tensor {
        precondition(!savedInputShape.isEmpty && savedArgmax.count == dy.count, "MaxPool2d: backward without a training forward pass")
        let shape = savedInputShape
        let planeIn = shape[2] * shape[3]
        let planeOut = dy.shape[2] * dy.shape[3]
        var dx = Tensor(shape: shape)
        dy.withUnsafeBufferPointer { pdy in
            dx.withUnsafeMutableBufferPointer { pdx in
                savedArgmax.withUnsafeBufferPointer { pa in
                    let g = pdy.baseAddress!
                    let out = pdx.baseAddress!
                    let indices = pa.baseAddress!
                    Compute.parallelFor(shape[0] * shape[1], grain: 1) { planes in
                        for plane in planes {
                            for o in 0..<planeOut {
                                let k = plane * planeOut + o
                                out[plane * planeIn + Int(indices[k])] += g[k]
                            }
                        }
                    }
                }
            }
        }
        savedArgmax = []
        savedInputShape = []
        return dx
    }
}
