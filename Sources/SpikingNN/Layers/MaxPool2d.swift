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
                        for plane in planes {
                            let src = input + plane * height * width
                            let dst = output + plane * oh * ow
                            for oy in 0..<oh {
                                let y0 = max(0, 2 * oy - 1)
                                let y1 = min(height, 2 * oy + 2)
                                for ox in 0..<ow {
                                    let x0 = max(0, 2 * ox - 1)
                                    let x1 = min(width, 2 * ox + 2)
                                    var best = -Float.infinity
                                    var bestIndex = 0
                                    for yy in y0..<y1 {
                                        for xx in x0..<x1 {
                                            let value = src[yy * width + xx]
                                            if value > best {
                                                best = value
                                                bestIndex = yy * width + xx
                                            }
                                        }
                                    }
                                    dst[oy * ow + ox] = best
                                    if let indices { indices[plane * oh * ow + oy * ow + ox] = Int32(bestIndex) }
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
