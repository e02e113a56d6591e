import Foundation

/// One stream listed in an AEDAT 4 IO header.
public struct AEDAT4Stream: Hashable, Sendable {
    public var id: UInt32
    /// `EVTS`, `FRME`, `IMUS`, `TRIG`, …
    public var typeIdentifier: String
    /// The sensor (EVTS and FRME streams), from the `info` node's `sizeX` and `sizeY`; both sides are
    /// in 1 … ``ReaderLimits/maxSensorSide`` (an EVTS stream that declares anything else is an error).
    public var sensor: SensorSize?
    /// The `info` node's `source`, e.g. `DVXplorer_DXA00093`.
    public var source: String?
}

/// Reads the streams out of the XML `description` of an AEDAT 4 IO header.
///
/// DV writes `<dv version="2.0"><node name="outInfo"><node name="<id>"><attr key="typeIdentifier">EVTS</attr>
/// <node name="info"><attr key="sizeX">…</attr><attr key="sizeY">…</attr>…`. This scanner understands
/// exactly that shape (elements, attributes, text, the five predefined entities, comments and
/// processing instructions) rather than pulling in an XML library for it. It expands no other entity
/// (so no "billion laughs"), nests at most ``ReaderLimits/maxXMLDepth`` deep (the caller bounds the
/// text to ``ReaderLimits/maxHeaderBytes``), and checks the declared sensor sizes.
enum AEDAT4Description {
    /// What the XML says about one stream, before the sensor size is checked.
    private struct Declared {
        var typeIdentifier = ""
        var sizeX: String?
        var sizeY: String?
        var source: String?
    }

    static func streams(in xml: String, file: String, fileOffset: Int, limits: ReaderLimits = .default) throws
        -> [AEDAT4Stream]
    {
        let text = Array(xml.utf8)
        var stack: [(tag: String, name: String?)] = []
        var found: [UInt32: Declared] = [:]
        var position = 0

        func fail(_ message: String, _ code: EventDataError.Code = .malformed) -> EventDataError {
            EventDataError(code, file: file, byteOffset: fileOffset, message: "IO header description: \(message)")
        }

        while let open = text[position...].firstIndex(of: UInt8(ascii: "<")) {
            guard let close = text[open...].firstIndex(of: UInt8(ascii: ">")) else { throw fail("unclosed tag") }
            position = close + 1
            let inner = String(decoding: text[(open + 1)..<close], as: UTF8.self)
            if inner.hasPrefix("?") || inner.hasPrefix("!") { continue }
            if inner.hasPrefix("/") {
                let tag = String(inner.dropFirst()).trimmingSpaces()
                guard let last = stack.popLast(), last.tag == tag else { throw fail("mismatched </\(tag.prefix(64))>") }
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
            if !selfClosing {
                guard stack.count < limits.maxXMLDepth else {
                    throw fail("elements nest deeper than \(limits.maxXMLDepth) levels", .limitExceeded)
                }
                stack.append((tag, attributes["name"]))
            }
        }
        return try found.sorted { $0.key < $1.key }.map { id, declared in
            // Only event streams are read, so only theirs must be valid; another stream's odd size is
            // left out rather than failing the file.
            let size =
                declared.typeIdentifier == "EVTS"
                ? try sensor(declared, stream: id, limits: limits, fail: { fail($0) })
                : try? sensor(declared, stream: id, limits: limits, fail: { fail($0) })
            return AEDAT4Stream(id: id, typeIdentifier: declared.typeIdentifier, sensor: size, source: declared.source)
        }
    }

    /// The stream's sensor when it declares one: `sizeX` and `sizeY` both integers in `1…maxSensorSide`.
    private static func sensor(
        _ declared: Declared, stream id: UInt32, limits: ReaderLimits, fail: (String) -> EventDataError
    ) throws -> SensorSize? {
        switch (declared.sizeX, declared.sizeY) {
        case (nil, nil):
            return nil
        case (let x?, let y?):
            func side(_ text: String, _ key: String) throws -> Int {
                guard let value = Int(text), limits.accepts(side: value) else {
                    throw fail("stream \(id) declares \(key) `\(text.prefix(32))`, not a sensor side in 1…\(limits.maxSensorSide)")
                }
                return value
            }
            return SensorSize(width: try side(x, "sizeX"), height: try side(y, "sizeY"))
        default:
            throw fail("stream \(id) declares only one of sizeX and sizeY")
        }
    }

    /// Files `key = value` under the stream it belongs to, by the node path `dv / outInfo / <id> [/ info]`.
    private static func record(key: String, value: String, path: [String?], into streams: inout [UInt32: Declared]) {
        guard path.count >= 3, path[1] == "outInfo", let idText = path[2], let id = UInt32(idText) else { return }
        var stream = streams[id] ?? Declared()
        if path.count == 3, key == "typeIdentifier" {
            stream.typeIdentifier = value
        } else if path.count == 4, path[3] == "info" {
            switch key {
            case "sizeX": stream.sizeX = value
            case "sizeY": stream.sizeY = value
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
