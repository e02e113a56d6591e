import Foundation

/// Which samples of a split a model classified correctly, as a bit set: one bit per sample in split
/// order, least significant bit first. JSON: `{"count": 660, "correct": "<base64>"}`.
///
/// Two results on the same split can be compared sample by sample (McNemar, paired bootstrap), which
/// is far more sensitive than comparing two accuracies.
public struct SampleOutcomes: Codable, Hashable, Sendable {
    public let count: Int
    private let bits: [UInt8]

    public init(_ correct: [Bool]) {
        count = correct.count
        var bits = [UInt8](repeating: 0, count: (correct.count + 7) / 8)
        for (index, isCorrect) in correct.enumerated() where isCorrect { bits[index / 8] |= 1 << UInt8(index % 8) }
        self.bits = bits
    }

    /// From predicted and true labels.
    public init(predictions: [Int], labels: [Int]) {
        precondition(predictions.count == labels.count, "predictions and labels differ in length")
        self.init(zip(predictions, labels).map { $0 == $1 })
    }

    public subscript(index: Int) -> Bool {
        precondition(index >= 0 && index < count, "sample \(index) of \(count)")
        return bits[index / 8] & (1 << UInt8(index % 8)) != 0
    }

    public var correct: [Bool] { (0..<count).map { self[$0] } }
    public var correctCount: Int { bits.reduce(0) { $0 + $1.nonzeroBitCount } }

    private enum CodingKeys: String, CodingKey { case count, correct }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let count = try container.decode(Int.self, forKey: .count)
        let text = try container.decode(String.self, forKey: .correct)
        guard count >= 0, count <= 100_000_000, let data = Data(base64Encoded: text), data.count == (count + 7) / 8 else {
            throw DecodingError.dataCorruptedError(forKey: .correct, in: container, debugDescription: "not a base64 bit set of \(count) samples")
        }
        var bits = [UInt8](data)
        // Bits past the last sample must be clear, so equal sets encode equally.
        if count % 8 != 0, let last = bits.last, last >> UInt8(count % 8) != 0 {
            throw DecodingError.dataCorruptedError(forKey: .correct, in: container, debugDescription: "bits set past sample \(count)")
        }
        if bits.isEmpty { bits = [] }
        self.count = count
        self.bits = bits
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(count, forKey: .count)
        try container.encode(Data(bits).base64EncodedString(), forKey: .correct)
    }
}
