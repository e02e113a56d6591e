import Foundation

/// CURVE key files in CZMQ's `zcert` text format, so keys interoperate with czmq, zauth and pyzmq's
/// `zmq.auth.load_certificate`.
///
/// `NAME.key` holds the public key and may be handed out; `NAME.key_secret` (mode 0600) also holds the
/// secret key:
///
///     #   ZeroMQ CURVE **Secret** Certificate
///     #   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.
///
///     metadata
///         name = "worker-1"
///     curve
///         public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
///         secret-key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
///
/// The layout is ZPL (ZeroMQ RFC 4): `#` comments, sections nested by four-space indentation,
/// `name = "value"` properties.
public struct CurveCertificate: Hashable, Sendable {
    public var keys: CurveKeyPair
    /// The `metadata` section's properties (e.g. `name`), written in the order given.
    public var metadata: [(key: String, value: String)]

    public init(keys: CurveKeyPair, metadata: [(key: String, value: String)] = []) {
        self.keys = keys
        self.metadata = metadata
    }

    public static func == (a: CurveCertificate, b: CurveCertificate) -> Bool {
        a.keys == b.keys && a.metadata.elementsEqual(b.metadata) { $0 == $1 }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(keys)
        for (key, value) in metadata {
            hasher.combine(key)
            hasher.combine(value)
        }
    }

    /// The secret file's name for a public file name (`NAME.key` → `NAME.key_secret`), as czmq names them.
    public static func secretPath(forPublic url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(url.lastPathComponent + "_secret")
    }

    // MARK: Text

    /// The public certificate's text (no secret key).
    public var publicText: String {
        render(
            banner: [
                "ZeroMQ CURVE Public Certificate",
                "Exchange securely, or use a secure mechanism to verify the contents",
                "of this file after exchange. Store public certificates in your home",
                "directory, in the .curve subdirectory.",
            ], includeSecret: false)
    }

    /// The secret certificate's text (public and secret key).
    public var secretText: String {
        render(
            banner: [
                "ZeroMQ CURVE **Secret** Certificate",
                "DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.",
            ], includeSecret: true)
    }

    private func render(banner: [String], includeSecret: Bool) -> String {
        let stamp = ISO8601DateFormatter().string(from: Date())
        var lines = ["#   ****  Generated on \(stamp) by SpikeQuant  ****"]
        lines += banner.map { "#   \($0)" }
        lines.append("")
        lines.append("metadata")
        for (key, value) in metadata { lines.append("    \(key) = \"\(value)\"") }
        lines.append("curve")
        lines.append("    public-key = \"\(keys.publicKey.z85)\"")
        if includeSecret, let secret = keys.secretKey { lines.append("    secret-key = \"\(secret.z85)\"") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Parses certificate text.
    ///
    /// - Parameter source: Named in error messages (usually the file path).
    /// - Throws: ``ZMQError`` with ``ZMQError/Code/invalidKey`` naming the line at fault.
    public init(parsing text: String, source: String = "certificate") throws {
        var section: [String] = []
        var metadata: [(key: String, value: String)] = []
        var publicText: String?
        var secretText: String?
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = offset + 1
            func fail(_ why: String) -> ZMQError {
                ZMQError(code: .invalidKey, operation: "read \(source)", message: "line \(lineNumber): \(why)")
            }
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            let indent = line.prefix { $0 == " " }.count
            let body = line.dropFirst(indent)
            if body.isEmpty || body.hasPrefix("#") { continue }
            guard indent % 4 == 0 else { throw fail("indentation must be a multiple of four spaces") }
            let depth = indent / 4
            guard depth <= section.count else { throw fail("indented deeper than its section") }
            section.removeLast(section.count - depth)
            guard let equals = body.firstIndex(of: "=") else {
                section.append(body.trimmingCharacters(in: .whitespaces))
                continue
            }
            let name = body[..<equals].trimmingCharacters(in: .whitespaces)
            let value = try Self.value(of: body[body.index(after: equals)...], fail: fail)
            switch (section, name) {
            case (["metadata"], _): metadata.append((name, value))
            case (["curve"], "public-key"): publicText = value
            case (["curve"], "secret-key"): secretText = value
            default: continue
            }
        }
        guard let publicText else {
            throw ZMQError(code: .invalidKey, operation: "read \(source)", message: "no curve/public-key")
        }
        func key(_ text: String, _ name: String) throws -> CurveKey {
            do { return try CurveKey(z85: text) } catch let error as ZMQError {
                throw ZMQError(
                    code: .invalidKey, operation: "read \(source)", message: "curve/\(name): \(error.message)")
            }
        }
        let publicKey = try key(publicText, "public-key")
        let secretKey = try secretText.map { try key($0, "secret-key") }
        if let secretKey, try CurveKeyPair(secretKey: secretKey).publicKey != publicKey {
            throw ZMQError(
                code: .invalidKey, operation: "read \(source)",
                message: "curve/public-key does not belong to curve/secret-key")
        }
        self.init(keys: CurveKeyPair(publicKey: publicKey, secretKey: secretKey), metadata: metadata)
    }

    private static func value(of raw: Substring, fail: (String) -> ZMQError) throws -> String {
        let trimmed = raw.trimmingCharacters(in: .whitespaces)
        guard let quote = trimmed.first, quote == "\"" || quote == "'" else {
            // Unquoted: up to a comment.
            return String(trimmed.prefix { $0 != "#" }).trimmingCharacters(in: .whitespaces)
        }
        let rest = trimmed.dropFirst()
        guard let end = rest.firstIndex(of: quote) else { throw fail("unterminated quoted value") }
        return String(rest[..<end])
    }

    // MARK: Files

    /// Reads a certificate file. Reading `NAME.key` also reads `NAME.key_secret` if it exists, as czmq does.
    public static func load(from url: URL) throws -> CurveCertificate {
        let certificate = try CurveCertificate(parsing: readText(url), source: url.path)
        if certificate.keys.secretKey == nil {
            let secretURL = secretPath(forPublic: url)
            if FileManager.default.fileExists(atPath: secretURL.path) {
                return try CurveCertificate(parsing: readText(secretURL), source: secretURL.path)
            }
        }
        return certificate
    }

    private static func readText(_ url: URL) throws -> String {
        do {
            return try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ZMQError(
                code: .invalidKey, operation: "read \(url.path)", message: "cannot read: \(error.localizedDescription)")
        }
    }

    /// Writes `url` (public) and `url` + `_secret` (secret, mode 0600, if there is a secret key).
    ///
    /// - Returns: The paths written: public first.
    @discardableResult
    public func save(to url: URL) throws -> [URL] {
        var written: [URL] = []
        try Data(publicText.utf8).write(to: url, options: .atomic)
        written.append(url)
        if keys.secretKey != nil {
            let secretURL = Self.secretPath(forPublic: url)
            // Create the file private first, so the secret never exists with wider permissions.
            _ = FileManager.default.createFile(
                atPath: secretURL.path, contents: nil, attributes: [.posixPermissions: 0o600])
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: secretURL.path)
            let handle = try FileHandle(forWritingTo: secretURL)
            defer { try? handle.close() }
            try handle.truncate(atOffset: 0)
            try handle.write(contentsOf: Data(secretText.utf8))
            written.append(secretURL)
        }
        return written
    }
}
