public import Seeding
public import Tensor

extension Tensor {
    /// A tensor with elements drawn uniformly from `[-bound, bound)`.
    public static func uniform(shape: [Int], bound: Float, generator: inout SeededGenerator) -> Tensor {
        var t = Tensor(uninitializedShape: shape)
        t.withUnsafeMutableBufferPointer { buffer in
            for i in buffer.indices { buffer[i] = (generator.nextUnitFloat() * 2 - 1) * bound }
        }
        return t
    }
}
