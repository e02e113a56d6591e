import Foundation
import QuantConfig
import SpikingNN
import Tensor

/// The deployable form of a quantized Spikformer, in safetensors.
///
/// For every quantized layer `L` it stores `L.weight.codes` (`U8`, the codes bit-packed at the
/// layer's width, see ``BitPacking``) and `L.weight.scale` (`F32 [1]`: the uniform step or the
/// power-of-two α). Float layers, biases and BatchNorm tensors stay `F32` under their checkpoint
/// names. The header's `__metadata__` holds the model configuration (as in a checkpoint), the
/// quantization config (canonical JSON) and, per quantized layer, its scheme, width and shape.
///
/// BatchNorm is kept, not folded: its four tensors per channel are stored as `F32`, and the model
/// run from the packed file computes exactly what the fake-quantized model computed, so its
/// predictions are identical. The packed size counts them (8 bytes per channel would suffice after
/// folding the running statistics; folding into the neuron threshold is left to the deployment
/// target). Energy figures exclude BatchNorm in both the FP32 and quantized models alike.
public enum PackedModel {
    public static let formatName = "spikeq.packed.v1"
    public static let quantizationMetadataKey = "spikeq.quantization"
    public static let layoutMetadataKey = "spikeq.packing"

    /// One packed layer's description in the metadata.
    struct LayerLayout: Codable, Hashable {
        var scheme: QuantScheme
        var bits: Int
        var shape: [Int]
    }

    /// The packed document of `model` with its attached quantizers.
    public static func document(of model: Spikformer, extraMetadata: [String: String] = [:]) -> SafetensorsDocument {
        var document = SafetensorsDocument(metadata: extraMetadata)
        let base = model.checkpoint()
        document.metadata.merge(base.metadata) { _, new in new }
        document.metadata[Spikformer.formatMetadataKey] = formatName
        document.metadata[quantizationMetadataKey] = String(decoding: model.attachedQuantization.canonicalJSON, as: UTF8.self)
        var layouts: [String: LayerLayout] = [:]
        var quantized: [String: any LayerQuantizer] = [:]
        for layer in model.quantizableLayers {
            if let quantizer = layer.quantizer as? any LayerQuantizer { quantized[layer.weight.name] = quantizer }
        }
        for name in base.names {
            guard let quantizer = quantized[name] else {
                document.set(name, base[name]!)
                continue
            }
            let weight = base[name]!
            let codec = quantizer.codec
            let codes = weight.floatTensor().scalars.map { codec.code(of: $0) }
            document.set("\(name).codes", SafetensorsTensor(u8: BitPacking.pack(codes, bits: codec.bits), shape: [BitPacking.byteCount(codes: codes.count, bits: codec.bits)]))
            document.set("\(name).scale", SafetensorsTensor(Tensor(shape: [1], scalars: [quantizer.scale.value[flat: 0]])))
            layouts[name] = LayerLayout(scheme: quantizer.choice.scheme, bits: codec.bits, shape: weight.shape)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        document.metadata[layoutMetadataKey] = String(decoding: (try? encoder.encode(layouts)) ?? Data(), as: UTF8.self)
        return document
    }

    /// Bytes of tensor data in the packed form of `model` (codes, scales and float tensors).
    public static func packedBytes(of model: Spikformer) -> Int {
        let document = document(of: model)
        return document.names.reduce(0) { $0 + document[$1]!.bytes.count }
    }

    /// Writes the packed model to `url`.
    public static func write(_ model: Spikformer, to url: URL, extraMetadata: [String: String] = [:]) throws {
        try document(of: model, extraMetadata: extraMetadata).write(to: url)
    }

    /// Rebuilds a model from a packed file: quantized weights are decoded to exactly the values
    /// the fake-quantized model used, and each quantized layer gets its quantizer back with the
    /// stored scale (which maps the decoded weights to the same levels), so inference runs the
    /// same exact integer-level products as the model that was measured.
    public static func load(contentsOf url: URL) throws -> (model: Spikformer, quantization: QuantizationConfig, metadata: [String: String]) {
        try load(SafetensorsDocument.read(contentsOf: url), file: url.path)
    }

    public static func load(_ packed: SafetensorsDocument, file: String) throws -> (model: Spikformer, quantization: QuantizationConfig, metadata: [String: String]) {
        let decoded = try decode(packed, file: file)
        let model = try Spikformer(checkpoint: decoded.checkpoint, file: file)
        for layer in model.quantizableLayers {
            if let quantizer = decoded.quantizers[layer.name] { layer.quantizer = quantizer }
        }
        return (model, decoded.quantization, packed.metadata)
    }

    /// The float form of a packed model: an FP32 checkpoint with every quantized weight decoded to
    /// the value the fake-quantized model used, under its checkpoint name, so any Spikformer that
    /// loads SpikeQuant checkpoints (the PyTorch reference in benchmarks/pytorch among them) loads it.
    /// The quantization config and packing layout stay in `__metadata__`.
    public static func dequantized(_ packed: SafetensorsDocument, file: String) throws -> SafetensorsDocument {
        try decode(packed, file: file).checkpoint
    }

    private static func decode(_ packed: SafetensorsDocument, file: String) throws
        -> (checkpoint: SafetensorsDocument, quantizers: [String: any LayerQuantizer], quantization: QuantizationConfig)
    {
        guard packed.metadata[Spikformer.formatMetadataKey] == formatName else {
            throw PackedModelError(
                file: file, tensor: nil,
                message: "not a packed SpikeQuant model (format `\(packed.metadata[Spikformer.formatMetadataKey] ?? "none")`, expected `\(formatName)`)")
        }
        guard let layoutJSON = packed.metadata[layoutMetadataKey], let quantJSON = packed.metadata[quantizationMetadataKey] else {
            throw PackedModelError(file: file, tensor: nil, message: "missing `\(layoutMetadataKey)` or `\(quantizationMetadataKey)` metadata")
        }
        let layouts: [String: LayerLayout]
        let quantization: QuantizationConfig
        do {
            layouts = try JSONDecoder().decode([String: LayerLayout].self, from: Data(layoutJSON.utf8))
            quantization = try JSONDecoder().decode(QuantizationConfig.self, from: Data(quantJSON.utf8))
        } catch {
            throw PackedModelError(file: file, tensor: nil, message: "bad packing metadata: \(error)")
        }
        var plain = SafetensorsDocument(metadata: packed.metadata)
        var quantizers: [String: any LayerQuantizer] = [:]
        plain.metadata[Spikformer.formatMetadataKey] = Spikformer.formatName
        let packedNames = Set(layouts.keys.flatMap { ["\($0).codes", "\($0).scale"] })
        for name in packed.names where !packedNames.contains(name) { plain.set(name, packed[name]!) }
        for (name, layout) in layouts.sorted(by: { $0.key < $1.key }) {
            guard let codesTensor = packed["\(name).codes"], codesTensor.dtype == .u8 else {
                throw PackedModelError(file: file, tensor: "\(name).codes", message: "missing or not U8")
            }
            guard let scaleTensor = packed["\(name).scale"], scaleTensor.elementCount == 1 else {
                throw PackedModelError(file: file, tensor: "\(name).scale", message: "missing or not a single value")
            }
            guard QuantizationSpace.supportedBits.contains(layout.bits), layout.scheme != .float else {
                throw PackedModelError(file: file, tensor: name, message: "unsupported packing \(layout.scheme.rawValue) \(layout.bits) bits")
            }
            let scale = scaleTensor.floatTensor()[flat: 0]
            let codec: any WeightCodec = layout.scheme == .uniform
                ? UniformCodec(bits: layout.bits, step: scale) : PowerOfTwoCodec(bits: layout.bits, alpha: scale)
            // At most 8 codes fit in a byte (bits ≥ 1), so a larger shape is refused before unpacking.
            guard let count = Tensor.elementCount(of: layout.shape), count <= 8 * codesTensor.bytes.count else {
                throw PackedModelError(
                    file: file, tensor: "\(name).codes",
                    message: "layout shape \(layout.shape) is not a shape of at most \(8 * codesTensor.bytes.count) codes")
            }
            let codes: [UInt32]
            do {
                codes = try BitPacking.unpack(codesTensor.bytes, count: count, bits: layout.bits)
            } catch {
                throw PackedModelError(file: file, tensor: "\(name).codes", message: "\(error)")
            }
            let limit = UInt32(1) << UInt32(layout.bits)
            if let bad = codes.firstIndex(where: { $0 >= limit }) {
                throw PackedModelError(file: file, tensor: "\(name).codes", message: "code \(codes[bad]) at element \(bad) exceeds \(layout.bits) bits")
            }
            plain.set(name, SafetensorsTensor(Tensor(shape: layout.shape, scalars: codes.map { codec.value(of: $0) })))
            let layer = String(name.dropLast(".weight".count))
            quantizers[layer] = layout.scheme == .uniform
                ? UniformQuantizer(layer: layer, bits: layout.bits, step: scale)
                : PowerOfTwoQuantizer(layer: layer, bits: layout.bits, alpha: scale)
        }
        return (plain, quantizers, quantization)
    }
}

/// A packed model file that cannot be read; names the file and the tensor.
public struct PackedModelError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var tensor: String?
    public var message: String

    public var description: String { "\(file): \(tensor.map { "tensor `\($0)`: " } ?? "")\(message)" }
}
