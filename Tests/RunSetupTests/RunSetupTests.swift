import Foundation
import Logging
import QuantConfig
import RunSetup
import RunStore
import Search
import Testing

/// The decisions `spikeq search` makes before anything is trained: which directory, new or resumed.
struct RunSetupTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let config = repository.appendingPathComponent("configs/search/synthetic-gestures.yaml").path

    /// A run directory holding a run named `name`, under a fresh working directory.
    static func workingDirectoryWithRun(named name: String) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("spikeq-runsetup-\(UUID().uuidString)")
        let layers = SpikformerLayers.quantizable(depth: 1)
        let metadata = RunMetadata(
            name: name, configYAML: "population: 4\n",
            settings: RunSettings(
                layers: layers, objectives: ObjectiveSpec.defaults(energyModel: "e45"), constraints: [], evaluationBudget: 4,
                wallTimeBudget: nil, referencePoint: [1, 1], populationSize: 4, maxAttempts: 3),
            seed: 1, datasetFingerprint: "data", checkpointHash: "checkpoint", createdAt: Date(timeIntervalSince1970: 0))
        _ = try RunStore.create(at: root.appendingPathComponent("runs/existing"), metadata: metadata)
        return root
    }

    func setup(in root: URL) -> RunSetup {
        RunSetup(workingDirectory: root, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    @Test func aNewRunNeverReplacesAnExistingOne() throws {
        let root = try Self.workingDirectoryWithRun(named: "synthetic-gestures")
        defer { try? FileManager.default.removeItem(at: root) }
        let error = #expect(throws: RunSetupError.self) { try setup(in: root).create(configPath: Self.config, runPath: "runs/existing") }
        #expect(error?.description.contains("already holds a run; continue it with --resume") == true, "\(String(describing: error))")
    }

    @Test func resumeExistingFindsTheRunOfTheSameConfigOnly() throws {
        let same = try Self.workingDirectoryWithRun(named: "synthetic-gestures")
        let other = try Self.workingDirectoryWithRun(named: "another-study")
        defer {
            try? FileManager.default.removeItem(at: same)
            try? FileManager.default.removeItem(at: other)
        }
        let found = try setup(in: same).existingRun(configPath: Self.config, runPath: "runs/existing")
        #expect(found?.url.path == same.appendingPathComponent("runs/existing").standardizedFileURL.path)
        #expect(try setup(in: same).existingRun(configPath: Self.config, runPath: "runs/empty") == nil)
        let error = #expect(throws: RunSetupError.self) { try setup(in: other).existingRun(configPath: Self.config, runPath: "runs/existing") }
        #expect(error?.description.contains("holds run 'another-study', not 'synthetic-gestures'") == true, "\(String(describing: error))")
    }
}
