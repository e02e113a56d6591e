import Foundation

/// Hostile event files, each a valid file from the format specifications with one field crafted.
/// The targeted tests and the `spikeq dataset inspect` process test share them.
enum CraftedFiles {
    /// FRME 0, EVTS 2 (640×480), IMUS 3: the stream layout of the AEDAT 4 reader tests.
    static let streams = [
        TestAEDAT4.Stream(id: 0, type: "FRME", width: 640, height: 480),
        TestAEDAT4.Stream(id: 2, type: "EVTS", width: 640, height: 480),
        TestAEDAT4.Stream(id: 3, type: "IMUS", width: 0, height: 0),
    ]

    typealias RawEvent = (t: Int64, x: Int, y: Int, on: Bool)

    /// `count` ordinary events from 2023 (Unix µs, like DV writes).
    static func ordinary(_ count: Int, from start: Int64 = 1_700_000_000_000_000) -> [RawEvent] {
        (0..<count).map { (i: Int) -> RawEvent in
            let t: Int64 = start + Int64(i * 37)
            return (t: t, x: (i * 7) % 640, y: (i * 13) % 480, on: i % 3 == 0)
        }
    }

    static func lz4File(_ packets: [(stream: Int, events: [RawEvent])], xml: String? = nil) -> [UInt8] {
        TestAEDAT4.file(
            streams: streams, compression: 1,
            packets: packets.map { ($0.stream, TestLZ4.frame(TestAEDAT4.eventPacket($0.events))) }, xml: xml)
    }

    /// An AEDAT 4 file whose event timestamps made `last − first` overflow: what it is called, its
    /// bytes, and the packet (counting every packet) and event the reader must name.
    struct ExtremeTimestamps {
        var name: String
        var bytes: [UInt8]
        var packet: Int
        var event: Int
        var timestamp: Int64
    }

    /// The four crafted files of issue 10: `Int64.min … Int64.max` in one LZ4 packet, the reverse, the
    /// two extremes in separate packets behind a frame packet, and −1 … `Int64.max` uncompressed.
    static var extremeTimestamps: [ExtremeTimestamps] {
        [
            ExtremeTimestamps(
                name: "min-then-max.aedat4",
                bytes: lz4File([(2, [(Int64.min, 1, 1, true), (Int64.max, 2, 2, false)])]), packet: 0, event: 0,
                timestamp: Int64.min),
            ExtremeTimestamps(
                name: "max-then-min.aedat4",
                bytes: lz4File([(2, [(Int64.max, 1, 1, true), (Int64.min, 2, 2, false)])]), packet: 0, event: 0,
                timestamp: Int64.max),
            ExtremeTimestamps(
                name: "extremes-in-two-packets.aedat4",
                bytes: TestAEDAT4.file(
                    streams: streams, compression: 1,
                    packets: [
                        (0, TestLZ4.frame([UInt8](repeating: 7, count: 64))),
                        (2, TestLZ4.frame(TestAEDAT4.eventPacket([(Int64.min, 3, 3, true)] + ordinary(20)))),
                        (2, TestLZ4.frame(TestAEDAT4.eventPacket(ordinary(20) + [(Int64.max, 4, 4, true)]))),
                    ]),
                packet: 1, event: 0, timestamp: Int64.min),
            ExtremeTimestamps(
                name: "minus-one-then-max-uncompressed.aedat4",
                bytes: TestAEDAT4.file(
                    streams: streams, compression: 0,
                    packets: [(2, TestAEDAT4.eventPacket([(-1, 5, 5, false), (Int64.max, 6, 6, true)]))]),
                packet: 0, event: 1, timestamp: Int64.max),
        ]
    }

    /// An LZ4 packet that expands to `outputBytes` zero bytes (not even an event packet: the cap must
    /// refuse it before anything parses it).
    static func bomb(outputBytes: Int) -> [UInt8] {
        TestAEDAT4.file(streams: streams, compression: 1, packets: [(2, TestLZ4.bomb(outputBytes: outputBytes))])
    }

    /// An LZ4 packet whose frame header declares `contentSize` bytes.
    static func declaredBomb(contentSize: UInt64) -> [UInt8] {
        TestAEDAT4.file(
            streams: streams, compression: 1,
            packets: [(2, TestLZ4.frame(TestAEDAT4.eventPacket(ordinary(4)), declaring: contentSize))])
    }

    /// The DV description with `depth` extra nested `<node>`s inside the event stream's node.
    static func deeplyNestedXML(depth: Int) -> String {
        let normal = TestAEDAT4.description(streams)
        let open = String(repeating: "<node name=\"n\">", count: depth)
        let close = String(repeating: "</node>", count: depth)
        return normal.replacingOccurrences(of: "</dv>", with: open + close + "</dv>")
    }

    /// The DV description with the event stream's `sizeX` replaced by `value`.
    static func sensorXML(sizeX value: String) -> String {
        TestAEDAT4.description(streams).replacingOccurrences(
            of: "<attr key=\"sizeX\" type=\"int\">640</attr>", with: "<attr key=\"sizeX\" type=\"int\">\(value)</attr>")
    }

    /// An AEDAT 3.1 file whose one polarity packet declares `capacity` slots and `number` events but
    /// holds two.
    static func aedat31(capacity: Int, number: Int, size: Int = 8, overflow: Int = 0) -> [UInt8] {
        var b = Bytes()
        b.ascii(TestAEDAT31.header)
        TestAEDAT31.packetHeader(&b, type: 1, size: size, overflow: overflow, capacity: capacity, number: number, valid: 2)
        for i in 0..<2 {
            b.le32(i << 17 | i << 2 | 1)
            b.le32(100 + i)
        }
        return b.data
    }
}
