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
                        let scratch = PoolingKernels.scratchCount(height: height, width: width)
                        let rowMax = UnsafeMutablePointer<Float>.allocate(capacity: scratch)
                        let rowArg = UnsafeMutablePointer<Int32>.allocate(capacity: scratch)
                        defer {
                            rowMax.deallocate()
                            rowArg.deallocate()
                        }
                        for plane in planes {
                            PoolingKernels.maxPool3x3(
                                input + plane * height * width, height: height, width: width, into: output + plane * oh * ow,
                                arguments: indices.map { $0 + plane * oh * ow }, rowMax: rowMax, rowArg: rowArg)
                        }
                    }
                }
            }
        }
        return y
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
