import Foundation
import Testing
import TestSupport

/// A float export in the Python world: `python/spikeq_torch.py` (PyTorch + SpikingJelly, the
/// checkpoints' tensor names) runs it on the frame cache read by `python/spikeq_frames.py` and must
/// give exactly the predictions, so the accuracy, that `spikeq infer` gives for the packed model.
///
/// Needs `python3` with `torch` and `spikingjelly` (`pip install "torch==2.13.0+cpu" spikingjelly`);
/// skipped without them unless `SPIKEQ_REQUIRE_EXTERNAL=1` (CI), where a missing module is a failure.
@Suite(.enabled(if: PyTorchReference.available || TestEnvironment.requiresExternalTools), .timeLimit(.minutes(10)))
struct PyTorchExportTests {
    let directory = Net.temporaryDirectory("pytorch")
    var environment: [String: String] { ["SPIKEQ_CACHE_DIR": directory.appendingPathComponent("frames").path] }

    func spikeq(_ arguments: [String], log: String, within timeout: Duration = .seconds(300)) async throws -> String {
        let process = try SpikeqProcess(arguments, log: directory.appendingPathComponent(log), environment: environment)
        let status = await process.exitStatus(within: timeout)
        try #require(status == 0, "spikeq \(arguments.joined(separator: " ")): \(process.output)")
        return process.output
    }

    /// The JSON object a command printed last (logs and progress bars come before it).
    static func lastJSONObject(in output: String) throws -> [String: Any] {
        let start = try #require(output.range(of: "\n{", options: .backwards)?.lowerBound ?? (output.hasPrefix("{") ? output.startIndex : nil),
                                 "no JSON in: \(output)")
        let object = try JSONSerialization.jsonObject(with: Data(output[start...].utf8))
        return try #require(object as? [String: Any], "not a JSON object: \(output)")
    }

    @Test func floatExportGivesTheEnginesPredictionsInPyTorch() async throws {
        try PyTorchReference.requireAvailable()
        defer { try? FileManager.default.removeItem(at: directory) }
        let repository = MiniRun.repository
        let data = directory.appendingPathComponent("data.yaml").path
        try MiniRun.datasetYAML(train: 20, validation: 4, test: 10).write(toFile: data, atomically: true, encoding: .utf8)
        let base = directory.appendingPathComponent("base.safetensors").path
        let packed = directory.appendingPathComponent("m.safetensors").path
        let float = directory.appendingPathComponent("m.float.safetensors").path

        // A model that has learned something, so its predictions are spread over the classes.
        _ = try await spikeq(
            ["train", "--model", repository.appendingPathComponent("configs/models/spikformer-tiny.yaml").path, "--data", data,
             "--epochs", "6", "--lr", "3e-3", "--out", base], log: "train.log")
        _ = try await spikeq(
            ["evaluate", "--checkpoint", base, "--data", data, "--quant", repository.appendingPathComponent("benchmarks/quant/mixed.yaml").path,
             "--energy", repository.appendingPathComponent("configs/energy/spikformer-45nm.yaml").path,
             "--cache-dir", directory.appendingPathComponent("reference").path, "--finetune-steps", "5",
             "--packed-out", packed, "--float-out", float], log: "evaluate.log")
        let engine = try Self.lastJSONObject(in: try await spikeq(["infer", "--model", packed, "--data", data, "--json"], log: "infer.log"))
        let cache = try #require(
            try Self.lastJSONObject(in: try await spikeq(["dataset", "prepare", "--data", data, "--json"], log: "prepare.log"))["cache"] as? String)

        let (status, output) = try PyTorchReference.run([float, cache, "--split", "test", "--threads", "2"])
        #expect(status == 0, "\(output)")
        let torch = try Self.lastJSONObject(in: output)
        let enginePredictions = try #require(engine["predictions"] as? [Int])
        let torchPredictions = try #require(torch["predictions"] as? [Int])
        #expect(enginePredictions.count == 110)
        #expect(Set(enginePredictions).count >= 3, "a model that predicts one class cannot tell the two engines apart")
        #expect(torchPredictions == enginePredictions)
        #expect(torch["accuracy"] as? Double == engine["accuracy"] as? Double)

        // The packed file decodes in Python to the same network (spikeq_export.py); the FP32 base, a
        // different network, predicts differently, so the comparison can tell networks apart.
        let (packedStatus, packedOutput) = try PyTorchReference.run([packed, cache, "--split", "test"])
        #expect(packedStatus == 0, "\(packedOutput)")
        #expect(try Self.lastJSONObject(in: packedOutput)["predictions"] as? [Int] == enginePredictions)
        let (fp32Status, fp32Output) = try PyTorchReference.run([base, cache, "--split", "test"])
        #expect(fp32Status == 0, "\(fp32Output)")
        #expect(try Self.lastJSONObject(in: fp32Output)["predictions"] as? [Int] != enginePredictions)
    }
}

enum PyTorchReference {
    static let script = MiniRun.repository.appendingPathComponent("python/spikeq_torch.py")
    static let available = TestEnvironment.pythonCanImport("torch, spikingjelly")

    struct Missing: Error, CustomStringConvertible {
        var description: String { #"python3 with torch and spikingjelly is required (pip install "torch==2.13.0+cpu" spikingjelly)"# }
    }

    static func requireAvailable() throws {
        if !available { throw Missing() }
    }

    /// Runs `python3 python/spikeq_torch.py ARGUMENTS`: its standard output, and on failure also its
    /// standard error (kept apart otherwise: torch prints warnings there).
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let errorsFile = FileManager.default.temporaryDirectory.appendingPathComponent("spikeq-torch-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errorsFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorsFile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errorsFile)
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus != 0 else { return (0, text) }
        return (process.terminationStatus, text + ((try? String(contentsOf: errorsFile, encoding: .utf8)) ?? ""))
    }
}
