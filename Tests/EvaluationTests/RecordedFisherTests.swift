import ContentHash
import Foundation
import QuantConfig
import Quantization
import Search
import SpikingNN
import Tensor
import Testing

import Evaluation

/// The Fisher recorded while the base model trains: the right batches, bound to its checkpoint,
/// crafted files refused, and a table built from it priced at no gradient passes.
struct RecordedFisherTests {
    static let training = TrainingConfig(epochs: 2, batchSize: 16, learningRate: 3e-3, seed: 1)

    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("spikeq-fisher-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func baseTrainingRecordsTheMeanSquaredGradientsOfItsLastBatches() throws {
        let trained = try BaseModelTraining.train(ThirdsData.config, on: ThirdsData.data, training: Self.training, seed: 7, fisherBatches: 3)
        #expect(trained.fisherBatches == 3)

        // The same training again, squaring the gradients of the last three steps by hand.
        let model = Spikformer(config: ThirdsData.config, seed: 7)
        let total = (ThirdsData.data.train.count + 15) / 16 * Self.training.epochs
        var sums: [String: [Float]] = [:]
        try Trainer.train(model, on: ThirdsData.data.train, config: Self.training) { progress in
            guard progress.globalStep >= total - 3 else { return }
            for layer in model.quantizableLayers {
                let squares = layer.weight.gradient!.scalars.map { $0 * $0 }
                sums[layer.name] = zip(sums[layer.name] ?? [Float](repeating: 0, count: squares.count), squares).map(+)
            }
        }
        #expect(Set(trained.fisher.keys) == Set(model.quantizableLayers.map(\.name)))
        for (name, sum) in sums {
            let recorded = trained.fisher[name]!.scalars
            let expected = sum.map { $0 / 3 }
            let worst = zip(recorded, expected).map { abs($0 - $1) / max($1, 1e-30) }.max() ?? 0
            #expect(worst < 1e-6, "\(name): relative difference \(worst)")
            #expect(expected.contains { $0 > 0 }, "\(name): no gradient reached the layer")
        }
    }

    @Test func aRecordIsUsedOnlyWithItsOwnCheckpointAndEnoughBatches() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("base.safetensors")
        let trained = try BaseModelTraining.train(ThirdsData.config, on: ThirdsData.data, training: Self.training, seed: 7, fisherBatches: 4)
        try trained.save(to: checkpoint, datasetFingerprint: ThirdsData.data.fingerprint)
        #expect(RecordedFisher.url(forCheckpoint: checkpoint).lastPathComponent == "base.fisher.safetensors")
        let hash = try ContentHash.sha256(fileAt: checkpoint).hex

        let found = try RecordedFisher.usable(forCheckpoint: checkpoint, sha256: hash, batches: 4)
        #expect(found.reason == nil)
        #expect(found.record?.batches == 4 && found.record?.checkpointSHA256 == hash)
        for (name, tensor) in trained.fisher { #expect(found.record?.perLayer[name]?.scalars == tensor.scalars, "\(name)") }

        var notes: [String] = []
        #expect(try RecordedFisher.lookUp(forCheckpoint: checkpoint, sha256: hash, batches: 4) { notes.append($0) }?.batches == 4)
        #expect(try RecordedFisher.lookUp(forCheckpoint: checkpoint, sha256: hash, batches: 5) { notes.append($0) } == nil)
        #expect(notes.count == 2 && notes[0].contains("recorded while the base model trained: 4 batches") && notes[1].hasPrefix("not using"), "\(notes)")

        let tooFew = try RecordedFisher.usable(forCheckpoint: checkpoint, sha256: hash, batches: 5)
        #expect(tooFew.record == nil && tooFew.reason?.contains("averages 4 batches, fewer than the 5") == true)
        let other = try RecordedFisher.usable(forCheckpoint: checkpoint, sha256: String(repeating: "0", count: 64), batches: 1)
        #expect(other.record == nil && other.reason?.contains("recorded for another checkpoint") == true)

        // A checkpoint saved without a record removes the earlier one, which would no longer match.
        var plain = trained
        plain.fisherBatches = 0
        try plain.save(to: checkpoint, datasetFingerprint: ThirdsData.data.fingerprint)
        #expect(!FileManager.default.fileExists(atPath: RecordedFisher.url(forCheckpoint: checkpoint).path))
        #expect(try RecordedFisher.usable(forCheckpoint: checkpoint, sha256: hash, batches: 1).record == nil)
    }

    @Test func craftedRecordsAreRefusedNamingWhatIsWrong() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("x.fisher.safetensors")
        let model = Spikformer(config: ThirdsData.config, seed: 1)
        let layer = model.quantizableLayers[0]
        let hash = String(repeating: "a", count: 64)

        var negative = Tensor(shape: layer.weight.value.shape, repeating: 1)
        negative.withUnsafeMutableBufferPointer { $0[3] = -1 }
        try RecordedFisher(batches: 2, checkpointSHA256: hash, perLayer: [layer.name: negative]).write(to: url)
        let bad = #expect(throws: CheckpointError.self) { try RecordedFisher.read(contentsOf: url) }
        #expect(bad?.tensor == layer.name && bad?.message.contains("negative") == true, "\(String(describing: bad))")

        var document = SafetensorsDocument(metadata: ["format": "spikeq.fisher.v1", "spikeq.fisher_batches": "0", "spikeq.checkpoint_sha256": hash])
        try document.write(to: url)
        let zero = #expect(throws: CheckpointError.self) { try RecordedFisher.read(contentsOf: url) }
        #expect(zero?.message.contains("spikeq.fisher_batches") == true, "\(String(describing: zero))")
        document.metadata["format"] = Spikformer.formatName
        try document.write(to: url)
        let checkpointInstead = #expect(throws: CheckpointError.self) { try RecordedFisher.read(contentsOf: url) }
        #expect(checkpointInstead?.message.contains("not a recorded Fisher") == true, "\(String(describing: checkpointInstead))")

        let stranger = RecordedFisher(batches: 1, checkpointSHA256: hash, perLayer: ["blocks.9.mlp.fc1": Tensor(shape: [2])])
        let unknown = #expect(throws: CheckpointError.self) { try stranger.tensors(for: model) }
        #expect(unknown?.tensor == "blocks.9.mlp.fc1" && unknown?.message.contains("not a quantizable layer") == true)
        let reshaped = RecordedFisher(batches: 1, checkpointSHA256: hash, perLayer: [layer.name: Tensor(shape: [3])])
        let shape = #expect(throws: CheckpointError.self) { try reshaped.tensors(for: model) }
        #expect(shape?.tensor == layer.name && shape?.message.contains("does not match") == true)
    }

    /// With a record, the table is ½ Σ Fᵢ (q(wᵢ) − wᵢ)² of the recorded F, and costs no gradient passes.
    @Test func aTableFromARecordCostsNothingAndWeighsTheRecordedFisher() throws {
        let evaluator = try CandidateEvaluator(
            checkpoint: ThirdsData.checkpoint, data: ThirdsData.data, energyModels: ThirdsData.energyModels, batchSize: 16, cacheDirectory: nil)
        let model = try Spikformer(checkpoint: SafetensorsDocument.read(contentsOf: ThirdsData.checkpoint))
        let choices: [LayerQuantization] = [.uniform(3), .pot(4)]
        var twos: [String: Tensor] = [:]
        for layer in model.quantizableLayers { twos[layer.name] = Tensor(shape: layer.weight.value.shape, repeating: 2) }
        let record = RecordedFisher(batches: 8, checkpointSHA256: evaluator.checkpointHash, perLayer: twos)
        let table = try evaluator.sensitivity(choices: choices, method: .fisher, batches: 8, recorded: record)
        #expect(table.gradientPasses == 0 && table.method == .fisher)
        for layer in model.quantizableLayers {
            let w = layer.weight.value
            let quantized = [
                "u3": UniformQuantizer(layer: layer.name, bits: 3, weight: w).quantize(w), "p4": PowerOfTwoQuantizer(layer: layer.name, bits: 4, weight: w).quantize(w),
            ]
            for (choice, q) in quantized {
                let expected = zip(q.scalars, w.scalars).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }  // ½ · 2 · Σ δ²
                let got = table.accuracyDrop[layer.name]![choice]!
                #expect(abs(got - expected) <= 1e-9 * max(expected, 1), "\(layer.name) \(choice): \(got) vs \(expected)")
            }
        }
        let measured = try evaluator.sensitivity(choices: choices, method: .fisher, batches: 2, seed: 3)
        #expect(measured.gradientPasses == 2)
    }
}
