import Events
import Foundation
import Testing

/// Hostile files each give the one named error they deserve, and refuse before they allocate.
struct ExtremeTimestampTests {
    @Test(arguments: CraftedFiles.extremeTimestamps.map(\.name))
    func readerNamesPacketEventAndTimestamp(name: String) throws {
        let crafted = try #require(CraftedFiles.extremeTimestamps.first { $0.name == name })
        let error = try #require(throws: EventDataError.self) {
            try crafted.bytes.withUnsafeBytes { try EventFile.decode($0, path: name, format: .aedat4) }
        }
        #expect(error.code == .timestampOutOfRange)
        #expect(error.file == name)
        #expect(error.packet == crafted.packet)
        #expect(error.message.contains("event \(crafted.event) of the packet has timestamp \(crafted.timestamp) µs"))
        // The summary (`spikeq dataset inspect`) reports the same error instead of trapping on last − first.
        let summaryError = try #require(throws: EventDataError.self) {
            try crafted.bytes.withUnsafeBytes { try EventFileSummary.inspect(bytes: $0, path: name) }
        }
        #expect(summaryError == error)
    }

    /// The packet offset in the error is where the packet header starts.
    @Test func offsetIsThePacketHeader() throws {
        let crafted = CraftedFiles.extremeTimestamps[3]
        let error = try #require(throws: EventDataError.self) {
            try crafted.bytes.withUnsafeBytes { try AEDAT4Reader.decode($0, file: "x") }
        }
        let header = try crafted.bytes.withUnsafeBytes { try AEDAT4Reader.header($0, file: "x") }
        #expect(error.byteOffset == header.dataOffset)
    }

    /// Timestamps at the edges of the accepted range decode, and everything downstream computes with
    /// them: the duration is 2⁶³ − 1 µs, and time windows are exact.
    @Test func edgesOfTheRangeDecodeAndIntegrate() throws {
        let low = EventStream.timestampRange.lowerBound
        let high = EventStream.timestampRange.upperBound
        let bytes = CraftedFiles.lz4File([(2, [(low, 0, 0, true), (0, 1, 0, true), (high, 2, 0, false)])])
        let stream = try bytes.withUnsafeBytes { try AEDAT4Reader.decode($0, file: "edges.aedat4") }
        #expect(stream.t == [low, 0, high])
        let summary = try bytes.withUnsafeBytes { try EventFileSummary.inspect(bytes: $0, path: "edges.aedat4") }
        #expect(summary.durationMicroseconds == Int64.max)
        // dt = ⌊(2⁶³ − 1) / 4⌋ = 2⁶¹ − 1; t = 0 is 2⁶² past t0: frame ⌊2⁶² / (2⁶¹ − 1)⌋ = 2; the last event is
        // 4 windows and 3 µs past t0: SpikingJelly's last frame, dropped by Tonic.
        let settings = FrameSettings(timeSteps: 4, splitBy: .time, height: 480, width: 640)
        let sj = FrameIntegrator(settings: settings, sensor: stream.sensor).integrate(stream)
        #expect(sj == FrameCounts.expected(stream, frames: [0, 2, 3], t: 4, h: 480, w: 640))
        var tonicSettings = settings
        tonicSettings.semantics = .tonic
        let tonic = FrameIntegrator(settings: tonicSettings, sensor: stream.sensor).integrate(stream)
        #expect(tonic == FrameCounts.expected(stream, frames: [0, 2, -1], t: 4, h: 480, w: 640))
    }

    /// A stream built in memory may hold any Int64: windows are computed on exact 64-bit magnitudes.
    @Test func integratorTakesTheWholeInt64Range() {
        let sensor = SensorSize(width: 4, height: 1)
        let sorted = EventStream(
            [Event(x: 0, y: 0, t: .min, p: 1), Event(x: 1, y: 0, t: 0, p: 0), Event(x: 2, y: 0, t: .max, p: 1)], sensor: sensor)
        let settings = FrameSettings(timeSteps: 4, splitBy: .time, height: 1, width: 4)
        // Span 2⁶⁴ − 1, dt = 2⁶² − 1: t = 0 is 2⁶³ past t0 → frame 2; the last is past 4 windows → frame 3.
        #expect(
            FrameIntegrator(settings: settings, sensor: sensor).integrate(sorted)
                == FrameCounts.expected(sorted, frames: [0, 2, 3], t: 4, h: 1, w: 4))
        // Reversed: tN < t0, so no window has positive width; only events at or after t0 count, in the last frame.
        let reversed = EventStream(sorted.events.reversed(), sensor: sensor)
        #expect(
            FrameIntegrator(settings: settings, sensor: sensor).integrate(reversed)
                == FrameCounts.expected(reversed, frames: [3, -1, -1], t: 4, h: 1, w: 4))
    }

    @Test func atisOverflowRecordsCannotPushTimestampsOutOfRange() throws {
        let records: [TestATIS.Record] = [.event(x: 1, y: 1, p: 1, ts: 5), .overflow, .overflow, .event(x: 2, y: 2, p: 0, ts: 6)]
        let bytes = TestATIS.file(records)
        let increment = Int64(1) << 61
        let error = try #require(throws: EventDataError.self) {
            try bytes.withUnsafeBytes { try ATISBinReader.decode($0, file: "a.bin", options: .init(overflowIncrement: increment)) }
        }
        #expect(error.code == .timestampOutOfRange)
        #expect(error.byteOffset == 10)  // the second overflow record: 2 · 2⁶¹ = 2⁶² is past the range
        // One overflow of 2⁶¹ is fine.
        let fine = TestATIS.file(Array(records[0..<2]) + [records[3]])
        let stream = try fine.withUnsafeBytes { try ATISBinReader.decode($0, file: "b.bin", options: .init(overflowIncrement: increment)) }
        #expect(stream.t == [5, increment + 6])
    }
}

struct DecompressionBombTests {
    /// A 100 MiB LZ4 packet (about 400 KB on disk) is refused at the 64 MiB packet cap.
    @Test func undeclaredBombStopsAtThePacketCap() throws {
        let bytes = CraftedFiles.bomb(outputBytes: 100 << 20)
        #expect(bytes.count < 500_000)
        let error = try #require(throws: EventDataError.self) {
            try bytes.withUnsafeBytes { try EventFile.decode($0, path: "bomb.aedat4", format: .aedat4) }
        }
        #expect(error.code == .limitExceeded)
        #expect(error.packet == 0)
        #expect(error.message.contains("decompresses to more than \(64 << 20) bytes: over the \(64 << 20)-byte limit per packet"))
    }

    /// The decoder's buffer never grows past the limit + 1 byte, whatever the frame would produce.
    @Test func decoderMemoryStaysWithinTheLimit() throws {
        let frame = TestLZ4.bomb(outputBytes: 40 << 20)
        let decoder = try LZ4FrameDecoder(initialCapacity: 1 << 16)
        let limit = 1 << 20
        let error = try #require(throws: LZ4Error.self) {
            try frame.withUnsafeBytes { try decoder.decompressFrame($0, limit: limit) { $0.count } }
        }
        #expect(error.kind == .tooLarge(bytes: UInt64(limit + 1), declared: false))
        #expect(decoder.outputCapacity == limit + 1)
        // The same decoder then decodes an honest frame.
        let honest = TestLZ4.bomb(outputBytes: 1000)
        #expect(try honest.withUnsafeBytes { try decoder.decompressFrame($0, limit: limit) { $0.count } } == 1000)
    }

    /// A frame that declares a huge content size is refused from its header, before any output is allocated.
    @Test func declaredSizeIsRefusedBeforeAllocating() throws {
        let decoder = try LZ4FrameDecoder(initialCapacity: 4096)
        let frame = TestLZ4.frame([1, 2, 3], declaring: 1 << 40)
        let error = try #require(throws: LZ4Error.self) {
            try frame.withUnsafeBytes { try decoder.decompressFrame($0, limit: 64 << 20) { $0.count } }
        }
        #expect(error.kind == .tooLarge(bytes: 1 << 40, declared: true))
        #expect(decoder.outputCapacity == 4096)

        let file = CraftedFiles.declaredBomb(contentSize: 1 << 40)
        let fileError = try #require(throws: EventDataError.self) {
            try file.withUnsafeBytes { try AEDAT4Reader.decode($0, file: "declared.aedat4") }
        }
        #expect(fileError.code == .limitExceeded)
        #expect(fileError.message.contains("declares 1099511627776 decompressed bytes"))
    }

    /// Packets under the packet cap still stop at the file cap: the fourth 48 KB packet would pass 160 KiB.
    @Test func fileCapCountsEveryPacket() throws {
        let packets = (0..<5).map { (stream: 2, events: CraftedFiles.ordinary(3000, from: 1_700_000_000_000_000 + Int64($0) * 1_000_000)) }
        let bytes = CraftedFiles.lz4File(packets)
        let limits = ReaderLimits(maxPacketBytes: 64 << 10, maxFileBytes: 160 << 10)
        let error = try #require(throws: EventDataError.self) {
            try bytes.withUnsafeBytes { try AEDAT4Reader.decode($0, file: "long.aedat4", options: .init(limits: limits)) }
        }
        #expect(error.code == .limitExceeded)
        #expect(error.packet == 3)
        #expect(error.message.contains("would pass the \(160 << 10)-byte limit per file"))
        // With the default caps the file reads.
        let stream = try bytes.withUnsafeBytes { try AEDAT4Reader.decode($0, file: "long.aedat4") }
        #expect(stream.count == 15000)
    }

    /// A packet whose decoded size prefix or event count claims more than the packet holds is refused
    /// before the event columns reserve anything.
    @Test func declaredCountsAreCheckedBeforeReserving() throws {
        var packet = TestAEDAT4.eventPacket(CraftedFiles.ordinary(10))
        let bounds = AEDAT4Reader.EventBounds(sensor: nil, limits: .default)
        // The event vector's count is the u32 right before the first event (16-byte events at the end).
        let countOffset = packet.count - 10 * 16 - 4
        for (k, byte) in [UInt8](repeating: 0xFF, count: 4).enumerated() { packet[countOffset + k] = byte }
        var columns = EventColumns(capacity: 16)
        let error = try #require(throws: EventDataError.self) {
            try packet.withUnsafeBytes {
                try AEDAT4Reader.appendEvents(packet: $0, to: &columns, bounds: bounds, file: "p", fileOffset: 99, index: 4)
            }
        }
        #expect(error.code == .truncated)
        #expect(error.message == "event packet says 4294967295 events but holds room for 10")
        #expect(error.byteOffset == 99 && error.packet == 4)
        #expect(columns.capacity == 16 && columns.count == 0)

        var prefix = TestAEDAT4.eventPacket(CraftedFiles.ordinary(10))
        for k in 0..<4 { prefix[k] = 0xFF }
        let prefixError = try #require(throws: EventDataError.self) {
            try prefix.withUnsafeBytes {
                try AEDAT4Reader.appendEvents(packet: $0, to: &columns, bounds: bounds, file: "p", fileOffset: 0, index: 0)
            }
        }
        #expect(prefixError.message.contains("event packet says 4294967295 bytes"))
        #expect(columns.capacity == 16)
    }

    @Test func hugePacketAndHeaderSizesAreTruncation() throws {
        let good = CraftedFiles.lz4File([(2, CraftedFiles.ordinary(5))])
        let headerSize = Int(good[14]) | Int(good[15]) << 8 | Int(good[16]) << 16 | Int(good[17]) << 24
        var hugeHeader = good
        for k in 14..<18 { hugeHeader[k] = 0xFF }
        let headerError = try #require(throws: EventDataError.self) {
            try hugeHeader.withUnsafeBytes { try AEDAT4Reader.decode($0, file: "h") }
        }
        #expect(headerError.code == .truncated)
        #expect(headerError.message.hasPrefix("IO header of 4294967295 bytes runs past the end"))

        var hugePacket = good
        let sizeAt = 18 + headerSize + 4
        for k in sizeAt..<(sizeAt + 4) { hugePacket[k] = 0xFF }
        let packetError = try #require(throws: EventDataError.self) {
            try hugePacket.withUnsafeBytes { try AEDAT4Reader.decode($0, file: "p") }
        }
        #expect(packetError.code == .truncated)
        #expect(packetError.byteOffset == 18 + headerSize && packetError.packet == 0)
    }
}

struct HostileXMLTests {
    func headerError(_ xml: String) throws -> EventDataError {
        let bytes = CraftedFiles.lz4File([(2, CraftedFiles.ordinary(3))], xml: xml)
        return try #require(throws: EventDataError.self) { try bytes.withUnsafeBytes { try AEDAT4Reader.decode($0, file: "x.aedat4") } }
    }

    @Test func deepNestingIsALimit() throws {
        let error = try headerError(CraftedFiles.deeplyNestedXML(depth: 10_000))
        #expect(error.code == .limitExceeded)
        #expect(error.message == "IO header description: elements nest deeper than 32 levels")
        #expect(error.byteOffset == 18)
        // 27 extra levels on top of DV's 5 still read.
        let bytes = CraftedFiles.lz4File([(2, CraftedFiles.ordinary(3))], xml: CraftedFiles.deeplyNestedXML(depth: 27))
        #expect(try bytes.withUnsafeBytes { try AEDAT4Reader.decode($0, file: "x") }.count == 3)
    }

    @Test func oversizedDescriptionIsALimit() throws {
        let padding = "<!--" + String(repeating: "x", count: 1 << 20) + "-->"
        let xml = TestAEDAT4.description(CraftedFiles.streams).replacingOccurrences(of: "<dv ", with: padding + "<dv ")
        let error = try headerError(xml)
        #expect(error.code == .limitExceeded)
        #expect(error.message == "IO header description of \(xml.utf8.count) bytes is over the \(1 << 20)-byte limit")
    }

    @Test(arguments: ["100000", "4097", "0", "-640", "1e3", "", "99999999999999999999999"])
    func badSensorSidesAreMalformed(value: String) throws {
        let error = try headerError(CraftedFiles.sensorXML(sizeX: value))
        #expect(error.code == .malformed)
        #expect(error.message == "IO header description: stream 2 declares sizeX `\(value)`, not a sensor side in 1…4096")
    }

    @Test func halfASensorIsMalformed() throws {
        let xml = TestAEDAT4.description(CraftedFiles.streams).replacingOccurrences(
            of: "<attr key=\"sizeY\" type=\"int\">480</attr>", with: "")
        let error = try headerError(xml)
        #expect(error.message == "IO header description: stream 2 declares only one of sizeX and sizeY")
    }

    /// An odd size on a stream that is not read (frames) leaves that stream without a sensor.
    @Test func oddSizesOfOtherStreamsAreIgnored() throws {
        // The first sizeX is stream 0's (FRME); stream 2 keeps 640.
        var xml = TestAEDAT4.description(CraftedFiles.streams)
        let first = try #require(xml.range(of: "<attr key=\"sizeX\" type=\"int\">640</attr>"))
        xml.replaceSubrange(first, with: "<attr key=\"sizeX\" type=\"int\">-1</attr>")
        let bytes = CraftedFiles.lz4File([(2, CraftedFiles.ordinary(3))], xml: xml)
        let header = try bytes.withUnsafeBytes { try AEDAT4Reader.header($0, file: "x") }
        #expect(header.streams.map(\.sensor) == [nil, SensorSize(width: 640, height: 480), nil])
    }

    /// Entities other than the five predefined ones are never expanded ("billion laughs" stays text).
    @Test func definedEntitiesAreNotExpanded() throws {
        var doctype = "<!DOCTYPE dv [<!ENTITY lol \"lol\">"
        for level in 1...9 { doctype += "<!ENTITY lol\(level) \"" + String(repeating: "&lol\(level - 1);", count: 10) + "\">" }
        doctype = doctype.replacingOccurrences(of: "&lol0;", with: "&lol;") + "]>"
        let xml = TestAEDAT4.description(CraftedFiles.streams)
            .replacingOccurrences(of: "<dv ", with: doctype + "<dv ")
            .replacingOccurrences(of: "DVXplorer_test", with: "&lol9;")
        let bytes = CraftedFiles.lz4File([(2, CraftedFiles.ordinary(3))], xml: xml)
        let header = try bytes.withUnsafeBytes { try AEDAT4Reader.header($0, file: "x") }
        #expect(header.streams[1].source == "&lol9;")
        #expect(header.streams[1].sensor == SensorSize(width: 640, height: 480))
    }

    @Test(arguments: [
        ("<dv><node name=\"outInfo\"></dv>", "IO header description: mismatched </dv>"),
        ("<dv><node name=\"outInfo\"", "IO header description: unclosed tag"),
        ("<dv><attr key=\"a\">x", "IO header description: unclosed <attr>"),
    ])
    func brokenMarkupIsMalformed(xml: String, message: String) throws {
        let error = try headerError(xml)
        #expect(error.code == .malformed)
        #expect(error.message == message)
    }
}

struct CraftedHeaderAndCountTests {
    @Test(arguments: [
        (Int(Int32.max), 2, 8, EventDataError.Code.truncated),
        (Int(Int32.max), Int(Int32.max), Int(Int32.max), .truncated),  // capacity × size = 2⁶², computed without overflow
        (2, 3, 8, .malformed),  // eventNumber > eventCapacity
        (2, -1, 8, .malformed),
        (-2, 0, 8, .malformed),
        (2, 2, -8, .malformed),
    ] as [(Int, Int, Int, EventDataError.Code)])
    func aedat31PacketCounts(capacity: Int, number: Int, size: Int, code: EventDataError.Code) throws {
        let bytes = CraftedFiles.aedat31(capacity: capacity, number: number, size: size)
        let error = try #require(throws: EventDataError.self) {
            try bytes.withUnsafeBytes { try AEDAT31Reader.decode($0, file: "c.aedat") }
        }
        #expect(error.code == code)
        #expect(error.byteOffset == TestAEDAT31.header.utf8.count && error.packet == 0)
    }

    @Test func aedat31NegativeOverflowCounter() throws {
        let bytes = CraftedFiles.aedat31(capacity: 2, number: 2, overflow: -1)
        let error = try #require(throws: EventDataError.self) { try bytes.withUnsafeBytes { try AEDAT31Reader.decode($0, file: "c") } }
        #expect(error.code == .malformed)
        #expect(error.message == "polarity packet with a negative eventTSOverflow -1")
        // The largest counter gives timestamps just under 2⁶².
        let top = CraftedFiles.aedat31(capacity: 2, number: 2, overflow: Int(Int32.max))
        let stream = try top.withUnsafeBytes { try AEDAT31Reader.decode($0, file: "c") }
        #expect(stream.t == [100 | Int64(Int32.max) << 31, 101 | Int64(Int32.max) << 31])
        #expect(stream.t.allSatisfy { EventStream.timestampRange.contains($0) })
    }

    /// Coordinates up to 32767 fit the AEDAT 3.1 bit fields; without a known sensor, past 4096 is an error.
    @Test func aedat31InferredSensorIsBounded() throws {
        var b = Bytes()
        b.ascii("#!AER-DAT3.1\r\n#Source 1: Unknown\r\n#!END-HEADER\r\n")
        TestAEDAT31.polarityPacket(&b, overflow: 0, events: [.init(x: 4095, y: 7, p: 1, ts: 1), .init(x: 5000, y: 7, p: 1, ts: 2)])
        let error = try #require(throws: EventDataError.self) { try b.data.withUnsafeBytes { try AEDAT31Reader.decode($0, file: "c") } }
        #expect(error.code == .coordinateOutOfRange)
        #expect(error.message == "event at (5000, 7) is outside the largest supported sensor (4096 per side)")
    }

    @Test func endlessTextHeadersAreALimit() throws {
        var aedat31 = Array("#!AER-DAT3.1\r\n".utf8)
        aedat31 += Array(String(repeating: "#\n", count: 600_000).utf8)
        let error = try #require(throws: EventDataError.self) { try aedat31.withUnsafeBytes { try AEDAT31Reader.decode($0, file: "h") } }
        #expect(error.code == .limitExceeded)
        #expect(error.message == "text header runs past \(1 << 20) bytes without #!END-HEADER")

        var aedat2 = Array("#!AER-DAT2.0\r\n".utf8) + Array(String(repeating: "#\n", count: 600_000).utf8)
        aedat2 += [0, 0, 0, 1, 0, 0, 0, 2]
        let error2 = try #require(throws: EventDataError.self) { try aedat2.withUnsafeBytes { try AEDAT2Reader.decode($0, file: "h") } }
        #expect(error2.code == .limitExceeded)
    }

    /// Limits set to nonsense through the API refuse every file that has something to limit (a header,
    /// packets, a sensor to infer past 255) with a named error instead of trapping; ATIS files have none.
    @Test(arguments: FuzzTests.seeds)
    func nonsenseLimitsFailCleanly(seed: FuzzTests.Seed) throws {
        let limits = ReaderLimits(maxSensorSide: 0, maxPacketBytes: -1, maxFileBytes: -1, maxHeaderBytes: -1, maxXMLDepth: -1)
        let decode = {
            try seed.bytes.withUnsafeBytes {
                try EventFile.decode($0, path: seed.path, format: EventFileFormat.detect($0, path: seed.path), options: .init(limits: limits))
            }
        }
        if seed.name.hasSuffix(".bin") {
            #expect(try decode().count == seed.events)
        } else {
            let error = try #require(throws: EventDataError.self) { try decode() }
            #expect(error.file == seed.path)
        }
    }

    /// A `file_data_position` inside the header or past the end is named, not silently clamped.
    @Test func fileDataPositionIsChecked() throws {
        let good = TestAEDAT4.file(
            streams: CraftedFiles.streams, compression: 0, packets: [(2, TestAEDAT4.eventPacket(CraftedFiles.ordinary(3)))],
            trailer: [1, 2, 3, 4])
        #expect(try good.withUnsafeBytes { try AEDAT4Reader.decode($0, file: "g") }.count == 3)
        let cut = Array(good.dropLast(5))
        let error = try #require(throws: EventDataError.self) { try cut.withUnsafeBytes { try AEDAT4Reader.decode($0, file: "g") } }
        #expect(error.code == .truncated)
        #expect(error.message.hasPrefix("file_data_position"))
    }
}

/// Frame counts built event by event from the frame each event belongs to (−1 = dropped).
enum FrameCounts {
    static func expected(_ stream: EventStream, frames: [Int], t: Int, h: Int, w: Int) -> [UInt32] {
        var out = [UInt32](repeating: 0, count: t * 2 * h * w)
        for (i, f) in frames.enumerated() where f >= 0 {
            out[((f * 2 + Int(stream.p[i])) * h + Int(stream.y[i])) * w + Int(stream.x[i])] += 1
        }
        return out
    }
}

/// A frame cache whose header or index holds impossible numbers is `.badCache` (and rebuilt), never a trap.
struct CraftedCacheTests {
    static func damaged(_ patch: (inout [UInt8]) -> Void) throws -> (EventDataError, original: String) {
        let dir = TemporaryDirectory("crafted-cache")
        let prepared = try FrameCache.prepare(syntheticConfig(dir.path, settings: smallSynthetic(perClass: (1, 1, 1))))
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: prepared.cachePath)))
        patch(&bytes)
        let path = dir.write("crafted.frames", bytes)
        let error = try #require(throws: EventDataError.self) { try FrameCacheFile(path: path) }
        #expect(error.code == .badCache)
        #expect(error.file == path)
        return (error, prepared.cachePath)
    }

    static func put(_ bytes: inout [UInt8], _ value: UInt64, at offset: Int, width: Int = 8) {
        for k in 0..<width { bytes[offset + k] = UInt8((value >> (8 * UInt64(k))) & 0xFF) }
    }

    @Test func hugeSampleCount() throws {
        let (error, _) = try Self.damaged { Self.put(&$0, .max, at: 32) }
        #expect(error.byteOffset == 32)
        #expect(error.message.hasPrefix("offset or length 18446744073709551615 is past the end"))
    }

    @Test func hugeFrameShape() throws {
        let (error, _) = try Self.damaged { Self.put(&$0, 0xFFFF_FFFF, at: 20, width: 4) }
        #expect(error.message.hasPrefix("bad frame shape"))
    }

    @Test func indexPastTheMetadata() throws {
        // Index offset beyond the metadata: the index would overlap it.
        let (error, _) = try Self.damaged { bytes in
            let metadata = Int(bytes[48]) | Int(bytes[49]) << 8 | Int(bytes[50]) << 16
            Self.put(&bytes, UInt64(metadata + 8), at: 40)
        }
        #expect(error.message.hasPrefix("index or metadata offsets do not fit"))
    }

    @Test func sampleOffsetWithTheTopBitSet() throws {
        let (error, _) = try Self.damaged { bytes in
            let index = Int(bytes[40]) | Int(bytes[41]) << 8 | Int(bytes[42]) << 16
            Self.put(&bytes, 1 << 63, at: index)
        }
        #expect(error.message.hasPrefix("offset or length 9223372036854775808 is past the end"))
    }
}
