import Foundation

/// One stream listed in an AEDAT 4 IO header.
public struct AEDAT4Stream: Hashable, Sendable {
    public var id: UInt32
    /// `EVTS`, `FRME`, `IMUS`, `TRIG`, …
    public var typeIdentifier: String
    /// The sensor (EVTS and FRME streams), from the `info` node's `sizeX` and `sizeY`.
    public var sensor: SensorSize?
    /// The `info` node's `source`, e.g. `DVXplorer_DXA00093`.
    public var source: String?
}

/// Reads the streams out of the XML `description` of an AEDAT 4 IO header.
///
/// DV writes `<dv version="2.0"><node name="outInfo"><node name="<id>"><attr key="typeIdentifier">EVTS</attr>
/// <node name="info"><attr key="sizeX">…</attr><attr key="sizeY">…</attr>…`. This scanner understands
/// exactly that shape (elements, attributes, text, the five predefined entities, comments and
/// processing instructions) rather than pulling in an XML library for it.
enum AEDAT4Description {
    static func streams(in xml: String, file: String, fileOffset: Int) throws -> [AEDAT4Stream] {
        let text = Array(xml.utf8)
        var stack: [(tag: String, name: String?)] = []
        var found: [UInt32: AEDAT4Stream] = [:]
        var position = 0

        func fail(_ message: String) -> EventDataError {
            EventDataError(.malformed, file: file, byteOffset: fileOffset, message: "IO header description: \(message)")
        }

        while let open = text[position...].firstIndex(of: UInt8(ascii: "<")) {
            guard let close = text[open...].firstIndex(of: UInt8(ascii: ">")) else { throw fail("unclosed tag") }
            position = close + 1
            let inner = String(decoding: text[(open + 1)..<close], as: UTF8.self)
            if inner.hasPrefix("?") || inner.hasPrefix("!") { continue }
            if inner.hasPrefix("/") {
                let tag = String(inner.dropFirst()).trimmingSpaces()
                guard let last = stack.popLast(), last.tag == tag else { throw fail("mismatched </\(tag)>") }
                continue
            }
            let selfClosing = inner.hasSuffix("/")
            let body = selfClosing ? String(inner.dropLast()) : inner
            let tag = String(body.prefix { $0 != " " && $0 != "\t" && $0 != "\n" && $0 != "\r" })
            let attributes = parseAttributes(String(body.dropFirst(tag.count)))
            if tag == "attr", !selfClosing {
                guard let end = text[position...].firstIndex(of: UInt8(ascii: "<")) else { throw fail("unclosed <attr>") }
                let value = unescape(String(decoding: text[position..<end], as: UTF8.self)).trimmingSpaces()
                record(key: attributes["key"] ?? "", value: value, path: stack.map(\.name), into: &found)
                guard let after = text[end...].firstIndex(of: UInt8(ascii: ">")) else { throw fail("unclosed </attr>") }
                position = after + 1
                continue
            }
            if !selfClosing { stack.append((tag, attributes["name"])) }
        }
        return found.values.sorted { $0.id < $1.id }
    }

    /// Files `key = value` under the stream it belongs to, by the node path `dv / outInfo / <id> [/ info]`.
    private static func record(key: String, value: String, path: [String?], into streams: inout [UInt32: AEDAT4Stream]) {
        guard path.count >= 3, path[1] == "outInfo", let idText = path[2], let id = UInt32(idText) else { return }
        var stream = streams[id] ?? AEDAT4Stream(id: id, typeIdentifier: "", sensor: nil, source: nil)
        if path.count == 3, key == "typeIdentifier" {
            stream.typeIdentifier = value
        } else if path.count == 4, path[3] == "info" {
            switch key {
            case "sizeX": stream.sensor = SensorSize(width: Int(value) ?? 0, height: stream.sensor?.height ?? 0)
            case "sizeY": stream.sensor = SensorSize(width: stream.sensor?.width ?? 0, height: Int(value) ?? 0)
            case "source": stream.source = value
            default: break
            }
        }
        streams[id] = stream
    }

    private static func parseAttributes(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        var rest = Substring(text)
        while let equals = rest.firstIndex(of: "=") {
            let name = String(rest[..<equals]).trimmingCharacters(in: .whitespacesAndNewlines)
            var after = rest[rest.index(after: equals)...]
            while let first = after.first, first == " " { after.removeFirst() }
            guard let quote = after.first, quote == "\"" || quote == "'" else { break }
            after.removeFirst()
            guard let end = after.firstIndex(of: quote) else { break }
            result[name] = unescape(String(after[..<end]))
            rest = after[after.index(after: end)...]
        }
        return result
    }

    private static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        return text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}

