import Foundation
import QuantConfig
import Seeding
import SpikingNN
import Tensor
import Testing

/// The model's bookkeeping is one walk over the `Module` tree; these pin what the walk must give.
struct ModuleTreeTests {
    /// Checkpoint names in the order SpikingJelly's Spikformer state dict lists them (depth 1 here).
    static func expectedStateNames(depth: Int) -> [String] {
        func norm(_ prefix: String) -> [String] { ["weight", "bias", "running_mean", "running_var"].map { "\(prefix).\($0)" } }
        var names: [String] = []
        for stage in 0..<4 { names += ["sps.stages.\(stage).conv.weight"] + norm("sps.stages.\(stage).bn") }
        names += ["sps.rpe.conv.weight"] + norm("sps.rpe.bn")
        for block in 0..<depth {
            for part in ["q", "k", "v"] { names += ["blocks.\(block).attn.\(part).linear.weight"] + norm("blocks.\(block).attn.\(part).bn") }
            names += ["blocks.\(block).attn.proj.linear.weight", "blocks.\(block).attn.proj.linear.bias"] + norm("blocks.\(block).attn.proj.bn")
            for part in ["fc1", "fc2"] {
                names += ["blocks.\(block).mlp.\(part).linear.weight", "blocks.\(block).mlp.\(part).linear.bias"] + norm("blocks.\(block).mlp.\(part).bn")
            }
        }
        return names + ["head.weight", "head.bias"]
    }

    @Test func theWalkGivesCheckpointOrderAndEveryKindOfPart() throws {
        let config = try SpikformerConfig.load(contentsOf: TinyConfigs.modelConfigURL("spikformer-tiny"))
        let model = Spikformer(config: config)
        #expect(model.stateParameters.map(\.name) == Self.expectedStateNames(depth: config.depth))
        #expect(model.quantizableLayers.map(\.name) == config.quantizableLayerNames)
        // Per patch stage and RPE one BN+LIF; per block Q, K, V, proj, fc1, fc2 BN+LIF and the attention neuron.
        let neurons = 5 + config.depth * 7
        #expect(model.modules(of: LIFNeuron.self).count == neurons)
        #expect(model.modules(of: BatchNorm.self).count == neurons - config.depth)
        #expect(model.productRecords.map(\.layer) == config.quantizableLayerNames)
    }

    @Test func activitySwitchReachesEveryCountingPart() throws {
        let config = try SpikformerConfig.load(contentsOf: TinyConfigs.modelConfigURL("spikformer-tiny"))
        let model = Spikformer(config: config)
        model.tracksActivity = true
        var rng = SeededGenerator(seed: 3)
        _ = model.forward(TinyData.input(config: config, batch: 2, rng: &rng), training: false)
        #expect(model.layerActivity.allSatisfy { $0.activity.total > 0 }, "\(model.layerActivity.filter { $0.activity.total == 0 }.map(\.layer))")
        #expect(model.attentionActivity.allSatisfy { $0.q.total > 0 && $0.k.total > 0 && $0.v.total > 0 })
        #expect(model.productRecords.allSatisfy { $0.record != ProductRecord() })
        model.resetActivity()
        #expect(model.layerActivity.allSatisfy { $0.activity.total == 0 })
        #expect(model.attentionActivity.allSatisfy { $0.q.total == 0 })
        #expect(model.productRecords.allSatisfy { $0.record == ProductRecord() })
    }

    /// A layer type the engine does not have: declaring its children and state is all the walk needs.
    final class Residual: Module {
        let inner: BatchNorm
        let scale: Parameter
        init() {
            inner = BatchNorm(name: "residual.bn", channels: 2)
            scale = Parameter(name: "residual.scale", value: Tensor(shape: [1]))
        }
        var children: [any Module] { [inner] }
        var ownState: [Parameter] { [scale] }
    }

    @Test func aNewModuleTypeIsWalkedWithoutTouchingTheModel() {
        let tree = Residual()
        #expect(tree.state.map(\.name) == ["residual.scale", "residual.bn.weight", "residual.bn.bias", "residual.bn.running_mean", "residual.bn.running_var"])
        #expect(tree.modules(of: BatchNorm.self).map(\.name) == ["residual.bn"])
        #expect(tree.allModules.count == 2)
    }
}
