import Foundation
import Seeding
import SpikingNN
import Tensor
import TestSupport
import Testing

struct TrainingTests {
    @Test func crossEntropyWithLabelSmoothing() {
        let logits = Tensor(shape: [1, 3], scalars: [2, 0, -1])
        let (loss, gradient, correct) = CrossEntropy.evaluate(logits: logits, labels: [0], labelSmoothing: 0.3)
        let z = [2.0, 0, -1].map { Foundation.exp($0) }.reduce(0, +)
        let p = [2.0, 0, -1].map { Foundation.exp($0) / z }
        let q = [0.8, 0.1, 0.1]
        let expected = -zip(p, q).map { Foundation.log($0) * $1 }.reduce(0, +)
        #expect(isClose(loss, expected, relative: 1e-6))
        for k in 0..<3 { #expect(isClose(Double(gradient[flat: k]), p[k] - q[k], relative: 1e-5, absolute: 1e-7)) }
        #expect(correct == 1)
    }

    @Test func scheduleWarmsUpThenDecays() {
        let schedule = CosineSchedule(baseLearningRate: 1e-3, minimumLearningRate: 1e-5, warmupSteps: 4, totalSteps: 14)
        #expect(isClose(schedule.learningRate(atStep: 0), 2.5e-4))
        #expect(isClose(schedule.learningRate(atStep: 3), 1e-3))
        #expect(isClose(schedule.learningRate(atStep: 4), 1e-3))
        #expect(isClose(schedule.learningRate(atStep: 9), 1e-5 + (1e-3 - 1e-5) * 0.5, relative: 1e-5))
        #expect(isClose(schedule.learningRate(atStep: 14), 1e-5))
    }

    @Test func adamWMatchesTheReferenceUpdate() {
        let p = Parameter(name: "w", value: Tensor(shape: [2], scalars: [1, -2]), decays: true)
        p.gradient = Tensor(shape: [2], scalars: [0.5, -0.25])
        let optimizer = AdamW(learningRate: 0.1, weightDecay: 0.01)
        optimizer.update([p])
        // Step 1: m̂ = g, v̂ = g², so the step is lr·g/(|g| + ε) = ±0.1 after decay w·(1 − lr·λ).
        #expect(isClose(p.value[flat: 0], 1 * (1 - 0.001) - 0.1, relative: 1e-5))
        #expect(isClose(p.value[flat: 1], -2 * (1 - 0.001) + 0.1, relative: 1e-5))
    }

    /// The update runs sixteen lanes at a time with a scalar tail: three steps on 37 weights must give
    /// the scalar formula's bits in every position (lanes and tail alike).
    @Test func adamWVectorLanesGiveTheScalarBits() {
        var rng = SeededGenerator(seed: 21)
        let count = 37
        let initial = (0..<count).map { _ in rng.nextUnitFloat() * 4 - 2 }
        let gradients = (0..<3).map { _ in (0..<count).map { _ in rng.nextUnitFloat() - 0.5 } }
        let p = Parameter(name: "w", value: Tensor(shape: [count], scalars: initial), decays: true)
        let optimizer = AdamW(learningRate: 0.01, weightDecay: 0.05)
        var (w, m, v) = (initial, [Float](repeating: 0, count: count), [Float](repeating: 0, count: count))
        let (lr, decay, b1, b2, eps): (Float, Float, Float, Float, Float) = (0.01, 1 - 0.01 * 0.05, 0.9, 0.999, 1e-8)
        for (step, g) in gradients.enumerated() {
            p.gradient = Tensor(shape: [count], scalars: g)
            optimizer.update([p])
            let c1 = 1 - Float(pow(Double(b1), Double(step + 1)))
            let c2 = 1 - Float(pow(Double(b2), Double(step + 1)))
            for i in 0..<count {
                m[i] = b1 * m[i] + (1 - b1) * g[i]
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                w[i] = w[i] * decay - lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + eps)
            }
        }
        #expect(p.value.scalars == w)
    }

    @Test func lossDecreasesOnALearnableProblem() throws {
        let config = TinyConfigs.training
        let data = TinyData.halves(config: config, count: 32, seed: 5)
        let model = Spikformer(config: config, seed: 1)
        var losses: [Double] = []
        let summary = try Trainer.train(model, on: data, config: TrainingConfig(epochs: 8, batchSize: 8, learningRate: 3e-3,
                                                                               weightDecay: 0.01, warmupEpochs: 1, labelSmoothing: 0,
                                                                               seed: 3)) { progress in
            losses.append(progress.loss)
            #expect(progress.samplesPerSecond > 0)
        }
        #expect(summary.steps == 32)
        let first = losses.prefix(4).reduce(0, +) / 4
        let last = losses.suffix(4).reduce(0, +) / 4
        #expect(last < 0.6 * first, "loss \(first) → \(last)")
        #expect(summary.finalAccuracy >= 0.9)
        // Running statistics lag a short run's fast-moving weights; re-estimate them first.
        try Trainer.recalibrateBatchNorm(model, on: data, batchSize: 8)
        let evaluation = try Trainer.evaluate(model, on: data, batchSize: 16)
        #expect(evaluation.predictions.count == 32)
        #expect(evaluation.accuracy >= 0.9, "accuracy \(evaluation.accuracy)")
    }

    /// BatchNorm takes two channels' statistics at once; each must be the single row's, bit for bit,
    /// over several 2048-element blocks and a ragged tail, with rows of very different scales.
    @Test func pairedRowStatisticsAreEachRowsOwn() {
        var rng = SeededGenerator(seed: 12)
        let count = 2 * 2048 + 13
        let a = (0..<count).map { _ in rng.nextUnitFloat() * 3 - 1 }
        let b = (0..<count).map { _ in (rng.nextUnitFloat() - 0.5) * 1e-3 + 40 }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                let paired = BatchNorm.rowStatistics(pa.baseAddress!, pb.baseAddress!, count: count)
                let first = BatchNorm.rowStatistics(pa.baseAddress!, count: count)
                let second = BatchNorm.rowStatistics(pb.baseAddress!, count: count)
                #expect(paired.a.mean.bitPattern == first.mean.bitPattern && paired.a.variance.bitPattern == first.variance.bitPattern)
                #expect(paired.b.mean.bitPattern == second.mean.bitPattern && paired.b.variance.bitPattern == second.variance.bitPattern)
            }
        }
    }

    /// Re-estimation runs the model in evaluation mode with batch statistics; it must give the
    /// running statistics of its definition, training-mode passes over the same batches with
    /// momentum 1/k at the k-th, bit for bit, and leave later evaluation passes alone.
    @Test func batchNormReestimationEqualsAveragingTrainingPasses() throws {
        let config = TinyConfigs.training
        let data = TinyData.halves(config: config, count: 24, seed: 8)
        let model = Spikformer(config: config, seed: 9)
        let reference = Spikformer(config: config, seed: 9)
        try Trainer.recalibrateBatchNorm(model, on: data, batchSize: 8, batches: 2, seed: 4)

        var shuffler = SeededGenerator(seed: 4, stream: "trainer.recalibrate")
        var order = Array(0..<data.count)
        order.shuffle(using: &shuffler)
        let loader = BatchLoader(source: data, order: Array(order.prefix(16)), batchSize: 8, augment: false, seed: 4)
        defer { loader.cancel() }
        var k = 0
        while let batch = try loader.next() {
            k += 1
            for norm in reference.batchNorms { norm.momentum = 1 / Float(k) }
            _ = reference.forward(batch.input, training: true)
        }
        #expect(k == 2)
        #expect(!model.batchNorms.isEmpty)
        for (estimated, expected) in zip(model.batchNorms, reference.batchNorms) {
            #expect(estimated.runningMean.value == expected.runningMean.value, "\(estimated.name)")
            #expect(estimated.runningVar.value == expected.runningVar.value, "\(estimated.name)")
            #expect(estimated.momentum == 0.1)
        }
        let before = model.batchNorms.map(\.runningMean.value)
        _ = try Trainer.evaluate(model, on: data, batchSize: 8)
        #expect(model.batchNorms.map(\.runningMean.value) == before, "evaluation after re-estimation moved the statistics")
    }

    @Test func sameSeedGivesBitIdenticalWeights() throws {
        let config = TinyConfigs.training
        let data = TinyData.halves(config: config, count: 12, seed: 6)
        func run(seed: UInt64) throws -> [Tensor] {
            let model = Spikformer(config: config, seed: 7)
            try Trainer.train(model, on: data, config: TrainingConfig(epochs: 2, batchSize: 4, seed: seed))
            return model.namedState.map(\.tensor)
        }
        let a = try run(seed: 11)
        let b = try run(seed: 11)
        let c = try run(seed: 12)
        #expect(a == b)
        #expect(a != c)
    }

    @Test func progressCallbackCanStopTraining() {
        struct Stop: Error {}
        let config = TinyConfigs.training
        let data = TinyData.halves(config: config, count: 8, seed: 6)
        let model = Spikformer(config: config)
        var steps = 0
        #expect(throws: Stop.self) {
            try Trainer.train(model, on: data, config: TrainingConfig(epochs: 5, batchSize: 2)) { _ in
                steps += 1
                if steps == 2 { throw Stop() }
            }
        }
        #expect(steps == 2)
    }

    @Test func mismatchedDataIsRejected() {
        let model = Spikformer(config: TinyConfigs.gradientCheck)
        let data = TinyData.halves(config: TinyConfigs.training, count: 2, seed: 1)
        #expect(throws: TrainingError.self) { try Trainer.evaluate(model, on: data, batchSize: 2) }
    }
}
