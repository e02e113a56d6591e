import QuantConfig
import SpikingNN
import Tensor

extension Spikformer {
    /// Sets each attached quantizer's learned scale (LSQ step, power-of-two α) to the value a packed
    /// model stored for its layer, so a model rebuilt from a packed file quantizes exactly as the one
    /// that was packed (the scales a fresh quantizer would initialise from the weights differ).
    ///
    /// - Throws: ``PackedModelError`` when a quantized layer has no single-value scale in `packed`.
    public func setQuantizerScales(from packed: SafetensorsDocument) throws {
        for layer in quantizableLayers {
            guard let quantizer = layer.quantizer as? any LayerQuantizer else { continue }
            guard let tensor = packed["\(layer.weight.name).scale"], tensor.elementCount == 1 else {
                throw PackedModelError(file: "packed model", tensor: "\(layer.weight.name).scale", message: "missing or not a single value")
            }
            let value = tensor.floatTensor()[flat: 0]
            guard value.isFinite, value > 0 else {
                throw PackedModelError(file: "packed model", tensor: "\(layer.weight.name).scale", message: "scale \(value) is not a positive number")
            }
            quantizer.scale.updateInPlace { $0[0] = value }
            layer.invalidateQuantizedWeight()
        }
    }
}
