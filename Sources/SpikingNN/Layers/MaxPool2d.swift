public import Tensor

/// Max pooling with a 3×3 window, stride 2, padding 1 (padding never wins), over `[C, F, H, W]`.
///
/// Ties (common with binary spikes) go to the first maximum in row-major window order, as in
/// PyTorch, and the backward pass routes each output gradient to that element.
///
/// The work is done plane by plane (``pool(_:planes:into:scratch:)``, ``scatter(_:planes:into:)``) so
/// that `BatchNormLIF` can pool each channel's spikes while they are still in cache, without the
/// full-size spike tensor ever reaching memory (``BatchNormLIF/forward(_:training:pooledBy:)``).
public final class MaxPool2d {
    /// Each output's input position within its plane, kept between training steps (every element
    /// is rewritten): a fresh array of this size each step was page-faulted and zeroed again
    /// (paper-model training ran 5 % slower).
    private var argmax = UnsafeMutableBufferPointer<Int32>(start: nil, count: 0)
    /// `H × W` of the last forward pass's input.
    private var inputPlane = (height: 0, width: 0)
    private var savedInputShape: [Int] = []

    public init() {}

    deinit { argmax.deallocate() }

    /// Output extent for an input extent: ⌊(n + 2·1 − 3)/2⌋ + 1.
    public static func outputSize(_ n: Int) -> Int { (n - 1) / 2 + 1 }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        var y = prepareForward(inputShape: x.shape, training: training)
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                let (input, output) = (px.baseAddress!, py.baseAddress!)
                let planeIn = x.shape[2] * x.shape[3]
                Compute.parallelFor(x.shape[0] * x.shape[1], grain: 1) { planes in
                    let scratch = Scratch(height: x.shape[2], width: x.shape[3])
                    defer { scratch.deallocate() }
                    pool(input + planes.lowerBound * planeIn, planes: planes, into: output, scratch: scratch)
                }
            }
        }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        let shape = prepareBackward(gradientCount: dy.count)
        var dx = Tensor(uninitializedShape: shape)
        dy.withUnsafeBufferPointer { pdy in
            dx.withUnsafeMutableBufferPointer { pdx in
                let (gradient, out) = (pdy.baseAddress!, pdx.baseAddress!)
                let planeIn = shape[2] * shape[3]
                Compute.parallelFor(shape[0] * shape[1], grain: 1) { planes in
                    scatter(gradient, planes: planes, into: out + planes.lowerBound * planeIn)
                }
            }
        }
        finishBackward()
        return dx
    }

    /// The output tensor for an input of `inputShape` `[C, F, H, W]`; when training, remembers the
    /// shape for the backward pass and sizes the kept positions.
    func prepareForward(inputShape: [Int], training: Bool) -> Tensor {
        precondition(inputShape.count == 4, "MaxPool2d: expected [C, F, H, W], got \(inputShape)")
        let (height, width) = (inputShape[2], inputShape[3])
        inputPlane = (height, width)
        let outputShape = [inputShape[0], inputShape[1], Self.outputSize(height), Self.outputSize(width)]
        let outputs = outputShape.reduce(1, *)
        if training && argmax.count != outputs {
            argmax.deallocate()
            argmax = .allocate(capacity: outputs)
        }
        savedInputShape = training ? inputShape : []
        return Tensor(uninitializedShape: outputShape)
    }

    /// Pools the input planes `planes` (the first at `input`, the rest contiguous after it) into
    /// their places in `output` (the whole output tensor), keeping each maximum's position when
    /// this pass trains. Disjoint plane ranges may run concurrently.
    func pool(_ input: UnsafePointer<Float>, planes: Range<Int>, into output: UnsafeMutablePointer<Float>, scratch: Scratch) {
        let (height, width) = inputPlane
        let planeOut = Self.outputSize(height) * Self.outputSize(width)
        let positions = savedInputShape.isEmpty ? nil : argmax.baseAddress!
        for (index, plane) in planes.enumerated() {
            PoolingKernels.maxPool3x3(
                input + index * height * width, height: height, width: width, into: output + plane * planeOut,
                arguments: positions.map { $0 + plane * planeOut }, rowMax: scratch.rowMax, rowArg: scratch.rowArgument)
        }
    }

    /// The input shape of the training pass whose gradient of `gradientCount` values comes back.
    func prepareBackward(gradientCount: Int) -> [Int] {
        precondition(!savedInputShape.isEmpty && argmax.count == gradientCount, "MaxPool2d: backward without a training forward pass")
        return savedInputShape
    }

    /// dL/dx of the input planes `planes` into `out` (the first plane's start, the rest contiguous):
    /// zero, then each output gradient of `gradient` (the whole output gradient) added at its
    /// maximum's position. The plane is zeroed just before its gradients are added, while it is in
    /// cache, instead of zeroing the whole tensor in a pass of its own.
    func scatter(_ gradient: UnsafePointer<Float>, planes: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let planeIn = inputPlane.height * inputPlane.width
        let planeOut = Self.outputSize(inputPlane.height) * Self.outputSize(inputPlane.width)
        let positions = argmax.baseAddress!
        for (index, plane) in planes.enumerated() {
            let target = out + index * planeIn
            target.update(repeating: 0, count: planeIn)
            for o in plane * planeOut..<(plane + 1) * planeOut {
                target[Int(positions[o])] += gradient[o]
            }
        }
    }

    /// Ends the backward pass: the kept positions belong to no forward pass any more.
    func finishBackward() { savedInputShape = [] }

    /// One thread's row maxima and their positions for ``pool(_:planes:into:scratch:)``.
    struct Scratch {
        let rowMax: UnsafeMutablePointer<Float>
        let rowArgument: UnsafeMutablePointer<Int32>

        init(height: Int, width: Int) {
            let count = PoolingKernels.scratchCount(height: height, width: width)
            rowMax = .allocate(capacity: count)
            rowArgument = .allocate(capacity: count)
        }

        func deallocate() {
            rowMax.deallocate()
            rowArgument.deallocate()
        }
    }
}

extension MaxPool2d: Module {}
