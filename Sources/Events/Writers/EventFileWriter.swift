import Foundation

/// Writes event streams in the formats the readers decode: the synthetic gesture set as real AEDAT
/// 3.1 recordings, `spikeq bench data` inputs, and conversions.
///
/// Each writer is the exact inverse of its reader with default options, so read(write(s)) == s for
/// every stream the format can represent; anything it cannot represent is an error, never clamped.
public enum EventFileWriter {
    /// Encodes `stream` as a whole file.
    ///
    /// - Parameters:
    ///   - orientation: AEDAT 2.0 only: the mapping the reader will apply (the writer inverts it).
    ///   - compressed: AEDAT 4 only: LZ4-compress packets (as DV does by default).
    public static func encode(
        _ stream: EventStream, as format: EventFileFormat, orientation: DVS128Orientation = .spikingjelly,
        compressed: Bool = true, eventsPerPacket: Int = 4096
    ) throws -> [UInt8] {
        switch format {
        case .aedat31: try aedat31(stream, eventsPerPacket: eventsPerPacket)
        case .aedat2: try aedat2(stream, orientation: orientation)
        case .atisBin: try atisBin(stream)
        case .aedat4: try aedat4(stream, compressed: compressed, eventsPerPacket: eventsPerPacket)
        }
    }

    /// Writes `stream` to `path` (atomically: a temporary file renamed into place).
    public static func write(
        _ stream: EventStream, to path: String, as format: EventFileFormat, orientation: DVS128Orientation = .spikingjelly,
        compressed: Bool = true
    ) throws {
        let bytes = try encode(stream, as: format, orientation: orientation, compressed: compressed)
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw EventDataError(.unreadable, file: path, message: "cannot write: \(error.localizedDescription)")
        }
    }

    static func unrepresentable(_ format: EventFileFormat, _ message: String) -> EventDataError {
        EventDataError(.malformed, file: "(\(format) writer)", message: message)
    }

    // MARK: AEDAT 3.1

    static func aedat31(_ stream: EventStream, eventsPerPacket: Int) throws -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(200 + stream.count * 8 + (stream.count / max(eventsPerPacket, 1) + 2) * 28)
        let header =
            "#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#Start-Time: 2017-01-01 00:00:00 (TZ+0000)\r\n#!END-HEADER\r\n"
        out += Array(header.utf8)
        var start = 0
        while start < stream.count {
            guard stream.t[start] >= 0 else { throw unrepresentable(.aedat31, "negative timestamp \(stream.t[start])") }
            let overflow = stream.t[start] >> 31
            var end = start
            while end < stream.count, end - start < eventsPerPacket, stream.t[end] >= 0, stream.t[end] >> 31 == overflow {
                end += 1
            }
            let n = Int32(end - start)
            appendLE(&out, Int16(1))  // polarity events
            appendLE(&out, Int16(1))  // source
            appendLE(&out, Int32(8))
            appendLE(&out, Int32(4))
            appendLE(&out, Int32(truncatingIfNeeded: overflow))
            appendLE(&out, n)
            appendLE(&out, n)
            appendLE(&out, n)
            for i in start..<end {
                guard stream.x[i] < 0x8000, stream.y[i] < 0x8000 else {
                    throw unrepresentable(.aedat31, "coordinate (\(stream.x[i]), \(stream.y[i])) needs more than 15 bits")
                }
                let data = UInt32(stream.x[i]) << 17 | UInt32(stream.y[i]) << 2 | UInt32(stream.p[i] & 1) << 1 | 1
                appendLE(&out, data)
                appendLE(&out, UInt32(stream.t[i] & 0x7FFF_FFFF))
            }
            start = end
        }
        return out
    }

    // MARK: AEDAT 2.0

    static func aedat2(_ stream: EventStream, orientation: DVS128Orientation) throws -> [UInt8] {
        var out = Array("#!AER-DAT2.0\r\n# This is a raw AE data file created by spikeq\r\n# Timestamps tick is 1 us\r\n".utf8)
        out.reserveCapacity(out.count + stream.count * 8)
        for i in 0..<stream.count {
            let x = Int(stream.x[i])
            let y = Int(stream.y[i])
            let p = Int(stream.p[i] & 1)
            guard x < 128, y < 128 else { throw unrepresentable(.aedat2, "(\(x), \(y)) is outside the DVS128 sensor") }
            guard stream.t[i] >= 0, stream.t[i] <= Int64(UInt32.max) else {
                throw unrepresentable(.aedat2, "timestamp \(stream.t[i]) does not fit 32 bits")
            }
            let (rawX, rawY, rawP): (Int, Int, Int)
            switch orientation {
            case .spikingjelly: (rawX, rawY, rawP) = (127 - y, 127 - x, 1 - p)
            case .jaer: (rawX, rawY, rawP) = (127 - x, y, 1 - p)
            case .raw: (rawX, rawY, rawP) = (x, y, p)
            }
            appendBE(&out, UInt32(rawY << 8 | rawX << 1 | rawP))
            appendBE(&out, UInt32(stream.t[i]))
        }
        return out
    }

    // MARK: ATIS .bin

    static func atisBin(_ stream: EventStream) throws -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(stream.count * 5 + 64)
        var epoch: Int64 = 0
        for i in 0..<stream.count {
            let t = stream.t[i]
            guard t >= epoch << 23 else { throw unrepresentable(.atisBin, "timestamps must not decrease across a 2^23 µs wrap") }
            while t >= (epoch + 1) << 23 {
                out += [0, ATISBinReader.overflowMarker, 0, 0, 0]
                epoch += 1
            }
            guard stream.x[i] < 256, stream.y[i] < 240 else {
                throw unrepresentable(.atisBin, "(\(stream.x[i]), \(stream.y[i])) does not fit (x < 256, y < 240)")
            }
            let stamp = t - epoch << 23
            out.append(UInt8(stream.x[i]))
            out.append(UInt8(stream.y[i]))
            out.append(UInt8((stream.p[i] & 1) << 7) | UInt8(stamp >> 16))
            out.append(UInt8(truncatingIfNeeded: stamp >> 8))
            out.append(UInt8(truncatingIfNeeded: stamp))
        }
        return out
    }

    // MARK: AEDAT 4.0

    static func aedat4(_ stream: EventStream, compressed: Bool, eventsPerPacket: Int) throws -> [UInt8] {
        var out = AEDAT4Reader.magic
        let description = """
            <dv version="2.0">
                <node name="outInfo" path="/mainloop/Recorder/outInfo/">
                    <node name="0" path="/mainloop/Recorder/outInfo/0/">
                        <attr key="compression" type="string">\(compressed ? "LZ4" : "NONE")</attr>
                        <attr key="originalOutputName" type="string">events</attr>
                        <attr key="typeDescription" type="string">Array of events (polarity ON/OFF).</attr>
                        <attr key="typeIdentifier" type="string">EVTS</attr>
                        <node name="info" path="/mainloop/Recorder/outInfo/0/info/">
                            <attr key="sizeX" type="int">\(stream.sensor.width)</attr>
                            <attr key="sizeY" type="int">\(stream.sensor.height)</attr>
                            <attr key="source" type="string">spikeq</attr>
                            <attr key="tsOffset" type="long">0</attr>
                        </node>
                    </node>
                </node>
            </dv>

            """
        let header = ioHeader(compression: compressed ? 1 : 0, description: description)
        appendLE(&out, UInt32(header.count))
        out += header
        var start = 0
        while start < stream.count {
            let end = min(stream.count, start + eventsPerPacket)
            var packet = eventPacket(stream, start..<end)
            if compressed { packet = try packet.withUnsafeBytes { try LZ4FrameEncoder.compress($0) } }
            appendLE(&out, UInt32(0))
            appendLE(&out, UInt32(packet.count))
            out += packet
            start = end
        }
        return out
    }

    /// The IO header FlatBuffer. Layout: root offset (20), `IOHE`, the vtable at 8 (size 10, table size 12,
    /// compression at +4, no file_data_position, description at +8), padding, the table at 20, and the
    /// description string at 32.
    static func ioHeader(compression: Int32, description: String) -> [UInt8] {
        var b = [UInt8]()
        appendLE(&b, UInt32(20))
        b += Array("IOHE".utf8)
        for field: UInt16 in [10, 12, 4, 0, 8] { appendLE(&b, field) }
        b += [0, 0]
        appendLE(&b, Int32(20 - 8))  // table − vtable
        appendLE(&b, compression)
        appendLE(&b, UInt32(4))  // from offset 28 to the string at 32
        let text = Array(description.utf8)
        appendLE(&b, UInt32(text.count))
        b += text
        b.append(0)
        while b.count % 4 != 0 { b.append(0) }
        return b
    }

    /// A size-prefixed `EventPacket` FlatBuffer holding `stream[range]`.
    static func eventPacket(_ stream: EventStream, _ range: Range<Int>) -> [UInt8] {
        var b = [UInt8]()
        b.reserveCapacity(40 + range.count * AEDAT4Reader.eventSize)
        appendLE(&b, UInt32(0))  // size prefix, patched below
        // Buffer proper starts at 4: root offset, identifier, vtable (8 bytes), table, vector.
        appendLE(&b, UInt32(16))  // root table at buffer offset 16
        b += Array("EVTS".utf8)
        appendLE(&b, UInt16(6))  // vtable size
        appendLE(&b, UInt16(8))  // table size
        appendLE(&b, UInt16(4))  // elements @4
        b += [0, 0]
        appendLE(&b, Int32(16 - 8))  // table at 16, vtable at 8
        appendLE(&b, UInt32(8))  // vector length at buffer offset 20 + 8 = 28, elements at 32 (8-aligned)
        b += [0, 0, 0, 0]
        appendLE(&b, UInt32(range.count))
        for i in range {
            appendLE(&b, stream.t[i])
            appendLE(&b, Int16(bitPattern: stream.x[i]))
            appendLE(&b, Int16(bitPattern: stream.y[i]))
            b += [stream.p[i] != 0 ? 1 : 0, 0, 0, 0]
        }
        b.replaceSubrange(0..<4, with: le(UInt32(b.count - 4)))
        return b
    }
}

@inline(__always)
func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

@inline(__always)
func appendLE<T: FixedWidthInteger>(_ out: inout [UInt8], _ value: T) {
    withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
}

@inline(__always)
func appendBE<T: FixedWidthInteger>(_ out: inout [UInt8], _ value: T) {
    withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) }
}
