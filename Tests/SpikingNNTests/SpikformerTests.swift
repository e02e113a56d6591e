import ConfigFiles
import Foundation
import QuantConfig
import Seeding
import SpikingNN
import Tensor
import TestSupport
import Testing

struct SpikformerTests {
    @Test func paperConfigurationHasExactlyTheSpikformerParameterCount() throws {
        let config = try SpikformerConfig.load(contentsOf: TinyConfigs.modelConfigURL("spikformer-2-256-dvs"))
        #expect(config.tokens == 64)
        let model = Spikformer(config: config)
        #expect(model.parameterCount == 2_566_666)
        #expect(model.quantizableLayers.map(\.name) == SpikformerLayers.quantizable(depth: 2))
    }

    @Test func tinyConfigurationParameterCount() throws {
        let config = try SpikformerConfig.load(contentsOf: TinyConfigs.modelConfigURL("spikformer-tiny"))
        #expect(config.tokens == 64)
        let model = Spikformer(config: config)
        #expect(model.parameterCount == 163_659)
        #expect(model.parameterCountsByLayer.map(\.count).reduce(0, +) == 163_659)
        #expect(model.quantizableLayers.map(\.name) == SpikformerLayers.quantizable(depth: 2))
        #expect(model.quantizableLayer(named: "blocks.1.mlp.fc2.linear")?.weightCount == 256 * 64)
        #expect(model.quantizableLayer(named: "sps.stages.0.conv")?.denseMACsPerTimeStep == 8 * 2 * 9 * 32 * 32)
    }

    @Test func badConfigurationsNameFileAndKey() {
        func error(_ text: String) -> ConfigError? {
            do {
                _ = try SpikformerConfig.parse(text, file: "m.yaml")
                return nil
            } catch let error as ConfigError {
                return error
            } catch {
                return nil
            }
        }
        let base = "input_size: 32\ntime_steps: 4\nembed_dim: 64\ndepth: 1\nheads: 4\nmlp_ratio: 4\npool_stages: [1]\nclasses: 3\n"
        #expect(error(base) == nil)
        let unknown = error(base + "dropout: 0.1\n")
        #expect(unknown?.key == "dropout" && unknown?.file == "m.yaml")
        #expect(error(base.replacingOccurrences(of: "heads: 4", with: "heads: 5"))?.key == "heads")
        #expect(error(base.replacingOccurrences(of: "time_steps: 4\n", with: ""))?.key == "time_steps")
        #expect(error(base.replacingOccurrences(of: "[1]", with: "[1, 7]"))?.key == "pool_stages")
        #expect(error(base.replacingOccurrences(of: "depth: 1", with: "depth: two"))?.key == "depth")
        #expect(error("- a\n- b\n")?.key == "(document)")
        #expect(error(CraftedYAML.aliasBomb(levels: 6))?.message.contains("expands to more than") == true)
        #expect(error(base)?.description == nil)
        // The line of the offending key (the ninth line here); a missing key has none.
        #expect(String(describing: error(base + "x: 1\n")!).hasPrefix("m.yaml:9: x:"))
        #expect(error(base.replacingOccurrences(of: "heads: 4", with: "heads: 5"))?.line == 5)
        #expect(error(base.replacingOccurrences(of: "time_steps: 4\n", with: ""))?.line == nil)
    }

    @Test func wholeModelGradientMatchesFiniteDifferencesWithSmoothSpikes() {
        var rng = SeededGenerator(seed: 21)
        let model = Spikformer(config: TinyConfigs.gradientCheck, seed: 3)
        model.useSmoothSpikesForGradientChecks()
        let input = TinyData.input(config: TinyConfigs.gradientCheck, batch: 2, rng: &rng)
        let labels = [0, 2]
        // Freeze running statistics across the finite-difference evaluations.
        let frozen = model.stateParameters.filter { !$0.isTrainable }.map { ($0, $0.value) }
        func loss() -> Double {
            let logits = model.forward(input, training: true)
            for (p, v) in frozen { p.value = v }
            return CrossEntropy.evaluate(logits: logits, labels: labels, labelSmoothing: 0.1).loss
        }
        let logits = model.forward(input, training: true)
        for (p, v) in frozen { p.value = v }
        let (_, gradient, _) = CrossEntropy.evaluate(logits: logits, labels: labels, labelSmoothing: 0.1)
        model.backward(gradient)
        var checked = 0
        for parameter in model.trainableParameters {
            GradientCheck.expectDirectionalMatch(parameter.gradient!, at: parameter.value, eps: parameter.value.count > 1000 ? 5e-4 : 2e-3, parameter.name, rng: &rng) { value in
                parameter.value = value
                return loss()
            }
            checked += 1
        }
        #expect(checked == model.trainableParameters.count && checked > 30)
    }

    @Test func evaluationNeedsNoGradientBuffersAndIsDeterministic() {
        var rng = SeededGenerator(seed: 22)
        let model = Spikformer(config: TinyConfigs.gradientCheck, seed: 4)
        let input = TinyData.input(config: TinyConfigs.gradientCheck, batch: 3, rng: &rng)
        let a = model.forward(input, training: false)
        let b = model.forward(input, training: false)
        #expect(a == b)
        #expect(a.shape == [3, 3])
        #expect(model.trainableParameters.allSatisfy { $0.gradient == nil })
    }

    @Test func activityStatisticsCountInputs() {
        var rng = SeededGenerator(seed: 23)
        let config = TinyConfigs.gradientCheck
        let model = Spikformer(config: config, seed: 5)
        let input = TinyData.input(config: config, batch: 2, rng: &rng)
        model.tracksActivity = true
        _ = model.forward(input, training: false)
        let activity = Dictionary(uniqueKeysWithValues: model.layerActivity.map { ($0.layer, $0.activity) })
        let first = activity["sps.stages.0.conv"]!
        #expect(first.total == input.count)
        #expect(first.nonZero == input.nonZeroCount())
        #expect(!first.isBinary)  // event counts up to 3
        #expect(activity["sps.stages.1.conv"]!.isBinary)
        #expect(activity["blocks.0.attn.q.linear"]!.total == 16 * 2 * 2 * 16)
        #expect(!activity["head"]!.isBinary || activity["head"]!.nonZero == 0)
        let attention = model.attentionActivity[0]
        #expect(attention.q.total == 16 * 2 * 2 * 16 && attention.q.isBinary)
        #expect(attention.heads == 2 && attention.headDimension == 8 && attention.tokens == 16)
        _ = model.forward(input, training: false)
        #expect(model.layerActivity[0].activity.total == 2 * input.count)
        model.resetActivity()
        #expect(model.layerActivity.allSatisfy { $0.activity.total == 0 })
        model.tracksActivity = false
        _ = model.forward(input, training: false)
        #expect(model.layerActivity[0].activity.total == 0)
    }
}
