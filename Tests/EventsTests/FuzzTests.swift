import Events
import Testing

/// Deterministic fuzzing: every truncation and seeded bit flips of valid files built from the format
/// specifications go through format detection, the reader (as `dataset prepare` calls it, with the
/// dataset's sensor), frame integration and the `dataset inspect` summary. Each case must decode or
/// throw an ``EventDataError`` naming the file; a trap would end the test process.
struct FuzzTests {
    /// A valid file to mutate, and the sensor a dataset config would read it with.
    struct Seed: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var sensor: SensorSize
        var events: Int

        var path: String { "/nonexistent/fuzz/\(name)" }
        var testDescription: String { "\(name) (\(bytes.count) bytes)" }
    }

    static let seeds: [Seed] = {
        let evts = [TestAEDAT4.Stream(id: 2, type: "EVTS", width: 640, height: 480)]
        let early = CraftedFiles.ordinary(24)
        let late = CraftedFiles.ordinary(16, from: 1_700_000_000_900_000)
        let lz4 = TestAEDAT4.file(
            streams: evts, compression: 1,
            packets: [
                (0, TestLZ4.frame([UInt8](repeating: 9, count: 50))), (2, TestLZ4.frame(TestAEDAT4.eventPacket(early))),
                (3, TestLZ4.frame([1, 2, 3, 4, 5, 6, 7, 8])), (2, TestLZ4.frame(TestAEDAT4.eventPacket(late), store: true)),
            ],
            trailer: [UInt8](repeating: 0xEE, count: 16))
        let raw = TestAEDAT4.file(
            streams: evts, compression: 0,
            packets: [
                (2, TestAEDAT4.eventPacket(Array(early[0..<12]))), (5, [UInt8](repeating: 3, count: 20)),
                (2, TestAEDAT4.eventPacket(Array(late[0..<8]))),
            ],
            trailer: [UInt8](repeating: 0xEE, count: 8))
        let aedat2Records = (0..<12).map { (i: Int) -> (rawX: Int, rawY: Int, rawPol: Int, ts: UInt32) in
            let ts = UInt32(1000 + i * 250)
            return (rawX: (i * 11) % 128, rawY: (i * 5) % 128, rawPol: i % 2, ts: ts)
        }
        var atis: [TestATIS.Record] = (0..<10).map { (i: Int) -> TestATIS.Record in
            .event(x: (i * 3) % 34, y: (i * 7) % 34, p: i % 2, ts: 100 + i * 900)
        }
        atis.insert(.overflow, at: 4)
        atis.insert(.overflow, at: 8)
        return [
            Seed(name: "lz4.aedat4", bytes: lz4, sensor: SensorSize(width: 640, height: 480), events: 40),
            Seed(name: "uncompressed.aedat4", bytes: raw, sensor: SensorSize(width: 640, height: 480), events: 20),
            Seed(name: "gesture.aedat", bytes: AEDAT31ReaderTests.fixture().bytes, sensor: .dvs128, events: 5),
            Seed(name: "cifar.aedat", bytes: TestAEDAT2.file(records: aedat2Records), sensor: .dvs128, events: 12),
            Seed(name: "nmnist.bin", bytes: TestATIS.file(atis), sensor: .nMNIST, events: 10),
        ]
    }()

    /// What the probes saw, to show the mutations reach both outcomes.
    struct Tally {
        var decoded = 0
        var errors: [String: Int] = [:]
        var cases = 0

        mutating func add(_ outcome: Probe.Outcome) {
            cases += 1
            switch outcome {
            case .decoded: decoded += 1
            case .failed(let code): errors[code.description, default: 0] += 1
            }
        }
    }

    @Test(arguments: seeds)
    func seedsDecode(seed: Seed) throws {
        let probe = Probe(seed: seed)
        #expect(probe.run(seed.bytes) == .decoded)
        let stream = try seed.bytes.withUnsafeBytes { try EventFile.decode($0, path: seed.path, format: EventFileFormat.detect($0, path: seed.path)) }
        #expect(stream.count == seed.events)
    }

    @Test(arguments: seeds)
    func everyTruncation(seed: Seed) {
        let probe = Probe(seed: seed)
        var tally = Tally()
        for length in 0..<seed.bytes.count { tally.add(probe.run(Array(seed.bytes[0..<length]))) }
        #expect(tally.cases == seed.bytes.count)
        #expect(tally.errors.values.reduce(0, +) > seed.bytes.count / 2, "\(tally)")
    }

    @Test(arguments: seeds)
    func seededBitFlips(seed: Seed) {
        let probe = Probe(seed: seed)
        var rng = SplitMixForTests(seed: 0x5EED_0000 &+ UInt64(seed.bytes.count))
        var tally = Tally()
        for _ in 0..<600 {
            var bytes = seed.bytes
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let bit = Int(rng.next() % UInt64(bytes.count * 8))
                bytes[bit / 8] ^= 1 << UInt8(bit % 8)
            }
            tally.add(probe.run(bytes))
        }
        // Flips in event payloads decode (to other events); flips in headers and sizes fail.
        #expect(tally.decoded > 0 && tally.decoded < tally.cases, "\(tally)")
    }

    /// Flips inside a decompressed event packet, recompressed: exercises the FlatBuffer walk and the
    /// event checks behind LZ4, which raw flips of compressed bytes rarely reach.
    @Test func flipsInsideCompressedEventPackets() {
        let seed = Self.seeds[0]
        let probe = Probe(seed: seed)
        let events = CraftedFiles.ordinary(24)
        let packet = TestAEDAT4.eventPacket(events)
        let evts = [TestAEDAT4.Stream(id: 2, type: "EVTS", width: 640, height: 480)]
        var rng = SplitMixForTests(seed: 77)
        var tally = Tally()
        for _ in 0..<400 {
            var mutated = packet
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let bit = Int(rng.next() % UInt64(mutated.count * 8))
                mutated[bit / 8] ^= 1 << UInt8(bit % 8)
            }
            tally.add(probe.run(TestAEDAT4.file(streams: evts, compression: 1, packets: [(2, TestLZ4.frame(mutated))])))
        }
        #expect(tally.decoded > 0 && tally.errors.count >= 2, "\(tally)")
    }
}

/// Runs one mutated file through everything that reads event files, checking what comes out.
struct Probe {
    enum Outcome: Equatable {
        case decoded
        case failed(EventDataError.Code)
    }

    let seed: FuzzTests.Seed
    let integrators: [FrameIntegrator]

    init(seed: FuzzTests.Seed) {
        self.seed = seed
        integrators = [FrameSplit.number, .time].map {
            FrameIntegrator(settings: FrameSettings(timeSteps: 4, splitBy: $0, height: 16, width: 16), sensor: seed.sensor)
        }
    }

    /// The reader's outcome (with the dataset's sensor); the summary must agree on success or failure
    /// whenever the file decodes without a sensor too.
    func run(_ bytes: [UInt8]) -> Outcome {
        bytes.withUnsafeBytes { raw in
            let outcome = datasetPath(raw)
            inspectPath(raw)
            return outcome
        }
    }

    /// `dataset prepare`: detect, read with the configured sensor, integrate.
    private func datasetPath(_ raw: UnsafeRawBufferPointer) -> Outcome {
        do {
            let format = try EventFileFormat.detect(raw, path: seed.path)
            let stream = try EventFile.decode(raw, path: seed.path, format: format, options: .init(sensor: seed.sensor))
            #expect(stream.sensor == seed.sensor)
            check(stream, inside: seed.sensor)
            for integrator in integrators {
                let counts = integrator.integrate(stream)
                let total = counts.reduce(0) { $0 + Int($1) }
                if integrator.settings.splitBy == .number {
                    #expect(total == stream.count)
                } else {
                    // SpikingJelly semantics: every event at or after the first event's time is counted.
                    #expect(total == stream.t.filter { $0 >= stream.t[0] }.count)
                }
            }
            return .decoded
        } catch let error as EventDataError {
            check(error)
            return .failed(error.code)
        } catch {
            Issue.record("\(seed.name): not an EventDataError: \(error)")
            return .failed(.unreadable)
        }
    }

    /// `dataset inspect`: detect, read without a sensor (inferred or declared), summarise.
    private func inspectPath(_ raw: UnsafeRawBufferPointer) {
        do {
            let summary = try EventFileSummary.inspect(bytes: raw, path: seed.path, firstCount: 3)
            #expect(summary.onEvents + summary.offEvents == summary.events)
            #expect(summary.bytes == raw.count)
            if summary.events > 0 {
                #expect(ReaderLimits.default.accepts(SensorSize(width: summary.sensorWidth, height: summary.sensorHeight)))
                let first = try #require(summary.firstTimestamp)
                let last = try #require(summary.lastTimestamp)
                #expect(summary.durationMicroseconds == last - first)
                #expect(summary.firstEvents.allSatisfy { $0[0] < summary.sensorWidth && $0[1] < summary.sensorHeight })
            }
        } catch let error as EventDataError {
            check(error)
        } catch {
            Issue.record("\(seed.name): summary threw a non-EventDataError: \(error)")
        }
    }

    private func check(_ stream: EventStream, inside sensor: SensorSize) {
        let range = EventStream.timestampRange
        for i in 0..<stream.count {
            guard Int(stream.x[i]) < sensor.width, Int(stream.y[i]) < sensor.height, stream.p[i] <= 1, range.contains(stream.t[i]) else {
                Issue.record("\(seed.name): event \(i) \(stream[i]) escaped the checks")
                return
            }
        }
    }

    private func check(_ error: EventDataError) {
        #expect(error.file == seed.path)
        #expect(!error.message.isEmpty)
    }
}
