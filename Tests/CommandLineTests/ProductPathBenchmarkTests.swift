import Benchmarks
import Foundation
import SpikingNN
import Tensor
import Testing

/// `bench products`: every convolution and token linear of the model is measured on both passes
/// and densities, and the reported automatic path is the one the engine's crossovers pick.
struct ProductPathBenchmarkTests {
    @Test func measuresEveryProductLayerAndReportsTheEnginesChoice() {
        // 16×16 input, embedding 32: stage convolutions 2→4→8→16→32; the first one, with 2 input
        // channels, never takes the gather kernel forward and the event weight gradient only sparse.
        let config = SpikformerConfig(inputHeight: 16, inputWidth: 16, timeSteps: 2, embedDimension: 32, depth: 1, heads: 2,
                                      mlpRatio: 2, poolAfterStage: [false, true, false, false], classes: 2)
        let model = Spikformer(config: config, seed: 3)
        let results = ProductPathBenchmark.run(model, batchSize: 2, densities: [0.05, 0.9], repeats: 1)
        let layers = model.modules(of: Conv2d.self).map(\.name) + model.modules(of: TokenLinear.self).map(\.name)
        #expect(results.count == layers.count * 2 * 2)
        for layer in layers {
            for pass in ["forward", "weight-gradient"] {
                #expect(results.filter { $0.layer == layer && $0.pass == pass }.map(\.density) == [0.05, 0.9], "\(layer) \(pass)")
            }
        }
        #expect(results.allSatisfy { $0.denseMilliseconds > 0 && $0.eventMilliseconds > 0 && $0.speedup.isFinite })

        func pick(_ layer: String, _ pass: String, _ density: Double) -> String? {
            results.first { $0.layer == layer && $0.pass == pass && $0.density == density }?.automaticPath
        }
        #expect(pick("sps.stages.0.conv", "forward", 0.05) == "dense", "2 input channels: the GEMM")
        #expect(pick("sps.stages.0.conv", "weight-gradient", 0.05) == "events")
        // 16 input channels: the gather kernel beats im2col + GEMM at 5 %, never the direct kernel (AVX-512).
        #expect(pick("sps.stages.3.conv", "forward", 0.05) == (ConvolutionKernels.isFast ? "dense" : "events"))
        #expect(pick("sps.stages.3.conv", "weight-gradient", 0.05) == "events")
        #expect(pick("sps.stages.3.conv", "forward", 0.9) == "dense")
        #expect(pick("sps.stages.3.conv", "weight-gradient", 0.9) == "dense")
        #expect(pick("blocks.0.mlp.fc1.linear", "weight-gradient", 0.05) == "events")
        #expect(pick("blocks.0.mlp.fc1.linear", "weight-gradient", 0.9) == "dense")
        #expect(pick("head", "forward", 0.05) == "dense", "2 outputs: the GEMM")
        #expect(pick("head", "weight-gradient", 0.05) == "dense")
    }
}
