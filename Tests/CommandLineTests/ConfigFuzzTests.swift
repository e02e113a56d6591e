import ConfigFiles
import Coordinator
import Events
import Foundation
import QuantConfig
import Quantization
import Search
import Seeding
import SpikingNN
import Testing

/// Every shipped config file, mutated (values replaced by extremes and by YAML structures a reader
/// does not expect, lines dropped or repeated, bytes flipped), goes through its reader: each mutant
/// must parse or throw a ``ConfigError``. Before `ConfigYAML` checked keys, `[1]: 2` trapped inside
/// Yams in every reader; a trap kills the test process, so this test can fail.
struct ConfigFuzzTests {
    static let replacements = [
        "-1", "0", "9223372036854775807", "-9223372036854775808", "99999999999999999999", "1e308", "-1e308", "1e-320", ".nan", ".inf",
        "-.inf", "0x7fffffffffffffff", "1_000", "[]", "{}", "~", "\"\"", "x", "[1, 2, 3]", "{[1]: 2}", "? [a]", "{<<: 5}", "{<<: [1, 2]}",
        "&a [1]", "*a", "!!set {a, b}", "!!omap [a: 1]", "!!binary aGVsbG8=", "!!timestamp 2001-12-14", "!!int x", "!!bool maybe", "'\\x00'",
    ]

    static let files: [(path: String, read: @Sendable (String) throws -> Void)] = {
        let layers = SpikformerLayers.quantizable(depth: 2)
        let searchFile = root.appendingPathComponent("configs/search/synthetic-gestures.yaml")
        let search: @Sendable (String) throws -> Void = { text in
            let config = try SearchConfig.parse(text, file: searchFile)
            _ = config.parameters(space: try GenomeSpace(try config.quantizationSpace(layers: layers)), sensitivity: nil)
        }
        let model: @Sendable (String) throws -> Void = { _ = try SpikformerConfig.parse($0, file: "m.yaml") }
        let dataset: @Sendable (String) throws -> Void = { _ = try DatasetConfig.parse($0, file: "d.yaml") }
        let energy: @Sendable (String) throws -> Void = { _ = try EnergyModel.parse($0, file: "e.yaml") }
        return [
            ("configs/models/spikformer-tiny.yaml", model), ("configs/models/spikformer-2-256-dvs.yaml", model),
            ("configs/datasets/synthetic-gestures.yaml", dataset), ("configs/datasets/dvs128-gesture.yaml", dataset),
            ("configs/datasets/n-caltech101.yaml", dataset),
            ("configs/energy/spikformer-45nm.yaml", energy), ("configs/energy/horowitz-45nm.yaml", energy),
            ("benchmarks/quant/mixed.yaml", { _ = try QuantizationConfig.parse($0, file: "q.yaml", layerNames: layers) }),
            ("configs/search/synthetic-gestures.yaml", search), ("configs/search/dvs128-gesture.yaml", search),
        ]
    }()

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `count` seeded mutants of `text`, after one mutant per replacement on its first `key: value` line.
    static func mutants(of text: String, count: Int, seed: UInt64) -> [String] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let valueLines = lines.indices.filter { !lines[$0].hasPrefix("#") && lines[$0].contains(": ") }
        func replacingValue(of line: String, with value: String) -> String {
            guard let colon = line.firstIndex(of: ":") else { return line }
            return String(line[...colon]) + " " + value
        }
        var out = replacements.map { value in
            var copy = lines
            if let first = valueLines.first { copy[first] = replacingValue(of: copy[first], with: value) }
            return copy.joined(separator: "\n")
        }
        var rng = SeededGenerator(seed: seed, stream: "config-fuzz")
        for _ in 0..<count {
            var copy = lines
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                // A line that held a value in the original, while the copy still has it (lines are removed).
                let candidates = valueLines.filter { $0 < copy.count }
                let i = candidates.isEmpty ? Int(rng.next() % UInt64(copy.count)) : candidates[Int(rng.next() % UInt64(candidates.count))]
                switch rng.next() % 5 {
                case 0, 1: copy[i] = replacingValue(of: copy[i], with: replacements.randomElement(using: &rng)!)
                case 2: copy.remove(at: i)
                case 3: copy.insert(copy[i], at: i)
                default:
                    var bytes = Array(copy[i].utf8)
                    if !bytes.isEmpty { bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(1 << (rng.next() % 7)) }
                    copy[i] = String(decoding: bytes, as: UTF8.self)
                }
                if copy.isEmpty { copy = [""] }
            }
            out.append(copy.joined(separator: "\n"))
        }
        return out
    }

    @Test(arguments: files.indices)
    func mutatedConfigsParseOrGiveAConfigError(index: Int) throws {
        let (path, read) = Self.files[index]
        let text = try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
        try read(text)  // the shipped file itself reads
        var refused = 0
        for mutant in Self.mutants(of: text, count: 400, seed: UInt64(index)) {
            do {
                try read(mutant)
            } catch is ConfigError {
                refused += 1
            } catch {
                Issue.record("\(path): \(type(of: error)) instead of a ConfigError: \(error)\n--- mutant ---\n\(mutant)")
            }
        }
        #expect(refused > 0, "\(path): no mutant was refused, so the mutations did not reach the reader")
    }
}
