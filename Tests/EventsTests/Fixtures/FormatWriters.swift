/// Test-side encoders for each event format, written from the specification tables.

/// AEDAT 3.1: text header, then 28-byte packet headers and 8-byte polarity events
/// (data = x << 17 | y << 2 | pol << 1 | valid; then the low 31 bits of the time).
enum TestAEDAT31 {
    static let header = "#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#Start-Time: 2017-01-01 00:00:00 (TZ+0000)\r\n#!END-HEADER\r\n"

    struct Raw {
        var x: Int, y: Int, p: Int, ts: Int, valid: Int = 1
    }

    static func packetHeader(_ b: inout Bytes, type: Int, size: Int, overflow: Int, capacity: Int, number: Int, valid: Int) {
        b.le16(type)
        b.le16(1)
        b.le32(size)
        b.le32(4)
        b.le32(overflow)
        b.le32(capacity)
        b.le32(number)
        b.le32(valid)
    }

    static func polarityPacket(_ b: inout Bytes, overflow: Int, events: [Raw], extraCapacity: Int = 0) {
        packetHeader(
            &b, type: 1, size: 8, overflow: overflow, capacity: events.count + extraCapacity, number: events.count,
            valid: events.filter { $0.valid == 1 }.count)
        for e in events {
            b.le32(e.x << 17 | e.y << 2 | e.p << 1 | e.valid)
            b.le32(e.ts)
        }
        for _ in 0..<extraCapacity {
            b.le32(0x7FFF_FFFF)  // unused slot garbage
            b.le32(0x7FFF_FFFF)
        }
    }

    /// A type-0 (special event) packet of `count` 8-byte events that readers must skip.
    static func specialPacket(_ b: inout Bytes, count: Int) {
        packetHeader(&b, type: 0, size: 8, overflow: 0, capacity: count, number: count, valid: count)
        for i in 0..<count {
            b.le32(0xDEAD_0000 | i)
            b.le32(1000 + i)
        }
    }

    /// An IMU6 packet (type 3, 36-byte events) to skip.
    static func imuPacket(_ b: inout Bytes, count: Int) {
        packetHeader(&b, type: 3, size: 36, overflow: 0, capacity: count, number: count, valid: count)
        for _ in 0..<(count * 36) { b.u8(0xAB) }
    }
}

/// AEDAT 2.0: header lines, then big-endian (address, timestamp) pairs with DVS128 address bits
/// rawPol = bit 0, rawX = bits 7–1, rawY = bits 14–8.
enum TestAEDAT2 {
    static func file(records: [(rawX: Int, rawY: Int, rawPol: Int, ts: UInt32)], extraHeader: [String] = []) -> [UInt8] {
        var b = Bytes()
        b.ascii("#!AER-DAT2.0\r\n")
        b.ascii("# This is a raw AE data file - do not edit\r\n")
        b.ascii("# Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event\r\n")
        for line in extraHeader { b.ascii(line + "\r\n") }
        b.ascii("# Timestamps tick is 1 us\r\n")
        for r in records {
            b.be32(UInt32(r.rawY << 8 | r.rawX << 1 | r.rawPol))
            b.be32(r.ts)
        }
        return b.data
    }
}

/// ATIS .bin: 5 bytes per event, x, y, pol << 7 | ts[22:16], ts[15:8], ts[7:0]; y == 240 marks overflow.
enum TestATIS {
    enum Record {
        case event(x: Int, y: Int, p: Int, ts: Int)
        case overflow
    }

    static func file(_ records: [Record]) -> [UInt8] {
        var b = Bytes()
        for r in records {
            switch r {
            case .event(let x, let y, let p, let ts):
                b.raw([UInt8(x), UInt8(y), UInt8(p << 7 | (ts >> 16) & 0x7F), UInt8((ts >> 8) & 0xFF), UInt8(ts & 0xFF)])
            case .overflow:
                b.raw([0, 240, 0, 0, 0])
            }
        }
        return b.data
    }
}

/// AEDAT 4.0 with hand-laid FlatBuffers (vtables placed after their tables, unlike the module's
/// writer) and LZ4 frames from ``TestLZ4``.
enum TestAEDAT4 {
    struct Stream {
        var id: Int
        var type: String
        var width: Int
        var height: Int
    }

    static func description(_ streams: [Stream]) -> String {
        var xml = "<?xml version=\"1.0\"?>\n<dv version=\"2.0\">\n  <node name=\"outInfo\" path=\"/mainloop/Recorder/outInfo/\">\n"
        for s in streams {
            xml += "    <node name=\"\(s.id)\" path=\"/mainloop/Recorder/outInfo/\(s.id)/\">\n"
            xml += "      <attr key=\"compression\" type=\"string\">LZ4</attr>\n"
            xml += "      <attr key=\"typeDescription\" type=\"string\">Data &amp; more</attr>\n"
            xml += "      <attr key=\"typeIdentifier\" type=\"string\">\(s.type)</attr>\n"
            if s.type == "EVTS" || s.type == "FRME" {
                xml += "      <node name=\"info\" path=\"/mainloop/Recorder/outInfo/\(s.id)/info/\">\n"
                xml += "        <attr key=\"sizeX\" type=\"int\">\(s.width)</attr>\n"
                xml += "        <attr key=\"sizeY\" type=\"int\">\(s.height)</attr>\n"
                xml += "        <attr key=\"source\" type=\"string\">DVXplorer_test</attr>\n"
                xml += "      </node>\n"
            }
            xml += "    </node>\n"
        }
        return xml + "  </node>\n</dv>\n"
    }

    /// IOHeader table: compression (field 0), file_data_position (field 1), description (field 2).
    /// Laid out as: root offset, "IOHE", table, vtable, string.
    static func ioHeader(compression: Int, fileDataPosition: Int64?, description: String) -> [UInt8] {
        var b = Bytes()
        b.le32(8)
        b.ascii("IOHE")
        // table at 8: soffset, compression i32 @4, pad, file_data_position i64 @8, description offset @16
        let table = 8
        b.le32(0)  // soffset, patched
        b.le32(compression)
        b.le64(fileDataPosition ?? -1)
        let descriptionField = b.count
        b.le32(0)  // offset to string, patched
        let vtable = b.count
        b.le16(10)
        b.le16(20)
        b.le16(4)
        b.le16(fileDataPosition == nil ? 0 : 8)
        b.le16(16)
        b.pad(to: 4)
        let string = b.count
        let text = Array(description.utf8)
        b.le32(text.count)
        b.raw(text)
        b.u8(0)
        b.pad(to: 4)
        b.patchLE32(table, table - vtable)
        b.patchLE32(descriptionField, string - descriptionField)
        return b.data
    }

    /// A size-prefixed EventPacket: root, "EVTS", table (soffset, vector offset), vtable, vector.
    static func eventPacket(_ events: [(t: Int64, x: Int, y: Int, on: Bool)]) -> [UInt8] {
        var b = Bytes()
        b.le32(0)  // size prefix, patched
        let base = 4
        b.le32(8)  // root table at buffer offset 8
        b.ascii("EVTS")
        let table = b.count - base
        b.le32(0)  // soffset, patched
        let vectorField = b.count - base
        b.le32(0)  // vector offset, patched
        let vtable = b.count - base
        b.le16(6)
        b.le16(8)
        b.le16(4)
        b.le16(0)  // padding
        while (b.count - base) % 8 != 4 { b.u8(0) }
        let vector = b.count - base
        b.le32(events.count)
        for e in events {
            b.le64(e.t)
            b.le16(e.x)
            b.le16(e.y)
            b.raw([e.on ? 1 : 0, 0, 0, 0])
        }
        b.patchLE32(base + table, table - vtable)
        b.patchLE32(base + vectorField, vector - vectorField)
        b.patchLE32(0, b.count - 4)
        return b.data
    }

    /// A whole file: magic, header, packets (stream id, payload), optional trailing file-data table.
    /// `xml` replaces the description built from `streams` (crafted headers).
    static func file(
        streams: [Stream], compression: Int, packets: [(stream: Int, payload: [UInt8])], trailer: [UInt8]? = nil,
        xml: String? = nil
    ) -> [UInt8] {
        var b = Bytes()
        b.ascii("#!AER-DAT4.0\r\n")
        let text = xml ?? description(streams)
        // The header size depends on file_data_position's digits only through the value; compute twice.
        var position: Int64? = nil
        var header = ioHeader(compression: compression, fileDataPosition: position, description: text)
        if trailer != nil {
            let packetBytes = packets.reduce(0) { $0 + 8 + $1.payload.count }
            position = Int64(14 + 4 + header.count + packetBytes)
            header = ioHeader(compression: compression, fileDataPosition: position, description: text)
        }
        b.le32(header.count)
        b.raw(header)
        for packet in packets {
            b.le32(packet.stream)
            b.le32(packet.payload.count)
            b.raw(packet.payload)
        }
        if let trailer { b.raw(trailer) }
        return b.data
    }
}
