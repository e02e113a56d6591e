import ConfigFiles
import QuantConfig
import Testing

struct ConfigLocatorTests {
    static let text = """
        default: u4          # line 1
        layers:
          blocks.0.attn.q.linear: p3
          blocks.0.attn:
            nested: [10, 20]
          head: {scheme: uniform, bits: 8}
        list:
          - a
          - b: {c: 1}
        """

    @Test func findsKeysSequencesAndDottedNames() {
        let locator = ConfigLocator(Self.text)
        #expect(locator.line(of: "default") == 1)
        #expect(locator.line(of: "layers") == 2)
        // The longest matching key wins: a layer name with dots is one key.
        #expect(locator.line(of: "layers.blocks.0.attn.q.linear") == 3)
        #expect(locator.line(of: "layers.blocks.0.attn.nested") == 5)
        #expect(locator.line(of: "layers.blocks.0.attn.nested[1]") == 5)
        #expect(locator.line(of: "layers.head.bits") == 6)
        #expect(locator.line(of: "list[1]") == 9)
        #expect(locator.line(of: "list[1].b.c") == 9)
    }

    @Test func pathsThatLeadNowhereHaveNoLine() {
        let locator = ConfigLocator(Self.text)
        for key in ["missing", "layers.blocks.1.mlp", "list[5]", "default.x", "(document)", "(file)", "", "layers.head.bits.more"] {
            #expect(locator.line(of: key) == nil, "\(key)")
        }
        #expect(ConfigLocator("key: [unclosed").line(of: "key") == nil)
    }

    @Test func readersOfPlainValuesReportTheLine() throws {
        let text = "default: u4\nlayers:\n  blocks.0.attn.q.linear: q9\n"
        let error = try #require(throws: ConfigError.self) { try QuantizationConfig.parse(text, file: "q.yaml") }
        #expect(error.key == "layers.blocks.0.attn.q.linear")
        #expect(error.line == 3)
        #expect(error.description.hasPrefix("q.yaml:3: layers.blocks.0.attn.q.linear: "))
        // A line the reader already knew is kept.
        let known = ConfigError(file: "f", key: "default", line: 7, message: "m")
        #expect(known.locating(in: ConfigLocator(text)).line == 7)
    }
}
