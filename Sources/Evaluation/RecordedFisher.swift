import ContentHash
import Foundation
import SpikingNN
import Tensor

/// Sums of squared weight gradients of a model's quantizable layers over training batches: the
/// diagonal empirical Fisher information, Fᵢ = mean over batches of gᵢ².
struct FisherAccumulator {
    private let layers: [any QuantizableLayer]
    private var sums: [Tensor]
    private(set) var batches = 0

    init(_ model: Spikformer) {
        layers = model.quantizableLayers
        sums = layers.map { Tensor(shape: $0.weight.value.shape) }
    }

    /// Adds the squared gradients the layers hold now (after a backward pass).
    mutating func addCurrentGradients() {
        for (index, layer) in layers.enumerated() {
            guard let g = layer.weight.gradient else { continue }
            sums[index].withUnsafeMutableBufferPointer { s in
                g.withUnsafeBufferPointer { gi in
                    for i in 0..<s.count { s[i] += gi[i] * gi[i] }
                }
            }
        }
        batches += 1
    }

    /// The mean squared gradient per layer, in ``Spikformer/quantizableLayers`` order.
    var means: [Tensor] {
        let scale = 1 / Float(max(batches, 1))
        return sums.map { sum in
            var mean = sum
            mean.withUnsafeMutableBufferPointer { m in for i in 0..<m.count { m[i] *= scale } }
            return mean
        }
    }

    /// The means by layer name.
    var record: [String: Tensor] {
        Dictionary(uniqueKeysWithValues: zip(layers.map(\.name), means))
    }
}

/// The base model's empirical Fisher, recorded from the gradients of the last batches of its training
/// (computed for the optimizer anyway), so a run's Fisher sensitivity table costs no extra gradient
/// passes. Written next to the checkpoint as `<name>.fisher.safetensors`, one F32 tensor per
/// quantizable layer (named like the layer, the weight's shape), with the checkpoint's SHA-256 and
/// the batch count in `__metadata__`: a record is only used with the checkpoint it was made for.
public struct RecordedFisher: Sendable {
    /// Training batches averaged (the last ones of the base model's training).
    public var batches: Int
    /// SHA-256 (hex) of the checkpoint the gradients belong to.
    public var checkpointSHA256: String
    /// Mean squared weight gradient per quantizable layer.
    public var perLayer: [String: Tensor]
    /// The file it was read from (for error messages).
    public var source = "<recorded Fisher>"

    static let format = "spikeq.fisher.v1"
    static let batchesKey = "spikeq.fisher_batches"
    static let checkpointKey = "spikeq.checkpoint_sha256"

    public init(batches: Int, checkpointSHA256: String, perLayer: [String: Tensor]) {
        (self.batches, self.checkpointSHA256, self.perLayer) = (batches, checkpointSHA256, perLayer)
    }

    /// Where the record of the checkpoint at `checkpoint` lives: `base.safetensors` → `base.fisher.safetensors`.
    public static func url(forCheckpoint checkpoint: URL) -> URL {
        checkpoint.deletingPathExtension().appendingPathExtension("fisher.safetensors")
    }

    public func write(to url: URL) throws {
        var document = SafetensorsDocument(metadata: [
            Spikformer.formatMetadataKey: Self.format, Self.batchesKey: String(batches), Self.checkpointKey: checkpointSHA256,
        ])
        for name in perLayer.keys.sorted() { document.set(name, SafetensorsTensor(perLayer[name]!)) }
        try document.write(to: url)
    }

    /// Reads the record at `url`.
    ///
    /// - Throws: `CheckpointError` naming the file and what is wrong (not a Fisher record, a bad batch
    ///   count or hash, a non-float or negative entry); the safetensors reader's errors.
    public static func read(contentsOf url: URL) throws -> RecordedFisher {
        let document = try SafetensorsDocument.read(contentsOf: url)
        func failure(_ tensor: String?, _ message: String) -> CheckpointError { CheckpointError(file: url.path, tensor: tensor, message: message) }
        guard document.metadata[Spikformer.formatMetadataKey] == format else {
            throw failure(nil, "__metadata__.format is not \(format) (not a recorded Fisher)")
        }
        guard let text = document.metadata[batchesKey], let batches = Int(text), batches > 0 else {
            throw failure(nil, "__metadata__.\(batchesKey) is not a positive integer")
        }
        guard let hash = document.metadata[checkpointKey], hash.count == 64, hash.allSatisfy(\.isHexDigit) else {
            throw failure(nil, "__metadata__.\(checkpointKey) is not a SHA-256 in hex")
        }
        var perLayer: [String: Tensor] = [:]
        for name in document.names {
            let stored = document[name]!
            guard [.f32, .f64].contains(stored.dtype) else { throw failure(name, "dtype \(stored.dtype.rawValue) is not F32 or F64") }
            let values = stored.floatTensor()
            let valid = values.withUnsafeBufferPointer { $0.allSatisfy { $0.isFinite && $0 >= 0 } }
            guard valid else { throw failure(name, "holds a negative or non-finite mean squared gradient") }
            perLayer[name] = values
        }
        var record = RecordedFisher(batches: batches, checkpointSHA256: hash, perLayer: perLayer)
        record.source = url.path
        return record
    }

    /// The record next to `checkpoint` when it belongs to that checkpoint (same SHA-256) and averages
    /// at least `batches` batches; nil otherwise, with the reason when a file was there.
    public static func usable(forCheckpoint checkpoint: URL, sha256: String, batches: Int) throws -> (record: RecordedFisher?, reason: String?) {
        let url = url(forCheckpoint: checkpoint)
        guard FileManager.default.fileExists(atPath: url.path) else { return (nil, nil) }
        let record = try read(contentsOf: url)
        guard record.checkpointSHA256 == sha256 else {
            return (nil, "\(url.path) was recorded for another checkpoint (\(record.checkpointSHA256.prefix(12))…)")
        }
        guard record.batches >= batches else {
            return (nil, "\(url.path) averages \(record.batches) batches, fewer than the \(batches) asked for")
        }
        return (record, nil)
    }

    /// ``usable(forCheckpoint:sha256:batches:)`` for a front end: the record or nil, with one line to
    /// `note` saying which record is used, or why the one found is not.
    public static func lookUp(forCheckpoint checkpoint: URL, sha256: String, batches: Int, note: (String) -> Void) throws -> RecordedFisher? {
        let found = try usable(forCheckpoint: checkpoint, sha256: sha256, batches: batches)
        if let reason = found.reason { note("not using the recorded Fisher: \(reason)") }
        if let record = found.record { note("Fisher recorded while the base model trained: \(record.batches) batches (\(record.source))") }
        return found.record
    }

    /// The per-layer tensors in `model`'s quantizable-layer order, each checked against the layer's shape.
    public func tensors(for model: Spikformer) throws -> [Tensor] {
        let layers = model.quantizableLayers
        let names = Set(layers.map(\.name))
        for name in perLayer.keys.sorted() where !names.contains(name) {
            throw CheckpointError(file: source, tensor: name, message: "not a quantizable layer of this model")
        }
        return try layers.map { layer in
            guard let tensor = perLayer[layer.name] else {
                throw CheckpointError(file: source, tensor: layer.name, message: "missing (the record is of another model)")
            }
            guard tensor.shape == layer.weight.value.shape else {
                throw CheckpointError(
                    file: source, tensor: layer.name, message: "shape \(tensor.shape) does not match the weight's \(layer.weight.value.shape)")
            }
            return tensor
        }
    }
}
