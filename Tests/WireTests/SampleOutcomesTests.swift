import Foundation
import Testing
import Wire

struct SampleOutcomesTests {
    @Test func bitsAreLeastSignificantFirst() throws {
        let outcomes = SampleOutcomes([true, false, false, true, true, false, false, false, true])
        let json = try JSONEncoder().encode(outcomes)
        let object = try JSONSerialization.jsonObject(with: json) as! [String: Any]
        // 0b0001_1001 = 0x19, then 0b0000_0001.
        #expect(object["count"] as? Int == 9)
        #expect(object["correct"] as? String == Data([0x19, 0x01]).base64EncodedString())
        #expect(try JSONDecoder().decode(SampleOutcomes.self, from: json) == outcomes)
        #expect(outcomes.correctCount == 4)
        #expect(outcomes.correct == [true, false, false, true, true, false, false, false, true])
    }

    @Test func malformedSetsAreRefused() {
        func decode(_ text: String) throws -> SampleOutcomes { try JSONDecoder().decode(SampleOutcomes.self, from: Data(text.utf8)) }
        #expect(throws: DecodingError.self) { try decode(#"{"count": 9, "correct": "GQ=="}"#) }  // one byte for nine samples
        #expect(throws: DecodingError.self) { try decode(#"{"count": 9, "correct": "GQM="}"#) }  // bit 9 set
        #expect(throws: DecodingError.self) { try decode(#"{"count": -1, "correct": ""}"#) }
        #expect(throws: DecodingError.self) { try decode(#"{"count": 8, "correct": "not base64!"}"#) }
    }

    @Test func fromPredictions() {
        #expect(SampleOutcomes(predictions: [1, 2, 3], labels: [1, 0, 3]).correct == [true, false, true])
    }
}
