import ConfigFiles
import QuantConfig
import SpikingNN
import Tensor

extension Spikformer {
    /// Attaches a fake quantizer to every quantizable layer as `config` says (`float` layers get
    /// none), initialising each scale from the layer's current weight.
    ///
    /// - Throws: ``ConfigError`` naming the layer when `config` lists an unknown layer or
    ///   misses one.
    public func applyQuantization(_ config: QuantizationConfig) throws(ConfigError) {
        let names = quantizableLayers.map(\.name)
        for name in config.layers.keys.sorted() where !names.contains(name) {
            throw ConfigError(key: "layers.\(name)", layer: name, message: "not a quantizable layer of this model")
        }
        for layer in quantizableLayers {
            guard let choice = config[layer.name] else {
                throw ConfigError(key: "layers.\(layer.name)", layer: layer.name, message: "missing")
            }
            try QuantizationSpace.checkChoice(choice, layer: layer.name)
            switch choice.scheme {
            case .float: layer.quantizer = nil
            case .uniform: layer.quantizer = UniformQuantizer(layer: layer.name, bits: choice.bits, weight: layer.weight.value)
            case .pot: layer.quantizer = PowerOfTwoQuantizer(layer: layer.name, bits: choice.bits, weight: layer.weight.value)
            }
        }
    }

    /// Removes every quantizer (back to the FP32 model).
    public func removeQuantization() {
        for layer in quantizableLayers { layer.quantizer = nil }
    }

    /// The per-layer choice currently attached (float where no quantizer is).
    public var attachedQuantization: QuantizationConfig {
        var config = QuantizationConfig(layers: [:])
        for layer in quantizableLayers {
            config[layer.name] = (layer.quantizer as? any LayerQuantizer)?.choice ?? .float
        }
        return config
    }

    /// Weight elements per quantizable layer (for parameter-weighted average bits).
    public var quantizableWeightCounts: [String: Int] {
        Dictionary(uniqueKeysWithValues: quantizableLayers.map { ($0.name, $0.weightCount) })
    }
}
