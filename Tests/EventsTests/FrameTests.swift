import Events
import TestSupport
import Testing

/// Frames checked against counts worked out by hand from SpikingJelly's and Tonic's rules.
struct FrameIntegrationTests {
    static let sensor = SensorSize(width: 4, height: 2)

    /// 10 events; event i at x = i % 4, y = i / 4 % 2, polarity alternating, t = i.
    static var tenEvents: EventStream {
        var events: [Event] = []
        for i in 0..<10 {
            let x = UInt16(i % 4)
            let y = UInt16(i / 4 % 2)
            events.append(Event(x: x, y: y, t: Int64(i), p: UInt8(i % 2)))
        }
        return EventStream(events, sensor: sensor)
    }

    /// Expected counts built event by event: frame of each event given explicitly (−1 = dropped).
    static func expected(_ stream: EventStream, frames: [Int], t: Int, h: Int = 2, w: Int = 4) -> [UInt32] {
        var out = [UInt32](repeating: 0, count: t * 2 * h * w)
        for (i, f) in frames.enumerated() where f >= 0 {
            out[((f * 2 + Int(stream.p[i])) * h + Int(stream.y[i])) * w + Int(stream.x[i])] += 1
        }
        return out
    }

    @Test func byNumberLastFrameTakesRemainder() {
        let s = Self.tenEvents
        let settings = FrameSettings(timeSteps: 3, splitBy: .number, height: 2, width: 4)
        let counts = FrameIntegrator(settings: settings, sensor: Self.sensor).integrate(s)
        // ⌊10/3⌋ = 3: frames [0,3), [3,6), [6,10).
        #expect(counts == Self.expected(s, frames: [0, 0, 0, 1, 1, 1, 2, 2, 2, 2], t: 3))
        #expect(counts.reduce(0, +) == 10)
    }

    @Test func byNumberTonicDropsRemainder() {
        let s = Self.tenEvents
        let settings = FrameSettings(timeSteps: 3, splitBy: .number, semantics: .tonic, height: 2, width: 4)
        let counts = FrameIntegrator(settings: settings, sensor: Self.sensor).integrate(s)
        #expect(counts == Self.expected(s, frames: [0, 0, 0, 1, 1, 1, 2, 2, 2, -1], t: 3))
    }

    @Test func byNumberWithFewerEventsThanFrames() {
        let s = Self.tenEvents.slice(0..<2)
        let counts = FrameIntegrator(settings: FrameSettings(timeSteps: 4, height: 2, width: 4), sensor: Self.sensor).integrate(s)
        #expect(counts == Self.expected(s, frames: [3, 3], t: 4))
    }

    @Test func byTimeWindowsAndTail() {
        let times: [Int64] = [100, 101, 102, 110, 111, 125, 129, 130]
        let s = EventStream(times.enumerated().map { Event(x: UInt16($0.offset % 4), y: 0, t: $0.element, p: 1) }, sensor: Self.sensor)
        // dt = (130 − 100) // 3 = 10: [100,110), [110,120), [120, …).
        let sj = FrameIntegrator(settings: FrameSettings(timeSteps: 3, splitBy: .time, height: 2, width: 4), sensor: Self.sensor)
        #expect(sj.integrate(s) == Self.expected(s, frames: [0, 0, 0, 1, 1, 2, 2, 2], t: 3))
        let tonic = FrameIntegrator(
            settings: FrameSettings(timeSteps: 3, splitBy: .time, semantics: .tonic, height: 2, width: 4), sensor: Self.sensor)
        #expect(tonic.integrate(s) == Self.expected(s, frames: [0, 0, 0, 1, 1, 2, 2, -1], t: 3))
    }

    @Test func byTimeAllowsEmptyWindows() {
        let s = EventStream(
            [Event(x: 0, y: 0, t: 0, p: 0), Event(x: 1, y: 0, t: 1, p: 1), Event(x: 2, y: 1, t: 100, p: 0)], sensor: Self.sensor)
        let counts = FrameIntegrator(settings: FrameSettings(timeSteps: 4, splitBy: .time, height: 2, width: 4), sensor: Self.sensor)
            .integrate(s)
        // dt = 25: frames 1 and 2 are empty, the last event lands in frame 3.
        #expect(counts == Self.expected(s, frames: [0, 0, -1 + 4], t: 4))
    }

    @Test func byTimeWithZeroDurationPutsEverythingLast() {
        let s = EventStream([Event(x: 0, y: 0, t: 5, p: 0), Event(x: 1, y: 1, t: 5, p: 1)], sensor: Self.sensor)
        let counts = FrameIntegrator(settings: FrameSettings(timeSteps: 2, splitBy: .time, height: 2, width: 4), sensor: Self.sensor)
            .integrate(s)
        #expect(counts == Self.expected(s, frames: [1, 1], t: 2))
    }

    @Test func emptyStreamGivesZeros() {
        let counts = FrameIntegrator(settings: FrameSettings(timeSteps: 2, height: 2, width: 4), sensor: Self.sensor)
            .integrate(EventStream(sensor: Self.sensor))
        #expect(counts == [UInt32](repeating: 0, count: 32))
    }

    @Test func sumPoolingAddsBlocks() {
        // 8×4 sensor → 2×1 input: each input pixel sums a 4×4 block.
        let sensor = SensorSize(width: 8, height: 4)
        var events: [Event] = []
        for y in 0..<4 { for x in 0..<8 { events.append(Event(x: UInt16(x), y: UInt16(y), t: Int64(y * 8 + x), p: x < 4 ? 0 : 1)) } }
        events.append(Event(x: 7, y: 3, t: 100, p: 1))
        let settings = FrameSettings(timeSteps: 1, height: 1, width: 2, resize: .sum)
        let counts = FrameIntegrator(settings: settings, sensor: sensor).integrate(EventStream(events, sensor: sensor))
        // channel 0 (OFF): left block has 16 events; channel 1 (ON): right block 16 + 1.
        #expect(counts == [16, 0, 0, 17])
    }

    @Test func nearestKeepsOneSensorPixelPerInputPixel() {
        let sensor = SensorSize(width: 8, height: 4)
        let events = [
            Event(x: 0, y: 0, t: 0, p: 1), Event(x: 1, y: 0, t: 1, p: 1), Event(x: 4, y: 0, t: 2, p: 1), Event(x: 4, y: 1, t: 3, p: 1),
            Event(x: 4, y: 2, t: 4, p: 0),
        ]
        let settings = FrameSettings(timeSteps: 1, height: 2, width: 2, resize: .nearest)
        let counts = FrameIntegrator(settings: settings, sensor: sensor).integrate(EventStream(events, sensor: sensor))
        // Input (i, j) samples sensor (2i, 4j): (0,0) → 1 ON; (0,4) → 1 ON; (2,4) → 1 OFF; others dropped.
        #expect(counts == [0, 0, 0, 1, 1, 1, 0, 0])
    }

    @Test func upsamplingReplicates() {
        let sensor = SensorSize(width: 2, height: 1)
        let settings = FrameSettings(timeSteps: 1, height: 2, width: 4, resize: .sum)
        let counts = FrameIntegrator(settings: settings, sensor: sensor)
            .integrate(EventStream([Event(x: 1, y: 0, t: 0, p: 0)], sensor: sensor))
        #expect(Array(counts[0..<8]) == [0, 0, 1, 1, 0, 0, 1, 1])
        #expect(counts[8...].allSatisfy { $0 == 0 })
    }

    @Test func channelZeroIsOff() {
        let s = EventStream([Event(x: 0, y: 0, t: 0, p: 0), Event(x: 0, y: 0, t: 1, p: 1), Event(x: 0, y: 0, t: 2, p: 1)], sensor: Self.sensor)
        let counts = FrameIntegrator(settings: FrameSettings(timeSteps: 1, height: 2, width: 4), sensor: Self.sensor).integrate(s)
        #expect(counts[0] == 1)
        #expect(counts[8] == 2)
    }
}

struct FrameBlobTests {
    static func decode(_ counts: [UInt32], h: Int, w: Int, transform: FrameTransform = .identity) -> [Float] {
        let (encoding, bytes) = FrameBlob.encode(counts)
        var out = [Float](repeating: -1, count: counts.count)
        bytes.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer {
                FrameBlob.decode(raw, encoding: encoding, height: h, width: w, transform: transform, into: $0)
            }
        }
        return out
    }

    @Test(arguments: [
        (UInt32(3), FrameEncoding.dense8), (UInt32(300), .dense16), (UInt32(70_000), .dense32),
    ])
    func denseEncodingsRoundTrip(maximum: UInt32, encoding: FrameEncoding) {
        let counts = (0..<64).map { UInt32($0 % 4 == 0 ? 0 : 1) + ($0 == 5 ? maximum : 0) }
        #expect(FrameBlob.encode(counts).encoding == encoding)
        #expect(firstMismatch(Self.decode(counts, h: 4, w: 4), counts.map { Float($0) }) == nil)
    }

    @Test func sparseEncodingsRoundTrip() {
        var counts = [UInt32](repeating: 0, count: 2 * 2 * 16 * 16)
        counts[7] = 3
        counts[900] = 65535
        #expect(FrameBlob.encode(counts).encoding == .sparse16)
        #expect(firstMismatch(Self.decode(counts, h: 16, w: 16), counts.map { Float($0) }) == nil)
        counts[901] = 100_000
        #expect(FrameBlob.encode(counts).encoding == .sparse32)
        #expect(firstMismatch(Self.decode(counts, h: 16, w: 16), counts.map { Float($0) }) == nil)
    }

    @Test(arguments: [false, true])
    func flipAndShiftMoveEveryPlaneAlike(sparse: Bool) {
        // Two 3×4 planes; plane p pixel (y, x) = 1 + p·100 + 10y + x, or only a few pixels when sparse.
        let h = 3
        let w = 4
        var counts = [UInt32](repeating: 0, count: 2 * h * w)
        for p in 0..<2 {
            for y in 0..<h {
                for x in 0..<w where !sparse || (x == 0 && y == 1) {
                    counts[p * h * w + y * w + x] = UInt32(1 + p * 100 + 10 * y + x)
                }
            }
        }
        if sparse { counts += [UInt32](repeating: 0, count: 200 * 2 * h * w) }
        let planes = counts.count / (h * w)
        let out = Self.decode(counts, h: h, w: w, transform: FrameTransform(flip: true, dx: 1, dy: -1))
        for p in 0..<planes {
            for y in 0..<h {
                for x in 0..<w {
                    // out(y, x) = in(y + 1, W − 1 − (x − 1)) when inside, else 0.
                    let sy = y + 1
                    let sx = w - 1 - (x - 1)
                    let expected: Float = sy < h && sx >= 0 && sx < w ? Float(counts[p * h * w + sy * w + sx]) : 0
                    #expect(out[p * h * w + y * w + x] == expected, "plane \(p) (\(y), \(x))")
                }
            }
        }
    }
}
