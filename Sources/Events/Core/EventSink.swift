/// Raw output columns a reader decodes into; see ``EventStream/build(capacity:sensor:_:)``.
struct EventSink {
    let x: UnsafeMutablePointer<UInt16>
    let y: UnsafeMutablePointer<UInt16>
    let t: UnsafeMutablePointer<Int64>
    let p: UnsafeMutablePointer<UInt8>
    let capacity: Int
}

extension EventStream {
    /// Allocates the four columns for at most `capacity` events without zero-filling them, lets `fill`
    /// write them and return how many it wrote, and wraps the result.
    ///
    /// - Warning: `fill` must initialise exactly the first `n` slots of every column, where `n` is what
    ///   it returns, and must not let the pointers escape.
    static func build(capacity: Int, sensor: SensorSize, _ fill: (EventSink) throws -> Int) rethrows -> EventStream {
        var ys: [UInt16] = []
        var ts: [Int64] = []
        var ps: [UInt8] = []
        let xs = try [UInt16](unsafeUninitializedCapacity: capacity) { xb, xn in
            ys = try [UInt16](unsafeUninitializedCapacity: capacity) { yb, yn in
                ts = try [Int64](unsafeUninitializedCapacity: capacity) { tb, tn in
                    ps = try [UInt8](unsafeUninitializedCapacity: capacity) { pb, pn in
                        guard capacity > 0 else { return }
                        let sink = EventSink(
                            x: xb.baseAddress!, y: yb.baseAddress!, t: tb.baseAddress!, p: pb.baseAddress!,
                            capacity: capacity)
                        let produced = try fill(sink)
                        precondition(produced >= 0 && produced <= capacity, "reader wrote past its capacity")
                        pn = produced
                        tn = produced
                        yn = produced
                        xn = produced
                    }
                }
            }
        }
        return EventStream(x: xs, y: ys, t: ts, p: ps, sensor: sensor)
    }
}
