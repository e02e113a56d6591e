import Foundation
import Seeding
import SpikingNN
import Tensor
import TestSupport
import Testing

struct SafetensorsTests {
    static var fixtures: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures") }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("spikeq-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func readsAFileWrittenByPython() throws {
        let document = try SafetensorsDocument.read(contentsOf: Self.fixtures.appendingPathComponent("python_written.safetensors"))
        #expect(document.metadata == ["source": "python", "note": "fixture"])
        let conv = try #require(document["conv.weight"])
        #expect(conv.dtype == .f32 && conv.shape == [2, 3, 3, 3])
        #expect(conv.floatTensor().scalars == (0..<54).map { (Float($0) - 20.5) / 8 })
        #expect(document["bn.running_var"]?.floatTensor().scalars == [1, 0.25, 4])
        #expect(document["packed"]?.dtype == .u8)
        #expect(document["packed"]?.bytes == [0, 1, 127, 128, 255])
        #expect(document["codes"]?.integers() == [-3, 0, 2_147_483_647])
        #expect(document["steps"]?.integers() == [-(1 << 40), 7])
        #expect(document["half"]?.floatTensor().scalars == [1.5, -2, 0])
    }

    @Test func roundTripsEveryTypeAndMetadata() throws {
        var document = SafetensorsDocument(metadata: ["k": "v"])
        document.set("a", SafetensorsTensor(Tensor(shape: [2, 2], scalars: [1, -2, 3.5, 0])))
        document.set("b", SafetensorsTensor(u8: [1, 2, 3], shape: [3]))
        document.set("c", SafetensorsTensor(i32: [-1, 5], shape: [2]))
        document.set("d", SafetensorsTensor(i64: [Int64.min, 9], shape: [1, 2]))
        let bytes = document.serialized()
        #expect((bytes.count - 0) > 8)
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect((8 + headerLength) % 8 == 0)
        let back = try SafetensorsDocument.parse(Data(bytes))
        #expect(back.metadata == ["k": "v"])
        #expect(back.names == ["a", "b", "c", "d"])
        #expect(back["a"]?.floatTensor().scalars == [1, -2, 3.5, 0])
        #expect(back["d"]?.integers() == [Int64.min, 9])
        #expect(back["c"] == document["c"])
    }

    @Test func truncatedAndMalformedFilesNameFileAndOffset() throws {
        var document = SafetensorsDocument()
        document.set("w", SafetensorsTensor(Tensor(shape: [4], scalars: [1, 2, 3, 4])))
        let bytes = document.serialized()
        func failure(_ data: [UInt8]) -> SafetensorsError? {
            do {
                _ = try SafetensorsDocument.parse(Data(data), file: "x.safetensors")
                return nil
            } catch let error as SafetensorsError {
                return error
            } catch {
                return nil
            }
        }
        let cut = try #require(failure(Array(bytes.dropLast(4))))
        #expect(cut.file == "x.safetensors")
        #expect(cut.description.contains("past the end"))
        #expect(cut.offset == bytes.count - 16)
        #expect(failure(Array(bytes.prefix(5)))?.offset == 0)
        var huge = bytes
        huge[0] = 0xFF
        huge[1] = 0xFF
        #expect(failure(huge)?.description.contains("header length") == true)
        var garbage = bytes
        garbage[8] = UInt8(ascii: "[")
        #expect(failure(garbage)?.offset == 8)
    }

    /// A header whose shape multiplies past Int.max (found by mutating real checkpoints) is an
    /// error naming the tensor, not an overflow trap; so is any shape with more elements than data bytes.
    @Test(arguments: ["[4611686018427387904, 4]", "[3037000500, 3037000500, 2]", "[17]"])
    func shapesThatCannotFitTheDataAreErrors(shape: String) throws {
        let header = #"{"w":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,16]}}"#
        var bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { Array($0) }
        bytes += Array(header.utf8) + [UInt8](repeating: 0, count: 16)
        let error = try #require(throws: SafetensorsError.self) { try SafetensorsDocument.parse(Data(bytes), file: "crafted.safetensors") }
        #expect(error.description.contains("tensor `w`"))
        #expect(error.description.contains("crafted.safetensors"))
    }

    @Test func modelCheckpointRoundTripRebuildsTheModel() throws {
        var rng = SeededGenerator(seed: 41)
        let model = Spikformer(config: TinyConfigs.gradientCheck, seed: 9)
        // Train one step so BN running statistics are not at their initial values.
        let input = TinyData.input(config: TinyConfigs.gradientCheck, batch: 2, rng: &rng)
        _ = model.forward(input, training: true)
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("m.safetensors")
        try model.save(to: url, extraMetadata: ["note": "test"])
        let loaded = try Spikformer.load(contentsOf: url)
        #expect(loaded.config == model.config)
        for (a, b) in zip(model.namedState, loaded.namedState) {
            #expect(a.name == b.name)
            #expect(a.tensor == b.tensor, "\(a.name)")
        }
        #expect(model.forward(input, training: false) == loaded.forward(input, training: false))
        let names = Set(model.namedState.map(\.name))
        for expected in ["sps.stages.0.conv.weight", "sps.stages.3.bn.running_var", "sps.rpe.conv.weight", "sps.rpe.bn.bias",
                         "blocks.0.attn.q.linear.weight", "blocks.0.attn.proj.linear.bias", "blocks.0.attn.v.bn.running_mean",
                         "blocks.0.mlp.fc1.linear.bias", "blocks.0.mlp.fc2.bn.weight", "head.weight", "head.bias"] {
            #expect(names.contains(expected), "\(expected)")
        }
        #expect(!names.contains("blocks.0.attn.q.linear.bias"))
        #expect(model.namedState.first { $0.name == "sps.stages.1.conv.weight" }?.tensor.shape == [4, 2, 3, 3])
    }

    @Test func loadingTheWrongModelNamesTheTensor() throws {
        let small = Spikformer(config: TinyConfigs.gradientCheck)
        var other = TinyConfigs.gradientCheck
        other.classes = 5
        let big = Spikformer(config: other)
        #expect(throws: CheckpointError.self) { try big.loadState(from: small.checkpoint(), file: "s.safetensors") }
        do {
            try big.loadState(from: small.checkpoint(), file: "s.safetensors")
        } catch let error as CheckpointError {
            #expect(error.tensor == "head.weight" && error.file == "s.safetensors")
        }
    }

    /// A checkpoint whose metadata configuration asks for far more than its tensors hold (found by
    /// mutating real checkpoints: the loader allocated terabytes or overflowed) is refused before
    /// the model is built, naming the tensor that disagrees.
    @Test(arguments: [
        ("\"embed_dim\":16", "\"embed_dim\":4096", "sps.stages.0.conv.weight"),
        ("\"embed_dim\":16", "\"embed_dim\":4398046511104", "2^36"),
        ("\"depth\":1", "\"depth\":1000000", "blocks.1.attn.q.linear.weight"),
        ("\"classes\":3", "\"classes\":40000", "head.weight"),
        ("\"time_steps\":2", "\"time_steps\":4294967296", "input_size"),
    ])
    func configurationsTheTensorsCannotHoldAreRefused(original: String, crafted: String, named: String) throws {
        var document = Spikformer(config: TinyConfigs.gradientCheck).checkpoint()
        let json = try #require(document.metadata[Spikformer.configMetadataKey])
        try #require(json.contains(original), "fixture config changed: \(json)")
        document.metadata[Spikformer.configMetadataKey] = json.replacingOccurrences(of: original, with: crafted)
        let error = try #require(throws: CheckpointError.self) { try Spikformer(checkpoint: document, file: "crafted.safetensors") }
        #expect(error.description.contains(named), "\(error)")
    }

    /// Python's `safetensors` must read what we write. Skipped (reported) without python3 +
    /// safetensors unless external tools are required (CI), where it fails instead.
    @Test(.enabled(if: PythonSafetensors.available || TestEnvironment.requiresExternalTools))
    func pythonReadsOurCheckpoint() throws {
        try #require(PythonSafetensors.available, "python3 with safetensors and numpy is required (pip install safetensors numpy)")
        let model = Spikformer(config: TinyConfigs.gradientCheck, seed: 2)
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("ours.safetensors")
        try model.save(to: url)
        let script = """
            import json, sys
            from safetensors.numpy import load_file
            from safetensors import safe_open
            tensors = load_file(sys.argv[1])
            with safe_open(sys.argv[1], framework="numpy") as f:
                meta = f.metadata()
            print(json.dumps({"meta": meta, "tensors": {k: [list(v.shape), str(v.dtype), float(v.astype("float64").sum())] for k, v in tensors.items()}}))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, url.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = Pipe()
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "the Python reader failed on our file")
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let meta = try #require(json["meta"] as? [String: String])
        #expect(meta[Spikformer.configMetadataKey] == model.config.canonicalJSON)
        let tensors = try #require(json["tensors"] as? [String: [Any]])
        #expect(tensors.count == model.namedState.count)
        for (name, tensor) in model.namedState {
            let entry = try #require(tensors[name], "\(name)")
            #expect(entry[0] as? [Int] == tensor.shape)
            #expect(entry[1] as? String == "float32")
            #expect(isClose(entry[2] as? Double ?? .nan, tensor.sum(), relative: 1e-6, absolute: 1e-6), "\(name)")
        }
    }
}

enum PythonSafetensors {
    /// Whether `python3 -c "import safetensors, numpy"` succeeds.
    static let available = TestEnvironment.pythonCanImport("safetensors, numpy")
}
