import CZeroMQ
import Foundation

/// A 32-byte CURVE (Curve25519) key, written as 40 Z85 characters.
public struct CurveKey: Hashable, Sendable, CustomStringConvertible {
    /// The raw key bytes (always 32).
    public let bytes: Data

    /// A key from its 32 raw bytes.
    public init(bytes: Data) throws {
        guard bytes.count == 32 else {
            throw ZMQError(
                code: .invalidKey, operation: "CurveKey(bytes:)",
                message: "a CURVE key has 32 bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// A key from its 40-character Z85 text (`zmq_z85_decode`).
    public init(z85 text: String) throws {
        guard text.utf8.count == 40 else {
            throw ZMQError(
                code: .invalidKey, operation: "CurveKey(z85:)",
                message: "a Z85 CURVE key has 40 characters, got \(text.utf8.count)")
        }
        var buffer = [UInt8](repeating: 0, count: 32)
        guard zmq_z85_decode(&buffer, text) != nil else {
            throw ZMQError(
                code: .invalidKey, operation: "CurveKey(z85:)",
                message: "'\(text)' is not valid Z85 (characters outside the Z85 alphabet)")
        }
        self.bytes = Data(buffer)
    }

    /// The 40-character Z85 text (`zmq_z85_encode`).
    public var z85: String {
        var buffer = [CChar](repeating: 0, count: 41)
        bytes.withUnsafeBytes { raw in
            _ = zmq_z85_encode(&buffer, raw.bindMemory(to: UInt8.self).baseAddress, 32)
        }
        return String(decoding: buffer.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Never the key itself: a secret key must not reach a log or an error message by interpolation.
    /// Use ``z85`` where the text is really wanted (a public key file).
    public var description: String { "CurveKey(32 bytes, redacted)" }
}

/// A CURVE key pair. A certificate read from a public key file has no ``secretKey``.
public struct CurveKeyPair: Hashable, Sendable {
    public var publicKey: CurveKey
    public var secretKey: CurveKey?

    public init(publicKey: CurveKey, secretKey: CurveKey?) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A pair whose public key is derived from `secretKey` (`zmq_curve_public`).
    public init(secretKey: CurveKey) throws {
        var publicText = [CChar](repeating: 0, count: 41)
        try zmqCall("zmq_curve_public") { zmq_curve_public(&publicText, secretKey.z85) }
        let text = String(decoding: publicText.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.init(publicKey: try CurveKey(z85: text), secretKey: secretKey)
    }

    /// A fresh random key pair (`zmq_curve_keypair`, 41-byte buffers).
    ///
    /// - Throws: ``ZMQError/Code/notSupported`` if libzmq was built without CURVE.
    public static func generate() throws -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        try zmqCall("zmq_curve_keypair") { zmq_curve_keypair(&publicText, &secretText) }
        func string(_ chars: [CChar]) -> String {
            String(decoding: chars.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return CurveKeyPair(
            publicKey: try CurveKey(z85: string(publicText)), secretKey: try CurveKey(z85: string(secretText)))
    }
}
