import Events
import Foundation
import Testing

struct GestureLabelTests {
    @Test func parsesHeaderSpacesCRLFAndOverlaps() throws {
        let text = "class,startTime_usec,endTime_usec\r\n1,80048239,85092709\r\n 9 , 150 , 300\r\n10, 200,250\r\n\r\n"
        let rows = try GestureLabels.parse(text, file: "u_labels.csv")
        #expect(
            rows == [
                GestureSegment(label: 0, start: 80_048_239, end: 85_092_709, line: 2), GestureSegment(label: 8, start: 150, end: 300, line: 3),
                GestureSegment(label: 9, start: 200, end: 250, line: 4),
            ])
    }

    @Test(arguments: [
        ("class,start,end\n1,2\n", 2), ("class,start,end\n1,5,x\n", 2), ("class,start,end\n1,5,9\n12,1,2\n", 3),
        ("class,start,end\n0,1,2\n", 2), ("class,start,end\n3,10,10\n", 2), ("1,5,9\nfoo\n", 2),
    ])
    func badRowsNameTheirLine(text: String, line: Int) throws {
        let error = try #require(throws: EventDataError.self) { try GestureLabels.parse(text, file: "bad_labels.csv") }
        #expect(error.code == .badLabels)
        #expect(error.line == line)
        #expect(error.file == "bad_labels.csv")
    }

    @Test func trialsListsAndBadNames() throws {
        let dir = TemporaryDirectory()
        let good = dir.write("trials_to_train.txt", text: "user01_lab.aedat\n\nuser02_led.aedat  \r\n")
        #expect(try GestureLabels.trials(path: good) == ["user01_lab.aedat", "user02_led.aedat"])
        let bad = dir.write("trials_to_test.txt", text: "user01_lab.aedat\nnotes.txt\n")
        let error = try #require(throws: EventDataError.self) { try GestureLabels.trials(path: bad) }
        #expect(error.line == 2)
        let missing = try #require(throws: EventDataError.self) { try GestureLabels.trials(path: dir.file("nope.txt")) }
        #expect(missing.code == .missingFile)
    }

    @Test func cutKeepsStartExcludesEndAndAllowsOverlap() {
        let s = EventStream((0..<10).map { Event(x: 0, y: 0, t: Int64($0 * 10), p: 0) }, sensor: .dvs128)
        let segments = [
            GestureSegment(label: 0, start: 20, end: 50, line: 2), GestureSegment(label: 1, start: 40, end: 61, line: 3),
        ]
        let cut = GestureLabels.cut(s, by: segments)
        #expect(cut[0].t == [20, 30, 40])
        #expect(cut[1].t == [40, 50, 60])
        // Unsorted streams use the same mask.
        var shuffled = s
        shuffled.t.swapAt(0, 9)
        #expect(GestureLabels.cut(shuffled, by: segments)[0].t == [20, 30, 40])
    }
}

/// A tiny DVS128 Gesture directory written with the test-side AEDAT 3.1 writer.
struct GestureFixture {
    let dir = TemporaryDirectory("gesture")

    /// Recording `name` with one event per (class, k) at x = class, y = k, t = class·1000 + k·10,
    /// labelled rows [class·1000, class·1000 + 500) for `classes`.
    func recording(_ name: String, classes: [Int], eventsPerClass: Int = 3, overflow: Bool = false) {
        var b = Bytes()
        b.ascii(TestAEDAT31.header)
        var events: [TestAEDAT31.Raw] = []
        for c in classes {
            for k in 0..<eventsPerClass { events.append(.init(x: c, y: k, p: k % 2, ts: c * 1000 + k * 10)) }
        }
        TestAEDAT31.polarityPacket(&b, overflow: overflow ? 1 : 0, events: events)
        dir.write("\(name).aedat", b.data)
        var csv = "class,startTime_usec,endTime_usec\n"
        let base: Int64 = overflow ? 1 << 31 : 0
        for c in classes { csv += "\(c + 1),\(base + Int64(c * 1000)),\(base + Int64(c * 1000 + 500))\n" }
        dir.write("\(name)_labels.csv", text: csv)
    }

    func trials(train: [String], test: [String]) {
        dir.write("trials_to_train.txt", text: train.map { $0 + ".aedat" }.joined(separator: "\n") + "\n")
        dir.write("trials_to_test.txt", text: test.map { $0 + ".aedat" }.joined(separator: "\n") + "\n")
    }

    func config(validation: Double = 0, strict: Bool = false, steps: Int = 2) throws -> DatasetConfig {
        try DatasetConfig.parse(
            """
            kind: dvs128-gesture
            root: \(dir.path)
            frames: {steps: \(steps), size: 128}
            split: {validation_fraction: \(validation)}
            strict: \(strict)
            cache_dir: \(dir.path)/cache
            """, file: "test.yaml")
    }
}

struct GestureDatasetTests {
    @Test func preparesSplitsFromTrialsAndCutsEveryRow() throws {
        let fixture = GestureFixture()
        fixture.recording("user01_lab", classes: Array(0..<11))
        fixture.recording("user02_led", classes: [0, 1, 2, 7, 7])
        fixture.recording("user24_lab", classes: [3, 4, 10], overflow: true)
        fixture.trials(train: ["user01_lab", "user02_led"], test: ["user24_lab"])
        let prepared = try FrameCache.prepare(try fixture.config(), threads: 2)
        #expect(prepared.train.count == 16)
        #expect(prepared.test.count == 3)
        #expect(prepared.validation.count == 0)
        #expect(prepared.test.labels == [3, 4, 10])
        #expect(prepared.train.classCounts == [2, 2, 2, 1, 1, 1, 1, 3, 1, 1, 1])
        #expect(prepared.classNames.count == 11)
        // Sample 3 of the test split: class 10 (x = 10), events y = 0, 1, 2 with p = 0, 1, 0; 3 events over
        // T = 2 by number: frame 0 holds event 0, frame 1 events 1 and 2.
        var frames = prepared.test.sample(2)
        #expect(prepared.test.origin(at: 2) == "user24_lab.aedat#2")
        func at(_ t: Int, _ c: Int, _ y: Int, _ x: Int) -> Float { frames[((t * 2 + c) * 128 + y) * 128 + x] }
        #expect(at(0, 0, 0, 10) == 1)
        #expect(at(1, 1, 1, 10) == 1)
        #expect(at(1, 0, 2, 10) == 1)
        #expect(frames.reduce(0, +) == 3)
        frames = prepared.train.sample(0)
        #expect(frames.reduce(0, +) == 3)
    }

    @Test func validationIsCarvedPerClassFromTrain() throws {
        let fixture = GestureFixture()
        for u in 1...4 { fixture.recording("user0\(u)_lab", classes: Array(0..<11)) }
        fixture.recording("user24_lab", classes: Array(0..<11))
        fixture.trials(train: (1...4).map { "user0\($0)_lab" }, test: ["user24_lab"])
        let prepared = try FrameCache.prepare(try fixture.config(validation: 0.25))
        #expect(prepared.validation.classCounts == [Int](repeating: 1, count: 11))
        #expect(prepared.train.classCounts == [Int](repeating: 3, count: 11))
        let again = try FrameCache.prepare(try fixture.config(validation: 0.25))
        #expect(again.validation.labels == prepared.validation.labels)
        #expect((0..<again.validation.count).map { again.validation.origin(at: $0) } == (0..<prepared.validation.count).map { prepared.validation.origin(at: $0) })
    }

    @Test func badRecordingIsSkippedAndCountedUnlessStrict() throws {
        let fixture = GestureFixture()
        fixture.recording("user01_lab", classes: [0, 1])
        fixture.recording("user02_lab", classes: [2, 3])
        fixture.dir.write("user02_lab_labels.csv", text: "class,startTime_usec,endTime_usec\n3,100,oops\n")
        fixture.recording("user24_lab", classes: [5])
        fixture.trials(train: ["user01_lab", "user02_lab", "user03_missing"], test: ["user24_lab"])
        let prepared = try FrameCache.prepare(try fixture.config())
        #expect(prepared.train.count == 2)
        #expect(prepared.skipped.count == 2)
        #expect(prepared.skipped[0].name == "user02_lab.aedat")
        #expect(prepared.skipped[0].reason.contains("user02_lab_labels.csv:2"))
        #expect(prepared.skipped[1].name == "user03_missing.aedat")

        let error = try #require(throws: EventDataError.self) { try FrameCache.prepare(try fixture.config(strict: true, steps: 3)) }
        #expect(error.code == .badLabels)
        #expect(error.line == 2)
        #expect(error.file.hasSuffix("user02_lab_labels.csv"))
    }

    @Test func truncatedRecordingIsReportedWithItsOffset() throws {
        let fixture = GestureFixture()
        fixture.recording("user01_lab", classes: [0, 1])
        fixture.recording("user24_lab", classes: [5])
        let path = fixture.dir.file("user01_lab.aedat")
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        fixture.dir.write("user01_lab.aedat", Array(bytes.dropLast(4)))
        fixture.trials(train: ["user01_lab"], test: ["user24_lab"])
        let error = try #require(throws: EventDataError.self) { try FrameCache.prepare(try fixture.config(strict: true)) }
        #expect(error.code == .truncated)
        #expect(error.byteOffset == TestAEDAT31.header.utf8.count)
        // Non-strict: the only train recording is skipped, so there is no train split left.
        let empty = try #require(throws: EventDataError.self) { try FrameCache.prepare(try fixture.config()) }
        #expect(empty.code == .emptyDataset)
    }

    @Test func missingRootAndMissingTrialsAreErrors() throws {
        let config = try DatasetConfig.parse("kind: dvs128-gesture\nroot: /nonexistent/DvsGesture\ncache_dir: /tmp/x\n")
        let error = try #require(throws: EventDataError.self) { try FrameCache.prepare(config) }
        #expect(error.code == .missingFile)
        #expect(error.file == "/nonexistent/DvsGesture")
        let fixture = GestureFixture()
        let noTrials = try #require(throws: EventDataError.self) { try FrameCache.prepare(try fixture.config()) }
        #expect(noTrials.code == .missingFile)
        #expect(noTrials.file.hasSuffix("trials_to_train.txt"))
    }
}
