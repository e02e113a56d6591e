import Foundation
import QuantConfig
import Report
import RunStore
import Search
import Testing
import Wire

/// Hypervolume against QAT steps, from a store built by hand.
struct SearchQualityTests {
    static let layers = ["a", "b"]

    static func result(_ choice: LayerQuantization, accuracy: Double, steps: Int) -> EvaluationResult {
        let config = QuantizationConfig.uniformChoice(choice, layers: layers)
        return EvaluationResult(
            configHash: config.hash, config: config, accuracy: ["validation": accuracy, "test": accuracy - 0.02], averageBits: 4,
            compression: 8, packedBytes: 100, energy: ["e": EnergyFigure(picojoules: 10, reduction: 10)], layers: [],
            reference: ReferenceFigures(accuracy: ["validation": 0.9], energy: ["e": 100], bytes: 800),
            fineTune: FineTuneSummary(epochs: 1, steps: steps, finalLoss: nil, seconds: 1), wallSeconds: 1, datasetFingerprint: "d",
            checkpointHash: "c")
    }

    @Test func stepsCountEveryResultAndHypervolumeOnlyFullFidelity() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spikeq-quality-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try RunStore.create(
            at: directory,
            metadata: RunMetadata(
                name: "q", configYAML: "", settings: RunSettings(
                    layers: Self.layers, objectives: ObjectiveSpec.defaults(energyModel: "e"), constraints: [], evaluationBudget: 4,
                    wallTimeBudget: nil, referencePoint: [1, 1], populationSize: 4, maxAttempts: 2),
                seed: 1, datasetFingerprint: "d", checkpointHash: "c", createdAt: Date(timeIntervalSince1970: 0)))
        func add(_ choice: LayerQuantization, at time: Double, write: (RunWriter, Int64) throws -> Void) throws {
            let config = QuantizationConfig.uniformChoice(choice, layers: Self.layers)
            try store.write { w in
                let id = try w.insertCandidate(NewCandidate(config: config, origin: .random, parents: [], createdAt: Date(timeIntervalSince1970: time)))
                try w.insertAttempt(candidateId: id, number: 1, worker: "w", seed: 1, at: Date(timeIntervalSince1970: time))
                try write(w, id)
            }
        }
        // The fine-tuned reference (60 steps), a rung-0 result (15), then two full-fidelity results (60 each).
        try add(.float, at: 1) { w, id in
            try w.insertReferenceResult(candidateId: id, attempt: 1, result: Self.result(.float, accuracy: 0.9, steps: 60), at: Date(timeIntervalSince1970: 1))
        }
        try add(.uniform(2), at: 2) { w, id in
            try w.insertRungResult(
                candidateId: id, rung: 0, attempt: 1, steps: 15, result: Self.result(.uniform(2), accuracy: 0.95, steps: 15),
                objectives: [0.05, 0.05], violations: [], at: Date(timeIntervalSince1970: 2))
        }
        try add(.uniform(4), at: 3) { w, id in
            try w.insertResult(
                candidateId: id, attempt: 1, result: Self.result(.uniform(4), accuracy: 0.5, steps: 60), objectives: [0.5, 0.5], violations: [],
                at: Date(timeIntervalSince1970: 3))
        }
        try add(.uniform(8), at: 4) { w, id in
            try w.insertResult(
                candidateId: id, attempt: 1, result: Self.result(.uniform(8), accuracy: 0.8, steps: 60), objectives: [0.2, 0.75], violations: [],
                at: Date(timeIntervalSince1970: 4))
        }
        let quality = try SearchQuality.measure(store)
        // The reference's 60 steps are counted apart, not as search steps.
        #expect(quality.totalSteps == 15 + 60 + 60)
        #expect(quality.referenceSteps == 60)
        #expect(quality.trajectory.map(\.steps) == [15, 75, 135])
        // The rung result, however good, adds no hypervolume; [0.5, 0.5] gives 0.25; adding [0.2, 0.75]
        // adds 0.3 × 0.25 = 0.075.
        #expect(quality.trajectory.map(\.hypervolume) == [0, 0.25, 0.325])
        #expect(quality.steps(toReach: 0.3) == 135)
        #expect(quality.stepsWithReference(toReach: 0.3) == 195)
        #expect(quality.steps(toReach: 0.4) == nil)
        #expect(quality.stepsWithReference(toReach: 0.4) == nil)
        #expect(quality.hypervolume(within: 90) == 0.25)
        #expect(quality.fullFidelityResults == 2 && quality.lowerRungResults == 1)
    }
}
