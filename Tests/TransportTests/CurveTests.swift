import Foundation
import Logging
import Testing
import Transport

struct CurveKeyTests {
    @Test func keyPairsRoundTripThroughZ85() throws {
        try #require(ZMQLibrary.hasCurve)
        let pair = try CurveKeyPair.generate()
        let secret = try #require(pair.secretKey)
        #expect(pair.publicKey.z85.count == 40)
        #expect(try CurveKey(z85: pair.publicKey.z85) == pair.publicKey)
        #expect(try CurveKeyPair(secretKey: secret).publicKey == pair.publicKey)
        #expect(try CurveKeyPair.generate().publicKey != pair.publicKey)
    }

    @Test func rfc32TestVector() throws {
        // ZeroMQ RFC 32 (Z85): the 8 bytes 86 4F D2 6F B5 59 F7 5B encode as "HelloWorld".
        #expect(ZMQLibraryZ85.encode(Data([0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B])) == "HelloWorld")
        let key = try CurveKey(bytes: Data(repeating: 0x86, count: 32))
        #expect(try CurveKey(z85: key.z85).bytes == key.bytes)
    }

    @Test func rejectsBadKeys() {
        #expect(throws: ZMQError.self) { try CurveKey(z85: "short") }
        #expect(throws: ZMQError.self) { try CurveKey(z85: String(repeating: "~", count: 40)) }
        #expect(throws: ZMQError.self) { try CurveKey(bytes: Data(count: 31)) }
    }
}

/// Z85 of arbitrary lengths divisible by 4, through a CURVE key's encoder (test helper).
enum ZMQLibraryZ85 {
    static func encode(_ data: Data) -> String {
        // Pad into a 32-byte key and keep the first data.count × 5/4 characters: Z85 works on 4-byte groups.
        var padded = data
        padded.append(Data(count: 32 - data.count))
        let key = try! CurveKey(bytes: padded)
        return String(key.z85.prefix(data.count * 5 / 4))
    }
}

struct CurveCertificateTests {
    @Test func savesCZMQFormatWithPrivateSecretFile() throws {
        try #require(ZMQLibrary.hasCurve)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spikeq-cert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let pair = try CurveKeyPair.generate()
        let certificate = CurveCertificate(keys: pair, metadata: [("name", "worker-1")])
        let written = try certificate.save(to: directory.appendingPathComponent("worker-1.key"))
        #expect(written.map(\.lastPathComponent) == ["worker-1.key", "worker-1.key_secret"])
        let publicText = try String(contentsOf: written[0], encoding: .utf8)
        #expect(publicText.contains("curve\n    public-key = \"\(pair.publicKey.z85)\""))
        #expect(publicText.contains("metadata\n    name = \"worker-1\""))
        #expect(!publicText.contains("secret-key"))
        let secretText = try String(contentsOf: written[1], encoding: .utf8)
        #expect(secretText.contains("    secret-key = \"\(pair.secretKey!.z85)\""))
        let mode = try FileManager.default.attributesOfItem(atPath: written[1].path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        // Loading the public file picks up the secret beside it, as czmq does.
        #expect(try CurveCertificate.load(from: written[0]) == certificate)
        #expect(try CurveCertificate.load(from: written[1]).keys == pair)
    }

    @Test func parsesFilesWrittenByCZMQ() throws {
        let text = """
            #   ****  Generated on 2023-02-17 21:05:10 by CZMQ  ****
            #   ZeroMQ CURVE **Secret** Certificate
            #   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

            metadata
                name = "node-1"
                time = "2023-02-17T21:05:10"
            curve
                public-key = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
                secret-key = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
            """
        let certificate = try CurveCertificate(parsing: text)
        // The key pair from ZeroMQ's CURVE test vectors (server keys of the zguide examples).
        #expect(certificate.keys.publicKey.z85 == "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID")
        #expect(certificate.metadata.first?.value == "node-1")
        #expect(certificate.keys.secretKey != nil)
    }

    @Test func reportsTheLineAtFault() {
        #expect {
            try CurveCertificate(parsing: "curve\n   public-key = \"x\"\n")
        } throws: { error in
            "\(error)".contains("line 2")
        }
        #expect {
            try CurveCertificate(parsing: "metadata\ncurve\n    public-key = \"tooshort\"\n", source: "w.key")
        } throws: { error in
            "\(error)".contains("w.key") && "\(error)".contains("public-key")
        }
        #expect(throws: ZMQError.self) { try CurveCertificate(parsing: "metadata\n") }
        // A public key that does not match the secret key.
        #expect(throws: ZMQError.self) {
            try CurveCertificate(parsing: """
                curve
                    public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
                    secret-key = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
                """)
        }
    }
}

struct ZAPHandlerTests {
    @Test func ironhouseAdmitsOnlyListedClients() throws {
        try #require(ZMQLibrary.hasCurve)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spikeq-zap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let server = try CurveKeyPair.generate()
        let good = try CurveKeyPair.generate()
        let bad = try CurveKeyPair.generate()
        try CurveCertificate(keys: CurveKeyPair(publicKey: good.publicKey, secretKey: nil)).save(to: directory.appendingPathComponent("good.key"))
        // A secret file in the allowlist is ignored, and garbage is reported, not fatal.
        try CurveCertificate(keys: bad).save(to: directory.appendingPathComponent("bad.key"))
        try FileManager.default.removeItem(at: directory.appendingPathComponent("bad.key"))
        try Data("junk".utf8).write(to: directory.appendingPathComponent("junk.key"))

        let context = try ZMQContext()
        let keys = try AuthorizedKeys(directory: directory)
        #expect(try keys.keys() == [good.publicKey.bytes: "good"])
        #expect(keys.problems.count == 1)
        let zap = try ZAPHandler(context: context, authorizer: keys, logger: Logger(label: "test"))
        defer { zap.stop() }
        // One handler per context.
        #expect(throws: ZMQError.self) { try ZAPHandler(context: context, authorizer: keys, logger: Logger(label: "test")) }

        let router = try ZMQSocket(context: context, type: .router)
        try router.setZAPDomain("test")
        try router.setCurveServer(secretKey: server.secretKey!)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint()

        func attempt(_ keys: CurveKeyPair) throws -> Bool {
            let dealer = try ZMQSocket(context: context, type: .dealer)
            try dealer.setCurveClient(serverKey: server.publicKey, keyPair: keys)
            try dealer.connect(endpoint)
            try dealer.send([Data("hello".utf8)])
            return try router.receive(timeout: .milliseconds(500)) != nil
        }
        #expect(try attempt(good))
        #expect(try !attempt(bad))
        #expect(zap.decisions.allowed == 1)
        #expect(zap.decisions.denied >= 1)
    }
}
