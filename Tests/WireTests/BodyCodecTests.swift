import Foundation
import QuantConfig
import Testing
import Wire

struct BodyCodecTests {
    static func sampleRequest() -> EvaluationRequest {
        EvaluationRequest(
            candidateId: 7, attempt: 2,
            config: QuantizationConfig(layers: ["head": .uniform(4), "blocks.0.mlp.fc1": .pot(3)]),
            budget: FineTuneBudget(epochs: 2), seed: 99,
            baseCheckpoint: ArtifactReference(sha256: String(repeating: "ab", count: 32), bytes: 1024, name: "base.safetensors"),
            dataset: DatasetReference(configYAML: "name: synthetic\n", fingerprint: "f00d"), energyModels: [:])
    }

    @Test func requestRoundTrips() throws {
        let request = Self.sampleRequest()
        let frame = try BodyCodec.encode(request)
        #expect(try BodyCodec.decode(EvaluationRequest.self, from: frame) == request)
        // Sorted keys: the same value always gives the same bytes.
        #expect(try BodyCodec.encode(request) == frame)
    }

    @Test func nonFiniteNumbersSurvive() throws {
        let progress = EvaluationProgress(candidateId: 1, attempt: 1, phase: "finetune", loss: .nan, accuracy: .infinity)
        let decoded = try BodyCodec.decode(EvaluationProgress.self, from: BodyCodec.encode(progress))
        #expect(decoded.loss?.isNaN == true)
        #expect(decoded.accuracy == .infinity)
    }

    @Test func errorsNameTypeAndPath() throws {
        let missing = Data(#"{"candidateId":1,"attempt":1}"#.utf8)
        #expect {
            try BodyCodec.decode(EvaluationProgress.self, from: missing)
        } throws: { error in
            let text = "\(error)"
            return text.contains("EvaluationProgress") && text.contains("phase")
        }
        let wrongType = Data(#"{"candidateId":"x","attempt":1,"phase":"a","epoch":0,"epochs":0,"step":0,"steps":0}"#.utf8)
        #expect {
            try BodyCodec.decode(EvaluationProgress.self, from: wrongType)
        } throws: { error in
            "\(error)".contains("candidateId")
        }
        #expect(throws: BodyCodingError.self) { try BodyCodec.decode(EvaluationProgress.self, from: Data("not json".utf8)) }
        #expect(throws: BodyCodingError.self) {
            try BodyCodec.decode(EvaluationProgress.self, fromBody: [Data("{}".utf8), Data()])
        }
    }

    @Test func artifactMessagesRoundTrip() throws {
        let request = ArtifactChunkRequest(sha256: "aa", offset: 1 << 20, length: 1 << 20)
        #expect(try BodyCodec.decode(ArtifactChunkRequest.self, from: BodyCodec.encode(request)) == request)
        let reply = ArtifactChunkReply(
            sha256: "aa", offset: 0, length: 0, totalBytes: 10, error: ServiceError(kind: .notFound, message: "x"))
        #expect(try BodyCodec.decode(ArtifactChunkReply.self, from: BodyCodec.encode(reply)) == reply)
    }
}
