import Foundation
import Testing
import Wire

struct FailureKindTests {
    @Test func kindsTravelAsPlainStringsAndUnknownOnesStillDecode() throws {
        let failure = EvaluationFailure(kind: .checkpointHash, message: "m")
        let json = String(decoding: try JSONEncoder().encode(failure), as: UTF8.self)
        #expect(json.contains(#""kind":"checkpoint-hash""#))
        let foreign = try JSONDecoder().decode(EvaluationFailure.self, from: Data(#"{"kind":"out-of-memory","message":"GPU"}"#.utf8))
        #expect(foreign.kind.rawValue == "out-of-memory")
        #expect(!foreign.kind.isEnvironmental)
        #expect("\(foreign)" == "out-of-memory: GPU")
    }

    @Test func onlyDataAndCheckpointFailuresBlameTheWorker() {
        let environmental: [FailureKind] = [.dataset, .datasetMismatch, .checkpoint, .checkpointHash]
        let candidate: [FailureKind] = [.badRequest, .schema, .busy, .diverged, .internal, .notFound, .io]
        #expect(environmental.allSatisfy { $0.isEnvironmental })
        #expect(!candidate.contains { $0.isEnvironmental })
    }
}
