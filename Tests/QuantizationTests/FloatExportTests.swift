import Foundation
import QuantConfig
import Quantization
import SpikingNN
import Tensor
import Testing

/// The float form of a packed model, and the numpy-only loader users get in `python/`.
struct FloatExportTests {
    /// Every scheme and width the packed format stores, cycled over the layers.
    static func everyWidthConfig(_ model: Spikformer) -> QuantizationConfig {
        let choices: [LayerQuantization] = QuantizationSpace.supportedBits.flatMap { [.uniform($0), .pot($0)] }
        var config = QuantizationConfig(layers: [:])
        for (i, layer) in model.quantizableLayers.enumerated() { config[layer.name] = choices[i % choices.count] }
        return config
    }

    static func packedModel(seed: UInt64) throws -> Spikformer {
        let model = QuantizerTests.activeModel(seed: seed)
        try model.applyQuantization(everyWidthConfig(model))
        for layer in model.quantizableLayers {
            if let q = layer.quantizer as? any LayerQuantizer { q.scale.value = Tensor(shape: [1], scalars: [q.scale.value[flat: 0] * 0.87]) }
        }
        return model
    }

    @Test func floatFormHoldsTheDecodedWeightsUnderCheckpointNames() throws {
        let model = try Self.packedModel(seed: 11)
        let packed = PackedModel.document(of: model)
        let float = try PackedModel.dequantized(packed, file: "packed.safetensors")
        let loaded = try PackedModel.load(packed, file: "packed.safetensors").model
        // Same names as an FP32 checkpoint, and exactly the weights `spikeq infer` runs.
        #expect(Set(float.names) == Set(model.checkpoint().names))
        let network = try Spikformer(checkpoint: float, file: "float.safetensors")
        for (name, tensor) in loaded.namedState {
            #expect(network.namedState.first { $0.name == name }?.tensor.scalars == tensor.scalars, "\(name)")
        }
    }
}

/// `python/spikeq_export.py` decodes packed files with numpy alone, written from docs/quantization.md.
@Suite(.enabled(if: NumpyLoader.available || TestEnvironment.requiresExternalTools))
struct NumpyLoaderTests {
    @Test func numpyDecodesPackedFilesToExactlyTheFloatExport() throws {
        try NumpyLoader.requireAvailable()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numpy-loader-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try FloatExportTests.packedModel(seed: 12)
        let packedURL = directory.appendingPathComponent("m.safetensors")
        let floatURL = directory.appendingPathComponent("m.float.safetensors")
        var packed = PackedModel.document(of: model)
        try packed.write(to: packedURL)
        try PackedModel.dequantized(packed, file: packedURL.path).write(to: floatURL)
        let (status, output) = try NumpyLoader.run(["compare", packedURL.path, floatURL.path])
        #expect(status == 0, "numpy's decoding differs: \(output)")
        #expect(output.contains("\"differing\": []"))

        // One flipped code bit is caught, so the comparison can fail.
        let name = try #require(packed.names.first { $0.hasSuffix(".weight.codes") })
        var codes = packed[name]!
        codes.bytes[0] ^= 0x01
        packed.set(name, codes)
        try packed.write(to: packedURL)
        let (changed, report) = try NumpyLoader.run(["compare", packedURL.path, floatURL.path])
        #expect(changed == 1)
        #expect(report.contains(String(name.dropLast(".codes".count))))
    }
}

enum NumpyLoader {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("python/spikeq_export.py")

    static let available = TestEnvironment.pythonCanImport("numpy")

    struct Missing: Error, CustomStringConvertible {
        var description: String { "python3 with numpy is required (pip install numpy)" }
    }

    static func requireAvailable() throws {
        if !available { throw Missing() }
    }

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script.path] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
