import Events
import Foundation
import Testing

struct AEDAT31ReaderTests {
    /// Two polarity packets (the second with overflow 1), a special-event packet and an IMU packet to
    /// skip, and a packet with unused capacity.
    static func fixture() -> (bytes: [UInt8], expected: [Event]) {
        var b = Bytes()
        b.ascii(TestAEDAT31.header)
        TestAEDAT31.polarityPacket(
            &b, overflow: 0,
            events: [
                .init(x: 49, y: 82, p: 1, ts: 80_048_267), .init(x: 55, y: 92, p: 0, ts: 80_048_277),
                .init(x: 127, y: 0, p: 0, ts: 80_048_278),
            ])
        TestAEDAT31.specialPacket(&b, count: 2)
        TestAEDAT31.imuPacket(&b, count: 1)
        TestAEDAT31.polarityPacket(
            &b, overflow: 1, events: [.init(x: 0, y: 127, p: 1, ts: 5), .init(x: 60, y: 96, p: 1, ts: 0x7FFF_FFFF)],
            extraCapacity: 2)
        let expected = [
            Event(x: 49, y: 82, t: 80_048_267, p: 1), Event(x: 55, y: 92, t: 80_048_277, p: 0),
            Event(x: 127, y: 0, t: 80_048_278, p: 0), Event(x: 0, y: 127, t: 5 | 1 << 31, p: 1),
            Event(x: 60, y: 96, t: 0x7FFF_FFFF | 1 << 31, p: 1),
        ]
        return (b.data, expected)
    }

    @Test func decodesPolarityPacketsWithOverflowAndSkipsOthers() throws {
        let dir = TemporaryDirectory()
        let (bytes, expected) = Self.fixture()
        let path = dir.write("user01_test.aedat", bytes)
        let stream = try AEDAT31Reader.read(path: path)
        #expect(stream.events == expected)
        #expect(stream.sensor == .dvs128)
        let detected = try EventFile.read(path: path)
        #expect(detected == stream)
    }

    @Test func invalidEventsAreKeptByDefaultAndDroppedOnRequest() throws {
        var b = Bytes()
        b.ascii(TestAEDAT31.header)
        TestAEDAT31.polarityPacket(
            &b, overflow: 0,
            events: [.init(x: 1, y: 2, p: 1, ts: 10), .init(x: 3, y: 4, p: 0, ts: 11, valid: 0), .init(x: 5, y: 6, p: 1, ts: 12)])
        let dir = TemporaryDirectory()
        let path = dir.write("a.aedat", b.data)
        #expect(try AEDAT31Reader.read(path: path).count == 3)
        let strict = try AEDAT31Reader.read(path: path, options: .init(skipInvalidEvents: true))
        #expect(strict.events == [Event(x: 1, y: 2, t: 10, p: 1), Event(x: 5, y: 6, t: 12, p: 1)])
    }

    @Test func acceptsNewlineOnlyHeaderAndUnknownSource() throws {
        var b = Bytes()
        b.ascii("#!AER-DAT3.1\n#Format: RAW\n#Source 1: SomeCamera\n#!END-HEADER\n")
        TestAEDAT31.polarityPacket(&b, overflow: 0, events: [.init(x: 300, y: 200, p: 1, ts: 1)])
        let dir = TemporaryDirectory()
        let stream = try AEDAT31Reader.read(path: dir.write("a.aedat", b.data))
        #expect(stream.events == [Event(x: 300, y: 200, t: 1, p: 1)])
        #expect(stream.sensor == SensorSize(width: 301, height: 201))
    }

    @Test func truncatedPacketNamesItsOffset() throws {
        let (bytes, _) = Self.fixture()
        let headerLength = TestAEDAT31.header.utf8.count
        let dir = TemporaryDirectory()
        let path = dir.write("cut.aedat", Array(bytes[0..<(headerLength + 28 + 10)]))
        let error = try #require(throws: EventDataError.self) { try AEDAT31Reader.read(path: path) }
        #expect(error.code == .truncated)
        #expect(error.byteOffset == headerLength)
        #expect(error.file == path)
        // Cut inside the next packet header.
        let path2 = dir.write("cut2.aedat", Array(bytes[0..<(headerLength + 28 + 24 + 5)]))
        let error2 = try #require(throws: EventDataError.self) { try AEDAT31Reader.read(path: path2) }
        #expect(error2.code == .truncated)
        #expect(error2.byteOffset == headerLength + 28 + 24)
    }

    @Test func truncatedHeaderAndWrongVersionAndMagic() throws {
        let dir = TemporaryDirectory()
        let noEnd = dir.write("a.aedat", text: "#!AER-DAT3.1\r\n#Format: RAW\r\n")
        #expect(throws: EventDataError.self) { try AEDAT31Reader.read(path: noEnd) }
        let error = try #require(throws: EventDataError.self) { try AEDAT31Reader.read(path: noEnd) }
        #expect(error.code == .truncated)

        let old = dir.write("b.aedat", text: "#!AER-DAT3.0\r\n#!END-HEADER\r\n")
        #expect(try #require(throws: EventDataError.self) { try AEDAT31Reader.read(path: old) }.code == .unsupportedVersion)
        #expect(try #require(throws: EventDataError.self) { try EventFile.read(path: old) }.code == .unsupportedVersion)

        let junk = dir.write("c.aedat", text: "hello world\n")
        #expect(try #require(throws: EventDataError.self) { try AEDAT31Reader.read(path: junk) }.code == .badMagic)
        #expect(try #require(throws: EventDataError.self) { try EventFile.read(path: junk) }.code == .badMagic)
    }

    @Test func coordinateOutsideSensorNamesTheEvent() throws {
        var b = Bytes()
        b.ascii(TestAEDAT31.header)
        let headerLength = b.count
        TestAEDAT31.polarityPacket(&b, overflow: 0, events: [.init(x: 5, y: 5, p: 1, ts: 1), .init(x: 130, y: 5, p: 1, ts: 2)])
        let dir = TemporaryDirectory()
        let path = dir.write("a.aedat", b.data)
        let error = try #require(throws: EventDataError.self) { try AEDAT31Reader.read(path: path) }
        #expect(error.code == .coordinateOutOfRange)
        #expect(error.byteOffset == headerLength + 28 + 8)
    }

    @Test func polarityPacketWithWrongEventSizeIsMalformed() throws {
        var b = Bytes()
        b.ascii(TestAEDAT31.header)
        TestAEDAT31.packetHeader(&b, type: 1, size: 12, overflow: 0, capacity: 1, number: 1, valid: 1)
        b.raw([UInt8](repeating: 0, count: 12))
        let dir = TemporaryDirectory()
        let error = try #require(throws: EventDataError.self) { try AEDAT31Reader.read(path: dir.write("a.aedat", b.data)) }
        #expect(error.code == .malformed)
    }

    @Test func missingFileIsReported() throws {
        let error = try #require(throws: EventDataError.self) { try EventFile.read(path: "/nonexistent/x.aedat") }
        #expect(error.code == .missingFile)
        #expect(error.file == "/nonexistent/x.aedat")
    }
}

struct AEDAT2ReaderTests {
    static let records: [(rawX: Int, rawY: Int, rawPol: Int, ts: UInt32)] = [
        (0, 0, 0, 10), (127, 0, 1, 20), (3, 100, 0, 30), (64, 127, 1, 4_000_000_000),
    ]

    @Test func spikingJellyOrientation() throws {
        let dir = TemporaryDirectory()
        let path = dir.write("cifar10_cat_0.aedat", TestAEDAT2.file(records: Self.records))
        let stream = try AEDAT2Reader.read(path: path)
        // SpikingJelly: x = 127 − rawY, y = 127 − rawX, p = 1 − rawPol.
        #expect(
            stream.events == [
                Event(x: 127, y: 127, t: 10, p: 1), Event(x: 127, y: 0, t: 20, p: 0), Event(x: 27, y: 124, t: 30, p: 1),
                Event(x: 0, y: 63, t: 4_000_000_000, p: 0),
            ])
        #expect(stream.sensor == .dvs128)
        #expect(try EventFile.read(path: path) == stream)
    }

    @Test func jaerOrientation() throws {
        let dir = TemporaryDirectory()
        let path = dir.write("a.aedat", TestAEDAT2.file(records: Self.records))
        let stream = try AEDAT2Reader.read(path: path, options: .init(orientation: .jaer))
        // jAER: x = 127 − rawX, y = rawY, ON ⇔ rawPol == 0.
        #expect(
            stream.events == [
                Event(x: 127, y: 0, t: 10, p: 1), Event(x: 0, y: 0, t: 20, p: 0), Event(x: 124, y: 100, t: 30, p: 1),
                Event(x: 63, y: 127, t: 4_000_000_000, p: 0),
            ])
        let raw = try AEDAT2Reader.read(path: path, options: .init(orientation: .raw))
        #expect(raw.events.map { [Int($0.x), Int($0.y), Int($0.p)] } == Self.records.map { [$0.rawX, $0.rawY, $0.rawPol] })
    }

    @Test func specialEventsKeptUnlessDropped() throws {
        var bytes = TestAEDAT2.file(records: [(1, 1, 0, 1)])
        var extra = Bytes()
        extra.be32(0x8000_0000 | 5)  // jAER special event
        extra.be32(2)
        bytes += extra.data
        let dir = TemporaryDirectory()
        let path = dir.write("a.aedat", bytes)
        #expect(try AEDAT2Reader.read(path: path).count == 2)
        #expect(try AEDAT2Reader.read(path: path, options: .init(dropSpecialEvents: true)).count == 1)
    }

    @Test func partialRecordIsTruncation() throws {
        let bytes = TestAEDAT2.file(records: Self.records)
        let dir = TemporaryDirectory()
        let path = dir.write("a.aedat", Array(bytes.dropLast(3)))
        let error = try #require(throws: EventDataError.self) { try AEDAT2Reader.read(path: path) }
        #expect(error.code == .truncated)
        #expect(error.byteOffset == bytes.count - 8)
    }

    @Test func headerOnlyFileIsEmpty() throws {
        let dir = TemporaryDirectory()
        let stream = try AEDAT2Reader.read(path: dir.write("a.aedat", TestAEDAT2.file(records: [])))
        #expect(stream.isEmpty)
    }
}

struct ATISBinReaderTests {
    @Test func decodesEventsAndOverflowRecords() throws {
        let records: [TestATIS.Record] = [
            .event(x: 1, y: 2, p: 1, ts: 100), .event(x: 33, y: 33, p: 0, ts: 0x7F_FFFF), .overflow,
            .event(x: 0, y: 0, p: 1, ts: 5), .overflow, .overflow, .event(x: 239, y: 179, p: 0, ts: 0x12_3456),
        ]
        let dir = TemporaryDirectory()
        let path = dir.write("image_0001.bin", TestATIS.file(records))
        let stream = try ATISBinReader.read(path: path)
        #expect(
            stream.events == [
                Event(x: 1, y: 2, t: 100, p: 1), Event(x: 33, y: 33, t: 0x7F_FFFF, p: 0),
                Event(x: 0, y: 0, t: 5 + (1 << 23), p: 1), Event(x: 239, y: 179, t: 0x12_3456 + 3 << 23, p: 0),
            ])
        #expect(try EventFile.read(path: path) == stream)
        let tonic = try ATISBinReader.read(path: path, options: .init(overflowIncrement: 1 << 13))
        #expect(tonic.t[3] == 0x12_3456 + 3 << 13)
    }

    @Test func outOfSensorAndTruncation() throws {
        let dir = TemporaryDirectory()
        let path = dir.write("a.bin", TestATIS.file([.event(x: 1, y: 1, p: 0, ts: 1), .event(x: 34, y: 3, p: 0, ts: 2)]))
        let error = try #require(throws: EventDataError.self) {
            try ATISBinReader.read(path: path, options: .init(sensor: .nMNIST))
        }
        #expect(error.code == .coordinateOutOfRange)
        #expect(error.byteOffset == 5)
        let cut = dir.write("b.bin", Array(TestATIS.file([.event(x: 1, y: 1, p: 0, ts: 1)]) + [7, 7]))
        let error2 = try #require(throws: EventDataError.self) { try ATISBinReader.read(path: cut) }
        #expect(error2.code == .truncated)
        #expect(error2.byteOffset == 5)
    }
}

struct AEDAT4ReaderTests {
    static let events: [(t: Int64, x: Int, y: Int, on: Bool)] = (0..<300).map { (i: Int) -> (t: Int64, x: Int, y: Int, on: Bool) in
        let t: Int64 = 1_700_000_000_000_000 + Int64(i * 37)
        return (t: t, x: (i * 7) % 640, y: (i * 13) % 480, on: i % 3 == 0)
    }

    static var expected: [Event] {
        events.map { Event(x: UInt16($0.x), y: UInt16($0.y), t: $0.t, p: $0.on ? 1 : 0) }
    }

    static let streams = [
        TestAEDAT4.Stream(id: 0, type: "FRME", width: 640, height: 480),
        TestAEDAT4.Stream(id: 2, type: "EVTS", width: 640, height: 480),
        TestAEDAT4.Stream(id: 3, type: "IMUS", width: 0, height: 0),
    ]

    @Test func lz4CompressedPacketsAcrossStreams() throws {
        let first = TestAEDAT4.eventPacket(Array(Self.events[0..<200]))
        let second = TestAEDAT4.eventPacket(Array(Self.events[200...]))
        let bytes = TestAEDAT4.file(
            streams: Self.streams, compression: 1,
            packets: [
                (0, TestLZ4.frame([UInt8](repeating: 9, count: 100))), (2, TestLZ4.frame(first)),
                (3, TestLZ4.frame([1, 2, 3, 4, 5, 6, 7, 8])), (2, TestLZ4.frame(second, store: true)),
            ],
            trailer: [UInt8](repeating: 0xEE, count: 40))
        let dir = TemporaryDirectory()
        let path = dir.write("recording.aedat4", bytes)
        let stream = try AEDAT4Reader.read(path: path)
        #expect(stream.events == Self.expected)
        #expect(stream.sensor == SensorSize(width: 640, height: 480))
        #expect(try EventFile.read(path: path) == stream)
    }

    @Test func uncompressedPackets() throws {
        let bytes = TestAEDAT4.file(
            streams: Self.streams, compression: 0, packets: [(2, TestAEDAT4.eventPacket(Self.events))])
        let dir = TemporaryDirectory()
        #expect(try AEDAT4Reader.read(path: dir.write("a.aedat4", bytes)).events == Self.expected)
    }

    @Test func compressedFixtureReallyCompresses() {
        let packet = TestAEDAT4.eventPacket(Self.events)
        #expect(TestLZ4.compressBlock(packet).count < packet.count * 3 / 4)
    }

    @Test func zstdIsUnsupportedAndTruncationIsReported() throws {
        let dir = TemporaryDirectory()
        let zstd = TestAEDAT4.file(streams: Self.streams, compression: 3, packets: [])
        let error = try #require(throws: EventDataError.self) { try AEDAT4Reader.read(path: dir.write("z.aedat4", zstd)) }
        #expect(error.code == .unsupportedCompression)

        let good = TestAEDAT4.file(streams: Self.streams, compression: 1, packets: [(2, TestLZ4.frame(TestAEDAT4.eventPacket(Self.events)))])
        let cut = dir.write("cut.aedat4", Array(good.dropLast(20)))
        let error2 = try #require(throws: EventDataError.self) { try AEDAT4Reader.read(path: cut) }
        #expect(error2.code == .truncated)

        var corrupt = good
        corrupt[corrupt.count - 30] ^= 0xFF
        corrupt[corrupt.count - 31] ^= 0xFF
        let bad = dir.write("bad.aedat4", corrupt)
        #expect(throws: EventDataError.self) { try AEDAT4Reader.read(path: bad) }
    }

    @Test func eventOutsideDeclaredSensor() throws {
        let packet = TestAEDAT4.eventPacket([(t: 1, x: 700, y: 3, on: true)])
        let bytes = TestAEDAT4.file(streams: Self.streams, compression: 0, packets: [(2, packet)])
        let dir = TemporaryDirectory()
        let error = try #require(throws: EventDataError.self) { try AEDAT4Reader.read(path: dir.write("a.aedat4", bytes)) }
        #expect(error.code == .coordinateOutOfRange)
    }
}

struct WriterRoundTripTests {
    @Test(arguments: EventFileFormat.allCases)
    func moduleWritersInvertReaders(format: EventFileFormat) throws {
        var rng = SplitMixForTests(seed: 7)
        let sensor = format == .atisBin ? SensorSize(width: 34, height: 34) : SensorSize.dvs128
        var t: Int64 = format == .aedat31 ? (1 << 31) - 500 : 0
        var events: [Event] = []
        for _ in 0..<5000 {
            t += Int64(rng.next() % 3000)
            events.append(
                Event(
                    x: UInt16(rng.next() % UInt64(sensor.width)), y: UInt16(rng.next() % UInt64(sensor.height)), t: t,
                    p: UInt8(rng.next() & 1)))
        }
        let stream = EventStream(events, sensor: sensor)
        let dir = TemporaryDirectory()
        let path = dir.file("a.\(format == .atisBin ? "bin" : "aedat")")
        try EventFileWriter.write(stream, to: path, as: format)
        let back = try EventFile.read(path: path, options: .init(sensor: sensor))
        #expect(back.events == events)
    }
}

/// A tiny deterministic generator for test data (independent of the module's RNG use).
struct SplitMixForTests {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
