/// Turns a sample's events into `T × 2 × H × W` event counts at the model's input size.
///
/// `frame[j, c, y, x]` counts the events of frame `j` with polarity `c` (0 = OFF, 1 = ON) that land on
/// input pixel `(y, x)`. Counts are raw (no clamp, no normalisation), as SpikingJelly stores them.
///
/// Frame boundaries (N events, T frames, `t0` = time of the first event, `tN` of the last):
/// - by number: frame `j` holds events `j·⌊N/T⌋ ..< (j+1)·⌊N/T⌋`; SpikingJelly's last frame runs to N,
///   Tonic's drops the rest. With N < T every frame but the last is empty.
/// - by time: `dt = ⌊(tN − t0) / T⌋`; frame `j` holds events with `t0 + j·dt <= t < t0 + (j+1)·dt`;
///   SpikingJelly's last frame also takes every later event, Tonic's drops them. Empty windows give empty
///   frames (SpikingJelly raises IndexError there; for every sample where it does not, the result is
///   the same). Events are assigned by their own timestamp, so the result does not depend on order.
public struct FrameIntegrator: Sendable {
    public let settings: FrameSettings
    public let sensor: SensorSize
    /// For each sensor pixel `y · sensorW + x`, the input pixel `ty · W + tx` it adds to, or −1
    /// (downsampling and same size; every sensor pixel has at most one target).
    private let target: [Int32]
    /// For upsampling: per sensor column / row, the range of input columns / rows it covers.
    private let columns: [Range<Int>]
    private let rows: [Range<Int>]
    private let oneToOne: Bool

    public init(settings: FrameSettings, sensor: SensorSize) {
        precondition(sensor.width > 0 && sensor.height > 0, "sensor size must be positive")
        self.settings = settings
        self.sensor = sensor
        columns = Self.ranges(source: sensor.width, target: settings.width, mode: settings.resize)
        rows = Self.ranges(source: sensor.height, target: settings.height, mode: settings.resize)
        oneToOne = columns.allSatisfy { $0.count <= 1 } && rows.allSatisfy { $0.count <= 1 }
        var table = [Int32](repeating: -1, count: oneToOne ? sensor.width * sensor.height : 0)
        if oneToOne {
            for y in 0..<sensor.height {
                guard let ty = rows[y].first else { continue }
                for x in 0..<sensor.width {
                    guard let tx = columns[x].first else { continue }
                    table[y * sensor.width + x] = Int32(ty * settings.width + tx)
                }
            }
        }
        target = table
    }

    /// Which input indices (along one axis) a source index contributes to.
    static func ranges(source: Int, target: Int, mode: ResizeMode) -> [Range<Int>] {
        (0..<source).map { s in
            if target > source || mode == .nearest {
                // Targets i with ⌊i · source / target⌋ == s.
                let lower = (s * target + source - 1) / source
                let upper = ((s + 1) * target + source - 1) / source
                return lower..<min(max(lower, upper), target)
            }
            let i = s * target / source
            return i..<(i + 1)
        }
    }

    /// Integrates `stream` into a new count array of `settings.valuesPerSample` values.
    public func integrate(_ stream: EventStream) -> [UInt32] {
        [UInt32](unsafeUninitializedCapacity: settings.valuesPerSample) { buffer, initialized in
            buffer.initialize(repeating: 0)
            integrate(stream, into: buffer)
            initialized = buffer.count
        }
    }

    /// Adds the counts of `stream` into `counts` (which must hold `settings.valuesPerSample` values).
    ///
    /// - Precondition: every event lies on the sensor (readers check this and throw otherwise).
    public func integrate(_ stream: EventStream, into counts: UnsafeMutableBufferPointer<UInt32>) {
        precondition(counts.count == settings.valuesPerSample, "count buffer has the wrong size")
        let n = stream.count
        guard n > 0 else { return }
        let frames = settings.timeSteps
        switch settings.splitBy {
        case .number:
            let per = n / frames
            for j in 0..<frames {
                let start = j * per
                let end = j == frames - 1 && settings.semantics == .spikingjelly ? n : start + per
                if start < end { add(stream, start..<end, frame: j, counts) }
            }
        case .time:
            let keepTail = settings.semantics == .spikingjelly
            let window = TimeWindows(first: stream.t[0], last: stream.t[n - 1], frames: frames)
            stream.t.withUnsafeBufferPointer { t in
                var frameOf = [Int32](repeating: -1, count: n)
                for i in 0..<n {
                    switch window.frame(of: t[i]) {
                    case .before: continue
                    case .inside(let j): frameOf[i] = Int32(j)
                    case .after: if keepTail { frameOf[i] = Int32(frames - 1) }
                    }
                }
                add(stream, frameOf: frameOf, counts)
            }
        }
    }

    /// Adds events `range` to frame `frame`.
    private func add(_ stream: EventStream, _ range: Range<Int>, frame: Int, _ counts: UnsafeMutableBufferPointer<UInt32>) {
        let plane = settings.height * settings.width
        let base = frame * 2 * plane
        stream.x.withUnsafeBufferPointer { xs in
            stream.y.withUnsafeBufferPointer { ys in
                stream.p.withUnsafeBufferPointer { ps in
                    for i in range {
                        addOne(x: Int(xs[i]), y: Int(ys[i]), offset: base + (ps[i] != 0 ? plane : 0), counts)
                    }
                }
            }
        }
    }

    /// Adds each event to the frame `frameOf[i]` names (−1 = none).
    private func add(_ stream: EventStream, frameOf: [Int32], _ counts: UnsafeMutableBufferPointer<UInt32>) {
        let plane = settings.height * settings.width
        stream.x.withUnsafeBufferPointer { xs in
            stream.y.withUnsafeBufferPointer { ys in
                stream.p.withUnsafeBufferPointer { ps in
                    for i in 0..<xs.count where frameOf[i] >= 0 {
                        let offset = Int(frameOf[i]) * 2 * plane + (ps[i] != 0 ? plane : 0)
                        addOne(x: Int(xs[i]), y: Int(ys[i]), offset: offset, counts)
                    }
                }
            }
        }
    }

    @inline(__always)
    private func addOne(x: Int, y: Int, offset: Int, _ counts: UnsafeMutableBufferPointer<UInt32>) {
        precondition(x < sensor.width && y < sensor.height, "event (\(x), \(y)) outside the \(sensor) sensor")
        if oneToOne {
            let t = target[y &* sensor.width &+ x]
            if t >= 0 { counts[offset &+ Int(t)] &+= 1 }
        } else {
            for ty in rows[y] {
                for tx in columns[x] { counts[offset + ty * settings.width + tx] &+= 1 }
            }
        }
    }
}

/// The time windows of `split_by: time`: `dt = ⌊(tN − t0) / T⌋` and frame `j` = `[t0 + j·dt, t0 + (j+1)·dt)`,
/// computed without overflow for any `Int64` timestamps.
///
/// Differences are taken as `UInt64` magnitudes: for `t >= t0`, `t − t0` lies in `0 … 2⁶⁴ − 1`, which
/// a `UInt64` holds exactly (an `Int64` subtraction would trap for `t0 = Int64.min, t = Int64.max`).
/// When `tN < t0` (an unsorted stream) or the span is shorter than T µs, `dt` is 0 or negative in
/// SpikingJelly's arithmetic and no event falls inside a window: every event from `t0` on is "after".
struct TimeWindows {
    enum Placement: Equatable {
        /// Earlier than the first event (only in unsorted streams): in no frame.
        case before
        case inside(Int)
        /// At or past `t0 + T·dt` (or every event when `dt <= 0`): the last frame for SpikingJelly, none for Tonic.
        case after
    }

    let first: Int64
    let frames: Int
    /// `⌊(tN − t0) / T⌋`, or 0 when that is not positive.
    let dt: UInt64

    init(first: Int64, last: Int64, frames: Int) {
        self.first = first
        self.frames = frames
        dt = last >= first ? UInt64(bitPattern: last &- first) / UInt64(frames) : 0
    }

    @inline(__always)
    func frame(of t: Int64) -> Placement {
        guard t >= first else { return .before }
        guard dt > 0 else { return .after }
        let j = UInt64(bitPattern: t &- first) / dt
        return j < UInt64(frames) ? .inside(Int(j)) : .after
    }
}
