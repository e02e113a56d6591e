import Foundation
import QuantConfig
import Quantization
import Seeding
import SpikingNN
import Testing

/// Seeded mutations of a real packed model (and of the checkpoint it decodes to) through the
/// readers: every mutant must load or throw, never trap or allocate what the file does not hold.
/// The mutations are the ones that found traps from outside: numbers in the header (shapes, offsets,
/// and the model configuration and layouts inside `__metadata__`) replaced by extremes, and byte flips.
struct PackedModelFuzzTests {
    static let extremes = ["0", "1", "3", "255", "65536", "4294967296", "4611686018427387904", "9223372036854775807", "-1", "1e300"]

    /// The serialized packed model of the quantizer tests' small Spikformer.
    static func packedBytes() throws -> [UInt8] {
        let config = QuantizerTests.config
        let model = Spikformer(config: config, seed: 3)
        try model.applyQuantization(.uniformChoice(.uniform(3), layers: config.quantizableLayerNames))
        return PackedModel.document(of: model).serialized()
    }

    /// Replaces one run of digits in the header (anywhere: JSON numbers, or numbers inside the
    /// metadata's embedded JSON) with an extreme value, fixing the header length.
    static func replacingNumber(in bytes: [UInt8], using generator: inout SeededGenerator) -> [UInt8] {
        let length = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = Array(bytes[8..<(8 + length)])
        var runs: [Range<Int>] = []
        var i = 0
        while i < header.count {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(header[i]) else { i += 1; continue }
            var j = i
            while j < header.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(header[j]) { j += 1 }
            runs.append(i..<j)
            i = j
        }
        let run = runs[Int(generator.next() % UInt64(runs.count))]
        let value = extremes[Int(generator.next() % UInt64(extremes.count))]
        let mutated = Array(header[..<run.lowerBound]) + Array(value.utf8) + Array(header[run.upperBound...])
        return withUnsafeBytes(of: UInt64(mutated.count).littleEndian) { Array($0) } + mutated + bytes[(8 + length)...]
    }

    @Test func mutatedPackedModelsLoadOrThrow() throws {
        let original = try Self.packedBytes()
        _ = try PackedModel.load(SafetensorsDocument.parse(Data(original)), file: "original.safetensors")
        var generator = SeededGenerator(seed: 2412)
        var refused = 0
        let mutants = 400
        for index in 0..<mutants {
            var bytes = Self.replacingNumber(in: original, using: &generator)
            if index % 4 == 3 {  // and a few byte flips anywhere
                for _ in 0..<(1 + generator.next() % 8) { bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next()) }
            }
            let file = "mutant-\(index).safetensors"
            do {
                let document = try SafetensorsDocument.parse(Data(bytes), file: file)
                _ = try PackedModel.load(document, file: file)
                _ = try Spikformer(checkpoint: PackedModel.dequantized(document, file: file), file: file)
            } catch {
                refused += 1
            }
        }
        // Most mutants must be refused, or the mutations missed the fields they are meant to hit.
        #expect(refused > mutants / 2, "only \(refused) of \(mutants) mutants refused")
    }
}
