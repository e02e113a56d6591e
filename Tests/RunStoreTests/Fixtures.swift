import Foundation
import QuantConfig
import RunStore
import Search
import Wire

enum Fixtures {
    static let layers = ["a", "b", "c"]

    static func temporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("spikeq-runstore-\(UUID().uuidString)")
        return url
    }

    static func metadata(name: String = "test") -> RunMetadata {
        RunMetadata(
            name: name, configYAML: "population: 4\n",
            settings: RunSettings(
                layers: layers, objectives: ObjectiveSpec.defaults(energyModel: "e45"), constraints: [.maxAccuracyDrop(split: "validation", limit: 0.05)],
                evaluationBudget: 10, wallTimeBudget: nil, referencePoint: [1, 1], populationSize: 4, maxAttempts: 3),
            seed: 0xFFFF_FFFF_FFFF_FFF0, datasetFingerprint: "data-fp", checkpointHash: "ckpt-hash", createdAt: Date(timeIntervalSince1970: 1_000))
    }

    static func config(_ choice: LayerQuantization) -> QuantizationConfig {
        QuantizationConfig.uniformChoice(choice, layers: layers)
    }

    static func result(for config: QuantizationConfig, accuracy: Double, picojoules: Double) -> EvaluationResult {
        EvaluationResult(
            configHash: config.hash, config: config, accuracy: ["validation": accuracy, "test": accuracy - 0.01], averageBits: 4, compression: 8,
            packedBytes: 1000, energy: ["e45": EnergyFigure(picojoules: picojoules, reduction: 100 / picojoules)], layers: [],
            reference: ReferenceFigures(accuracy: ["validation": 0.9, "test": 0.89], energy: ["e45": 100], bytes: 8000),
            fineTune: FineTuneSummary(epochs: 1, steps: 10, finalLoss: .nan, seconds: 2), wallSeconds: 3, datasetFingerprint: "data-fp",
            checkpointHash: "ckpt-hash")
    }

    /// Adds a finished candidate with a result; returns its id.
    @discardableResult
    static func addDone(_ store: RunStore, _ choice: LayerQuantization, objectives: [Double], violations: [Double] = [0]) throws -> Int64 {
        let config = config(choice)
        return try store.write { w in
            let id = try w.insertCandidate(NewCandidate(config: config, origin: .random, parents: [], createdAt: Date(timeIntervalSince1970: 1_001)))
            try w.insertAttempt(candidateId: id, number: 1, worker: "w1", seed: 7, at: Date(timeIntervalSince1970: 1_002))
            try w.finishAttempt(candidateId: id, number: 1, state: .done, at: Date(timeIntervalSince1970: 1_010))
            try w.insertResult(
                candidateId: id, attempt: 1, result: result(for: config, accuracy: 1 - objectives[0], picojoules: objectives[1] * 100),
                objectives: objectives, violations: violations, at: Date(timeIntervalSince1970: 1_010))
            try w.setCandidateStatus(id, .done, finishedAt: Date(timeIntervalSince1970: 1_010))
            return id
        }
    }
}
