/// The size of an event sensor in pixels.
public struct SensorSize: Hashable, Sendable, Codable, CustomStringConvertible {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// The DVS128 sensor (DVS128 Gesture, CIFAR10-DVS).
    public static let dvs128 = SensorSize(width: 128, height: 128)
    /// The N-MNIST crop of the ATIS sensor.
    public static let nMNIST = SensorSize(width: 34, height: 34)
    /// The frame SpikingJelly uses for N-Caltech101 (`H, W = 180, 240`).
    public static let nCaltech101 = SensorSize(width: 240, height: 180)

    public var description: String { "\(width)×\(height)" }
}

/// One event: pixel, time in microseconds, polarity (1 = ON / brightness increase, 0 = OFF).
public struct Event: Hashable, Sendable, CustomStringConvertible {
    public var x: UInt16
    public var y: UInt16
    public var t: Int64
    public var p: UInt8

    public init(x: UInt16, y: UInt16, t: Int64, p: UInt8) {
        self.x = x
        self.y = y
        self.t = t
        self.p = p
    }

    public var description: String { "(x: \(x), y: \(y), t: \(t), p: \(p))" }
}

/// Events of one recording or one sample as parallel arrays (struct of arrays).
///
/// Readers decode straight into these arrays, so decoding allocates four arrays per file and nothing
/// per event; frame integration streams over them.
public struct EventStream: Hashable, Sendable {
    public var x: [UInt16]
    public var y: [UInt16]
    /// Timestamps in microseconds, in file order (real recordings are almost always non-decreasing,
    /// but nothing here relies on it).
    public var t: [Int64]
    /// Polarity after the reader's orientation mapping: 1 = ON, 0 = OFF.
    public var p: [UInt8]
    public var sensor: SensorSize

    public init(x: [UInt16], y: [UInt16], t: [Int64], p: [UInt8], sensor: SensorSize) {
        precondition(x.count == t.count && y.count == t.count && p.count == t.count, "event arrays differ in length")
        self.x = x
        self.y = y
        self.t = t
        self.p = p
        self.sensor = sensor
    }

    /// An empty stream on `sensor`.
    public init(sensor: SensorSize) {
        self.init(x: [], y: [], t: [], p: [], sensor: sensor)
    }

    /// Builds a stream from individual events (tests, writers, small inputs).
    public init(_ events: [Event], sensor: SensorSize) {
        self.init(x: events.map(\.x), y: events.map(\.y), t: events.map(\.t), p: events.map(\.p), sensor: sensor)
    }

    public var count: Int { t.count }
    public var isEmpty: Bool { t.isEmpty }

    public subscript(index: Int) -> Event {
        Event(x: x[index], y: y[index], t: t[index], p: p[index])
    }

    /// All events as values (tests and small outputs; not for hot paths).
    public var events: [Event] { (0..<count).map { self[$0] } }

    /// Time of the first and the last event, or nil when empty.
    public var timeSpan: (first: Int64, last: Int64)? {
        guard let first = t.first, let last = t.last else { return nil }
        return (first, last)
    }

    /// The events at `range` positions, as a new stream.
    public func slice(_ range: Range<Int>) -> EventStream {
        EventStream(
            x: Array(x[range]), y: Array(y[range]), t: Array(t[range]), p: Array(p[range]), sensor: sensor)
    }

    /// The events with `start <= t < end`, in file order.
    ///
    /// This is SpikingJelly's mask (`(t >= start) & (t < end)`) and does not assume sorted
    /// timestamps; for sorted streams it takes the contiguous range found by binary search.
    public func window(from start: Int64, to end: Int64) -> EventStream {
        if isSorted {
            return slice(lowerBound(start)..<max(lowerBound(start), lowerBound(end)))
        }
        var keep: [Int] = []
        for i in 0..<count where t[i] >= start && t[i] < end { keep.append(i) }
        return EventStream(
            x: keep.map { x[$0] }, y: keep.map { y[$0] }, t: keep.map { t[$0] }, p: keep.map { p[$0] }, sensor: sensor)
    }

    /// Whether timestamps never decrease.
    public var isSorted: Bool {
        t.withUnsafeBufferPointer { buffer in
            guard buffer.count > 1 else { return true }
            var ok = true
            for i in 1..<buffer.count { ok = ok && buffer[i - 1] <= buffer[i] }
            return ok
        }
    }

    /// The first position whose time is not less than `time` (requires sorted timestamps).
    public func lowerBound(_ time: Int64) -> Int {
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            if t[mid] < time { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Number of ON (p = 1) events.
    public var onCount: Int {
        p.withUnsafeBufferPointer { buffer in
            var total = 0
            for value in buffer { total &+= Int(value & 1) }
            return total
        }
    }

    /// The largest x and y present, or nil when empty.
    public var maxCoordinates: (x: Int, y: Int)? {
        guard !isEmpty else { return nil }
        return (Int(x.max() ?? 0), Int(y.max() ?? 0))
    }
}
