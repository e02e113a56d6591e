import ConfigFiles
import Foundation
import QuantConfig
import Quantization
import TestSupport
import Testing

struct EnergyModelTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func load(_ name: String) throws -> EnergyModel {
        try EnergyModel.load(contentsOf: Self.root.appendingPathComponent("configs/energy/\(name).yaml"))
    }

    /// A three-layer model plus an attention product, with hand-picked activity.
    func layers(first: LayerQuantization, linear: LayerQuantization, head: LayerQuantization) -> [LayerActivity] {
        [
            LayerActivity(name: "first", quantization: first, parameters: 144, fanIn: 18, macs: 1000, inputFiringRate: 1, spikingInput: false),
            LayerActivity(name: "linear", quantization: linear, parameters: 2048, fanIn: 64, macs: 2000, inputFiringRate: 0.1, spikingInput: true),
            LayerActivity(name: "head", quantization: head, parameters: 10, fanIn: 10, macs: 100, inputFiringRate: 0.5, spikingInput: true),
            LayerActivity(name: "matmul", quantization: nil, parameters: 0, fanIn: 64, macs: 500, inputFiringRate: 0.2, spikingInput: true),
        ]
    }

    @Test func spikformerPresetMatchesHandComputation() throws {
        let model = try load("spikformer-45nm")
        #expect(model.name == "spikformer-45nm")
        let quantized = layers(first: .uniform(8), linear: .uniform(4), head: .float)
        // 1000·4.6·8/32 + 0.1·2000·0.9·4/32 + 0.5·100·0.9 + 0.2·500·0.9
        #expect(isClose(model.picojoules(for: quantized, timeSteps: 4), 1150 + 22.5 + 45 + 90))
        let fp32 = layers(first: .float, linear: .float, head: .float)
        #expect(isClose(model.picojoules(for: fp32, timeSteps: 4), 4600 + 180 + 45 + 90))
    }

    @Test func spikformerPresetRatioIsThirtyTwoOverBitsWhenAllLayersShareWidth() throws {
        let model = try load("spikformer-45nm")
        let weighted = layers(first: .uniform(4), linear: .uniform(4), head: .uniform(4)).dropLast()
        let fp32 = layers(first: .float, linear: .float, head: .float).dropLast()
        let ratio = model.picojoules(for: Array(fp32), timeSteps: 4) / model.picojoules(for: Array(weighted), timeSteps: 4)
        #expect(isClose(ratio, 8))
    }

    @Test func horowitzPresetMatchesHandComputation() throws {
        let model = try load("horowitz-45nm")
        // Values computed independently (Python): add(b) linear through (8, .03), (32, .1);
        // mult(b) = c·b², least-squares c through (8, .2), (32, 3.1); SRAM .15625 pJ/bit; T = 4.
        let quantized = layers(first: .uniform(8), linear: .pot(4), head: .float)
        #expect(isClose(model.picojoules(for: quantized, timeSteps: 4), 6333.232652399481, relative: 1e-9))
        let potFirst = layers(first: .pot(8), linear: .pot(4), head: .float)
        let expected = 809.1666666666666 + 5127.166666666667 + 245.0 + 2.708333333333333
        #expect(isClose(model.picojoules(for: potFirst, timeSteps: 4), expected, relative: 1e-9))
        #expect(IntegerEnergyTable.accumulatorBits(weightBits: 8, fanIn: 18) == 13)
        #expect(IntegerEnergyTable.accumulatorBits(weightBits: 30, fanIn: 1024) == 32)
    }

    @Test func badTablesNameTheFileAndKey() {
        // Each bad key with its line (a missing key has none).
        let cases: [(String, String, Int?)] = [
            ("name: x\nkind: quantum\n", "kind", 2),
            ("name: x\nkind: scaled-float\nmac_pj: 4.6\nreference_bits: 32\n", "ac_pj", nil),
            ("name: x\nkind: scaled-float\nmac_pj: -1\nac_pj: 1\nreference_bits: 32\n", "mac_pj", 3),
            ("name: x\nkind: scaled-float\nmac_pj: 1\nac_pj: 1\nreference_bits: 32\nextra: 1\n", "extra", 6),
        ]
        let bomb = #expect(throws: ConfigError.self) { try EnergyModel.parse(CraftedYAML.aliasBomb(levels: 6), file: "e.yaml") }
        #expect(bomb?.message.contains("expands to more than") == true)
        for (text, key, line) in cases {
            do {
                _ = try EnergyModel.parse(text, file: "e.yaml")
                Issue.record("expected an error for key \(key)")
            } catch {
                #expect(error.key == key)
                #expect(error.line == line)
                #expect(error.description.hasPrefix("e.yaml:" + (line.map { "\($0):" } ?? "") + " \(key)"))
            }
        }
    }
}
