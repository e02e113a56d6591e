import Foundation

/// Byte-building helpers for the test-side file writers. These writers follow the bit tables in
/// `docs/events.md` / the reference notes and share no code with the module's readers or writers.
struct Bytes {
    var data: [UInt8] = []

    mutating func ascii(_ text: String) { data += Array(text.utf8) }
    mutating func raw(_ bytes: [UInt8]) { data += bytes }
    mutating func u8(_ v: UInt8) { data.append(v) }

    mutating func le16(_ v: Int) {
        let u = UInt16(truncatingIfNeeded: v)
        data += [UInt8(u & 0xFF), UInt8(u >> 8)]
    }

    mutating func le32(_ v: Int) {
        let u = UInt32(truncatingIfNeeded: v)
        data += [UInt8(u & 0xFF), UInt8((u >> 8) & 0xFF), UInt8((u >> 16) & 0xFF), UInt8(u >> 24)]
    }

    mutating func le64(_ v: Int64) {
        let u = UInt64(bitPattern: v)
        for k in 0..<8 { data.append(UInt8((u >> (8 * UInt64(k))) & 0xFF)) }
    }

    mutating func be32(_ v: UInt32) {
        data += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    mutating func pad(to alignment: Int) {
        while data.count % alignment != 0 { data.append(0) }
    }

    var count: Int { data.count }

    /// Overwrites 4 bytes at `offset` with a little-endian value.
    mutating func patchLE32(_ offset: Int, _ v: Int) {
        let u = UInt32(truncatingIfNeeded: v)
        for k in 0..<4 { data[offset + k] = UInt8((u >> (8 * UInt32(k))) & 0xFF) }
    }
}

/// A fresh temporary directory, removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init(_ label: String = "events") {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/spikeq-\(label)-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let target = file(name)
        try! FileManager.default.createDirectory(
            atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: target, contents: Data(bytes))
        return target
    }

    @discardableResult
    func write(_ name: String, text: String) -> String { write(name, Array(text.utf8)) }
}
