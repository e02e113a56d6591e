import Threading
import Foundation

/// The Ironhouse allowlist: a directory of public CURVE certificates (CZMQ `zcert` files, e.g.
/// `worker-1.key`); a CURVE peer is admitted only if its public key is in one of them.
///
/// The directory is re-read whenever its listing or a file's size or modification time changes, so
/// adding a worker's key takes effect for its next handshake without a restart. Files ending in
/// `_secret` are ignored (a secret key has no business in an allowlist), as are unreadable files
/// (which are reported in ``problems``).
public final class AuthorizedKeys: ZAPAuthorizer, Sendable {
    public let directory: URL
    private struct Snapshot: Sendable {
        var signature: [String] = []
        var keys: [Data: String] = [:]
        var problems: [String] = []
    }
    private let state = Locked(Snapshot())

    /// - Throws: ``ZMQError`` if the directory cannot be listed.
    public init(directory: URL) throws {
        self.directory = directory
        _ = try refresh()
    }

    /// The public keys currently admitted, with the name each came from (file base name).
    public func keys() throws -> [Data: String] { try refresh().keys }

    /// Files that could not be read as certificates on the last reload, with the reason.
    public var problems: [String] { state.current.problems }

    public func authorize(_ request: ZAPRequest) -> ZAPDecision {
        guard request.mechanism == "CURVE" else {
            return .deny(reason: "mechanism \(request.mechanism) is not accepted; use CURVE")
        }
        guard let key = request.credentials.first, key.count == 32 else {
            return .deny(reason: "CURVE credentials must be one 32-byte public key")
        }
        let snapshot: Snapshot
        do {
            snapshot = try refresh()
        } catch {
            return .deny(reason: "authorized keys unavailable: \(error)")
        }
        if let name = snapshot.keys[key] { return .allow(userID: name) }
        let text = (try? CurveKey(bytes: key).z85) ?? "?"
        return .deny(reason: "public key \(text) is not in \(directory.path)")
    }

    private func refresh() throws -> Snapshot {
        let manager = FileManager.default
        let names: [String]
        do {
            names = try manager.contentsOfDirectory(atPath: directory.path).sorted()
        } catch {
            throw ZMQError(
                code: .invalidKey, operation: "list \(directory.path)",
                message: "cannot read the authorized keys directory: \(error.localizedDescription)")
        }
        let candidates = names.filter { !$0.hasSuffix("_secret") && !$0.hasPrefix(".") }
        let signature = candidates.map { name -> String in
            let attributes = try? manager.attributesOfItem(atPath: directory.appendingPathComponent(name).path)
            let size = (attributes?[.size] as? NSNumber)?.intValue ?? -1
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return "\(name)|\(size)|\(modified)"
        }
        if let unchanged = state.withLock({ $0.signature == signature && !signature.isEmpty ? $0 : nil }) {
            return unchanged
        }
        var snapshot = Snapshot(signature: signature)
        for name in candidates {
            let url = directory.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else {
                continue
            }
            do {
                let text = try String(contentsOf: url, encoding: .utf8)
                let certificate = try CurveCertificate(parsing: text, source: url.path)
                let label = certificate.metadata.first { $0.key == "name" }?.value
                    ?? (name as NSString).deletingPathExtension
                snapshot.keys[certificate.keys.publicKey.bytes] = label
            } catch {
                snapshot.problems.append("\(url.path): \(error)")
            }
        }
        state.withLock { $0 = snapshot }
        return snapshot
    }
}
