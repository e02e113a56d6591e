public import Foundation
public import Tensor

/// A checkpoint that does not fit the model; names the file and the tensor.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var tensor: String?
    public var message: String

    public init(file: String, tensor: String?, message: String) {
        (self.file, self.tensor, self.message) = (file, tensor, message)
    }

    public var description: String { "\(file): \(tensor.map { "tensor `\($0)`: " } ?? "")\(message)" }
}

extension Spikformer {
    /// Metadata key holding the model configuration (canonical JSON).
    public static let configMetadataKey = "spikeq.model_config"
    /// Metadata key identifying the format.
    public static let formatMetadataKey = "format"
    public static let formatName = "spikeq.spikformer.v1"

    /// Every state tensor (parameters and BN running statistics) by checkpoint name.
    public var namedState: [(name: String, tensor: Tensor)] { stateParameters.map { ($0.name, $0.value) } }

    /// The model as a safetensors document: F32 tensors in PyTorch layouts, the configuration in
    /// `__metadata__`.
    public func checkpoint(extraMetadata: [String: String] = [:]) -> SafetensorsDocument {
        var document = SafetensorsDocument(metadata: extraMetadata)
        document.metadata[Self.configMetadataKey] = config.canonicalJSON
        document.metadata[Self.formatMetadataKey] = Self.formatName
        for parameter in stateParameters { document.set(parameter.name, SafetensorsTensor(parameter.value)) }
        return document
    }

    /// Writes ``checkpoint(extraMetadata:)`` to `url`.
    public func save(to url: URL, extraMetadata: [String: String] = [:]) throws {
        try checkpoint(extraMetadata: extraMetadata).write(to: url)
    }

    /// Copies the state tensors from `document`; every model tensor must be present with its shape.
    /// Unknown extra tensors are rejected too (a mismatch usually means the wrong model).
    public func loadState(from document: SafetensorsDocument, file: String = "<checkpoint>") throws {
        let expected = Set(stateParameters.map(\.name))
        for name in document.names where !expected.contains(name) {
            throw CheckpointError(file: file, tensor: name, message: "not a tensor of this model")
        }
        for parameter in stateParameters {
            guard let stored = document[parameter.name] else {
                throw CheckpointError(file: file, tensor: parameter.name, message: "missing")
            }
            guard stored.shape == parameter.value.shape else {
                throw CheckpointError(file: file, tensor: parameter.name,
                                      message: "shape \(stored.shape) does not match the model's \(parameter.value.shape)")
            }
            guard [.f32, .f16, .bf16, .f64].contains(stored.dtype) else {
                throw CheckpointError(file: file, tensor: parameter.name, message: "dtype \(stored.dtype.rawValue) is not a float type")
            }
        }
        for parameter in stateParameters { parameter.value = document[parameter.name]!.floatTensor() }
        for layer in quantizableLayers { layer.invalidateQuantizedWeight() }
    }

    /// Rebuilds a model from a checkpoint alone (configuration from its metadata).
    public convenience init(checkpoint document: SafetensorsDocument, file: String = "<checkpoint>") throws {
        guard let json = document.metadata[Self.configMetadataKey] else {
            throw CheckpointError(file: file, tensor: nil, message: "no `\(Self.configMetadataKey)` in __metadata__ (not a SpikeQuant checkpoint?)")
        }
        let config: SpikformerConfig
        do {
            config = try SpikformerConfig.parse(json, file: "\(file) (__metadata__.\(Self.configMetadataKey))")
        } catch {
            throw CheckpointError(file: file, tensor: nil, message: "bad model configuration: \(error)")
        }
        try Self.checkShapes(of: config, against: document, file: file)
        self.init(config: config)
        try loadState(from: document, file: file)
    }

    /// Checks the tensors that fix the model's size against `config` before anything is allocated,
    /// so a crafted configuration cannot make the loader build a model far larger than the file
    /// (every block must be present; the stem, the first MLP and the head must have the config's shapes).
    static func checkShapes(of config: SpikformerConfig, against document: SafetensorsDocument, file: String) throws {
        let d = config.embedDimension
        func expect(_ name: String, _ shape: [Int]) throws {
            guard let tensor = document[name] else { throw CheckpointError(file: file, tensor: name, message: "missing") }
            guard tensor.shape == shape else {
                throw CheckpointError(file: file, tensor: name, message: "shape \(tensor.shape) does not match the configuration's \(shape)")
            }
        }
        try expect("sps.stages.0.conv.weight", [d / 8, config.inputChannels, 3, 3])
        try expect("sps.rpe.conv.weight", [d, d, 3, 3])
        for block in 0..<config.depth {
            guard document["blocks.\(block).attn.q.linear.weight"] != nil else {
                throw CheckpointError(
                    file: file, tensor: "blocks.\(block).attn.q.linear.weight", message: "missing (the configuration has \(config.depth) blocks)")
            }
        }
        if config.depth > 0 { try expect("blocks.0.mlp.fc1.linear.weight", [d * config.mlpRatio, d]) }
        try expect("head.weight", [config.classes, d])
    }

    /// Reads a checkpoint file and rebuilds the model.
    public static func load(contentsOf url: URL) throws -> Spikformer {
        try Spikformer(checkpoint: SafetensorsDocument.read(contentsOf: url), file: url.path)
    }
}
