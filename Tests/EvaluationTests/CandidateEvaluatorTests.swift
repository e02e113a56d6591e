import Foundation
import QuantConfig
import Quantization
import Seeding
import SpikingNN
import Testing
import Wire
import TestSupport

import Evaluation

/// A three-class problem: events concentrated in the left, middle or right third, with noise.
enum ThirdsData {
    static let config = SpikformerConfig(
        inputHeight: 16, inputWidth: 16, timeSteps: 4, embedDimension: 32, depth: 1, heads: 2, mlpRatio: 2,
        poolAfterStage: [false, true, false, false], classes: 3)

    static func source(count: Int, seed: UInt64) -> InMemoryFrameSource {
        var rng = SeededGenerator(seed: seed)
        let (t, h, w) = (config.timeSteps, config.inputHeight, config.inputWidth)
        var samples = [Float](repeating: 0, count: count * t * 2 * h * w)
        var labels: [Int] = []
        for s in 0..<count {
            let label = s % 3
            labels.append(label)
            for step in 0..<t {
                for channel in 0..<2 {
                    for y in 0..<h {
                        for x in 0..<w {
                            let inside = x * 3 / w == label
                            if rng.nextUnitFloat() < (inside ? 0.3 : 0.05) {
                                samples[(((s * t + step) * 2 + channel) * h + y) * w + x] = Float(1 + rng.next() % 2)
                            }
                        }
                    }
                }
            }
        }
        return InMemoryFrameSource(samples: samples, labels: labels, timeSteps: t, channels: 2, height: h, width: w, classCount: 3)
    }

    static let data = EvaluationData(
        train: source(count: 96, seed: 1), validation: source(count: 48, seed: 2), test: source(count: 48, seed: 3),
        fingerprint: "thirds-v1")

    static let energyModels: [EnergyModel] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return ["spikformer-45nm", "horowitz-45nm"].map { try! EnergyModel.load(contentsOf: root.appendingPathComponent("configs/energy/\($0).yaml")) }
    }()

    /// A briefly trained FP32 checkpoint, written once per test process.
    static let checkpoint: URL = {
        let model = Spikformer(config: config, seed: 7)
        try! Trainer.train(model, on: data.train, config: TrainingConfig(epochs: 12, batchSize: 16, learningRate: 3e-3, seed: 1))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("thirds-\(UUID().uuidString).safetensors")
        try! model.save(to: url)
        return url
    }()
}

struct CandidateEvaluatorTests {
    func evaluator(cache: URL? = nil) throws -> CandidateEvaluator {
        try CandidateEvaluator(checkpoint: ThirdsData.checkpoint, data: ThirdsData.data, energyModels: ThirdsData.energyModels, batchSize: 16, cacheDirectory: cache)
    }

    var names: [String] { ThirdsData.config.quantizableLayerNames }

    @Test func allFloatWithoutFineTuneIsTheReference() throws {
        let evaluator = try evaluator()
        let outcome = try evaluator.evaluate(.uniformChoice(.float, layers: names), budget: FineTuneBudget(epochs: 0), seed: 1)
        let result = outcome.result
        #expect(result.accuracy == result.reference.accuracy)
        #expect(result.reference.accuracy["validation"]! > 0.5, "the base model should have learned the task")
        for (name, figure) in result.energy {
            #expect(figure.reduction == 1, "\(name)")
            #expect(figure.picojoules == result.reference.energy[name])
        }
        #expect(result.averageBits == 32)
        #expect(result.compression == 1)
    }

    @Test func eightBitStaysCloseAndReportsConsistentFigures() throws {
        let evaluator = try evaluator()
        let config = QuantizationConfig.uniformChoice(.uniform(8), layers: names)
        let result = try evaluator.evaluate(config, budget: FineTuneBudget(epochs: 0), seed: 1).result
        #expect(result.configHash == config.hash)
        #expect(result.averageBits == 8)
        #expect(result.compression == 4)
        #expect(abs(result.accuracy["validation"]! - result.reference.accuracy["validation"]!) <= 0.07)
        // Energy is the sum of the per-layer figures; the first layer is charged as MACs.
        for model in ThirdsData.energyModels {
            let sum = result.layers.reduce(0) { $0 + ($1.energy[model.name] ?? 0) }
            #expect(isClose(sum, result.energy[model.name]!.picojoules, relative: 1e-9))
        }
        #expect(result.layers.first?.spikingInput == false)
        #expect(result.layers.dropFirst().allSatisfy { $0.spikingInput })
        #expect(result.layers.contains { $0.name == "blocks.0.attn.matmul" && $0.quantization == nil })
        // Everything but the attention products is scaled by 8/32 under the Spikformer convention.
        #expect(result.energy["spikformer-45nm"]!.reduction > 2)
        #expect(result.datasetFingerprint == "thirds-v1")
        #expect(result.checkpointHash == evaluator.checkpointHash)
    }

    @Test func packedModelReproducesTheRecordedTestAccuracy() throws {
        let evaluator = try evaluator()
        var config = QuantizationConfig.uniformChoice(.pot(4), layers: names)
        config["sps.stages.0.conv"] = .uniform(8)
        config["head"] = .uniform(3)
        var phases: [String] = []
        let outcome = try evaluator.evaluate(config, budget: FineTuneBudget(epochs: 1, learningRate: 1e-3), seed: 5) { phases.append($0.phase) }
        #expect(phases.contains("finetune"))
        #expect(outcome.result.fineTune.steps == 6)
        let packed = try SafetensorsDocument.parse(Data(outcome.packedModel), file: "candidate")
        let (model, quantization, metadata) = try PackedModel.load(packed, file: "candidate")
        #expect(quantization == config)
        #expect(metadata["spikeq.config_hash"] == config.hash)
        let replay = try Trainer.evaluate(model, on: ThirdsData.data.test, batchSize: 7)
        #expect(replay.accuracy == outcome.result.accuracy["test"])
        #expect(outcome.result.packedBytes < outcome.result.reference.bytes / 2)
    }

    @Test func referenceIsCachedOnDisk() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("ref-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        let first = try evaluator(cache: cache).reference()
        let files = try FileManager.default.contentsOfDirectory(atPath: cache.path)
        #expect(files.count == 1 && files[0].hasPrefix("reference-"))
        var reported = false
        let second = try evaluator(cache: cache).reference { _ in reported = true }
        #expect(!reported, "the second evaluator must read the cache, not re-measure")
        #expect(second.accuracy == first.accuracy)
        #expect(second.layers == first.layers)
    }

    @Test func badConfigIsABadRequestNamingTheLayer() throws {
        var config = QuantizationConfig.uniformChoice(.uniform(4), layers: names)
        config["blocks.3.mlp.fc1.linear"] = .uniform(4)
        do {
            _ = try evaluator().evaluate(config, budget: FineTuneBudget(epochs: 0), seed: 1)
            Issue.record("expected an error")
        } catch let failure as EvaluationFailure {
            #expect(failure.kind == .badRequest)
            #expect(failure.message.contains("blocks.3.mlp.fc1.linear"))
        }
    }
}
