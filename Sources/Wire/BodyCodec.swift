import Foundation

/// JSON encoding of MDP bodies: every body is one UTF-8 JSON frame of a versioned Codable type.
///
/// Keys are sorted (stable bytes for the same value). Non-finite doubles, which JSON cannot express
/// (a diverged loss), are written as the strings `"NaN"`, `"Infinity"` and `"-Infinity"`.
public enum BodyCodec {
    public static func encode<Body: Encodable>(_ body: Body) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do {
            return try encoder.encode(body)
        } catch {
            throw BodyCodingError(type: "\(Body.self)", detail: "cannot encode: \(error)")
        }
    }

    /// Decodes one body frame.
    ///
    /// - Throws: ``BodyCodingError`` naming the type and the JSON path at fault.
    public static func decode<Body: Decodable>(_ type: Body.Type, from frame: Data) throws -> Body {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do {
            return try decoder.decode(type, from: frame)
        } catch let error as DecodingError {
            throw BodyCodingError(type: "\(Body.self)", detail: describe(error))
        } catch {
            throw BodyCodingError(type: "\(Body.self)", detail: "\(error)")
        }
    }

    /// Decodes the first frame of an MDP body (the body must have exactly one frame).
    public static func decode<Body: Decodable>(_ type: Body.Type, fromBody body: [Data]) throws -> Body {
        guard body.count == 1 else {
            throw BodyCodingError(type: "\(Body.self)", detail: "expected one JSON body frame, got \(body.count)")
        }
        return try decode(type, from: body[0])
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let text = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.isEmpty ? "<root>" : String(text.drop { $0 == "." })
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return "missing key '\(key.stringValue)'" + (parent == "<root>" ? "" : " in \(parent)")
        case .typeMismatch(let type, let context):
            return "\(path(context)): expected \(type): \(context.debugDescription)"
        case .valueNotFound(let type, let context):
            return "\(path(context)): expected \(type), found null"
        case .dataCorrupted(let context):
            return "\(path(context)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

/// A body frame that is not valid JSON for its type.
public struct BodyCodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The Swift type that was being decoded, e.g. `EvaluationRequest`.
    public var type: String
    public var detail: String

    public init(type: String, detail: String) {
        self.type = type
        self.detail = detail
    }

    public var description: String { "\(type) body: \(detail)" }
}
