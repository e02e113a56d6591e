import ConfigFiles
import QuantConfig
import TestSupport
import Testing

struct ConfigYAMLTests {
    @Test func everyUseOfAnAliasIsCounted() throws {
        // root mapping, 2 keys, [1, 2, 3] (4 nodes), and [*a, *a]: 1 + 2 × 4.
        let node = try #require(try ConfigYAML.compose("a: &a [1, 2, 3]\nb: [*a, *a]\n", file: nil))
        #expect(ConfigYAML.walk(node, limit: 100).count == 16)
        #expect(ConfigYAML.walk(node, limit: 10).count == 11, "the count stops one past the limit")
    }

    @Test func aliasesWithinTheBoundAreRead() throws {
        let root = try #require(try ConfigYAML.load("base: &base {bits: 4}\nlayers: {a: *base, b: *base}\n", file: "q.yaml") as? [String: Any])
        let layers = try #require(root["layers"] as? [String: Any])
        #expect((layers["b"] as? [String: Any])?["bits"] as? Int == 4)
        #expect(try ConfigYAML.load("", file: nil) == nil)
    }

    /// A 400-byte file that expands to 10⁶ values is refused at once, naming the file. Without the
    /// bound the readers expand it (and each level more multiplies that by ten: at ten levels they ran
    /// until memory ran out), then fail on something else, so these expectations fail.
    @Test func aliasBombsAreRefusedBeforeExpanding() throws {
        let bomb = CraftedYAML.aliasBomb(levels: 6)
        let error = try #require(throws: ConfigError.self) { _ = try ConfigYAML.load(bomb, file: "bomb.yaml") }
        #expect(error.description.hasPrefix("bomb.yaml: (document): the document expands to more than 100000 values"), "\(error)")
        // The quantization config reader goes through the same bound.
        let quant = try #require(throws: ConfigError.self) { try QuantizationConfig.parse(bomb, file: "q.yaml") }
        #expect(quant.message.contains("expands to more than"), "\(quant)")
    }

    /// Yams reads mapping keys as strings and traps on any other; such keys are an error instead.
    @Test(arguments: ["[a, b]: 1\n", "x: 1\n? {b: 2}\n: 3\n", "layers: {[1]: u4}\n", "s: !!set {[1]: ~}\n"])
    func keysThatAreNotNamesAreErrors(text: String) throws {
        let error = try #require(throws: ConfigError.self) { _ = try ConfigYAML.load(text, file: "k.yaml") }
        #expect(error.message.contains("keys must be plain names") && error.line != nil, "\(error)")
        #expect(throws: ConfigError.self) { try QuantizationConfig.parse(text, file: "q.yaml") }
    }

    @Test func notYAMLNamesTheFile() throws {
        let error = try #require(throws: ConfigError.self) { try ConfigYAML.compose("key: [unclosed", file: "x.yaml") }
        #expect(error.description.hasPrefix("x.yaml: (document): not valid YAML"), "\(error)")
        // libyaml stops at its nesting limit and quotes the line; a crafted line is not repeated whole.
        let deep = try #require(throws: ConfigError.self) {
            try ConfigYAML.compose("layers: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000), file: "d.yaml")
        }
        #expect(deep.message.contains("not valid YAML") && deep.message.count < 1_000, "\(deep.message.prefix(200))")
    }
}
