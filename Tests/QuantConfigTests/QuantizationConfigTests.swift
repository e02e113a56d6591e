import ConfigFiles
import Foundation
import QuantConfig
import Testing

struct QuantizationConfigTests {
    let names = SpikformerLayers.quantizable(depth: 2)

    @Test func paperConfigurationHasEighteenLayers() {
        #expect(names.count == 18)
        #expect(names.first == "sps.stages.0.conv")
        #expect(names[4] == "sps.rpe.conv")
        #expect(names[5] == "blocks.0.attn.q.linear")
        #expect(names.last == "head")
    }

    @Test func canonicalJSONIsSortedAndCompact() {
        let config = QuantizationConfig(layers: ["head": .uniform(8), "blocks.0.attn.k.linear": .pot(3), "a": .float])
        let text = String(decoding: config.canonicalJSON, as: UTF8.self)
        #expect(
            text
                == #"{"layers":{"a":{"bits":32,"scheme":"float"},"blocks.0.attn.k.linear":{"bits":3,"scheme":"pot"},"head":{"bits":8,"scheme":"uniform"}}}"#
        )
    }

    @Test func hashIsSHA256OfCanonicalJSONAndIndependentOfInsertionOrder() {
        var a = QuantizationConfig(layers: [:])
        a["x"] = .uniform(4)
        a["y"] = .pot(5)
        var b = QuantizationConfig(layers: [:])
        b["y"] = .pot(5)
        b["x"] = .uniform(4)
        #expect(a.hash == b.hash)
        #expect(a.hash.count == 64)
        // Both computed with Python: hashlib.sha256(json.dumps(c, sort_keys=True, separators=(",", ":"))).
        #expect(QuantizationConfig(layers: [:]).hash == "b83387f345d121e12cdcc4cfc7d0b5d64f2aba7d02005c423fc7efe821c8af57")
        #expect(a.hash == "f48860c4248664614f111a9c42bc1863b69bac1e7f6137f7165f01aaa95b8a0a")
        #expect(a.hash != QuantizationConfig(layers: ["x": .uniform(4), "y": .pot(4)]).hash)
    }

    @Test func floatAlwaysCanonicalisesToThirtyTwoBits() {
        #expect(LayerQuantization(scheme: .float, bits: 4).bits == 32)
        #expect(LayerQuantization(shortForm: "f32") == .float)
        #expect(LayerQuantization(shortForm: "f8") == nil)
        #expect(LayerQuantization(shortForm: "u3") == .uniform(3))
        #expect(LayerQuantization(shortForm: "p5") == .pot(5))
        #expect(LayerQuantization(shortForm: "x5") == nil)
    }

    @Test func parsesYAMLWithDefaultAndShortAndLongForms() throws {
        let yaml = """
            default: u4
            layers:
              sps.stages.0.conv: u8
              head: {scheme: pot, bits: 5}
              blocks.1.mlp.fc2.linear: {scheme: float}
            """
        let config = try QuantizationConfig.parse(yaml, file: "q.yaml", layerNames: names)
        #expect(config.layers.count == 18)
        #expect(config["sps.stages.0.conv"] == .uniform(8))
        #expect(config["head"] == .pot(5))
        #expect(config["blocks.1.mlp.fc2.linear"] == .float)
        #expect(config["blocks.0.attn.q.linear"] == .uniform(4))
    }

    @Test func jsonAndYAMLFormsAgree() throws {
        let config = QuantizationConfig.uniformChoice(.pot(4), layers: names)
        let json = String(decoding: config.canonicalJSON, as: UTF8.self)
        let fromJSON = try QuantizationConfig.parse(json, layerNames: names)
        let fromYAML = try QuantizationConfig.parse(config.yaml(order: names), layerNames: names)
        #expect(fromJSON == config)
        #expect(fromYAML == config)
        #expect(fromJSON.hash == config.hash)
    }

    @Test(arguments: [
        ("layers:\n  head: u9\n", "layers.head", "head", 2),
        ("layers:\n  head: {scheme: linear, bits: 4}\n", "layers.head.scheme", "head", 2),
        ("layers:\n  head: {scheme: uniform}\n", "layers.head.bits", "head", nil),
        ("layers:\n  nonsense.layer: u4\n", "layers.nonsense.layer", "nonsense.layer", 2),
        ("layers:\n  head: q4\n", "layers.head", "head", 2),
    ] as [(String, String, String, Int?)])
    func validationNamesTheLayerAndKey(yaml: String, key: String, layer: String, line: Int?) {
        do {
            _ = try QuantizationConfig.parse(yaml, file: "bad.yaml", layerNames: ["head"])
            Issue.record("expected an error for \(yaml)")
        } catch {
            #expect(error.key == key)
            #expect(error.layer == layer)
            #expect(error.line == line)
            #expect(error.description.hasPrefix("bad.yaml:" + (line.map { "\($0):" } ?? "") + " "))
        }
    }

    @Test func missingLayerIsReported() {
        #expect(throws: ConfigError.self) {
            try QuantizationConfig.parse("layers:\n  head: u4\n", layerNames: ["head", "sps.rpe.conv"])
        }
    }

    @Test func averageBitsIsParameterWeighted() {
        let config = QuantizationConfig(layers: ["a": .uniform(2), "b": .uniform(8)])
        #expect(config.averageBits(parameterCounts: ["a": 300, "b": 100]) == 3.5)
        // A layer absent from the config counts as float.
        #expect(config.averageBits(parameterCounts: ["a": 100, "c": 100]) == 17)
    }

    @Test func spaceValidatesChoicesAndPins() throws {
        let space = QuantizationSpace(layers: ["a", "b"], bits: [2, 4], fixed: ["b": .uniform(8)])
        try space.validate()
        #expect(space.choices(for: "a").map(\.description) == ["u2", "u4", "p2", "p4"])
        #expect(space.choices(for: "b") == [.uniform(8)])
        try space.validate(QuantizationConfig(layers: ["a": .pot(4), "b": .uniform(8)]))
        #expect(throws: ConfigError.self) {
            try space.validate(QuantizationConfig(layers: ["a": .pot(3), "b": .uniform(8)]))
        }
        #expect(throws: ConfigError.self) {
            try QuantizationSpace(layers: ["a"], bits: [1, 4]).validate()
        }
    }
}
