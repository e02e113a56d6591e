/// Growable event columns for producers that do not know their final count up front (AEDAT 4
/// packets, the DVS emulator). Grows by doubling and copies into arrays once at the end, so appending
/// an event never allocates.
package struct EventColumns: ~Copyable {
    private(set) var x: UnsafeMutablePointer<UInt16>
    private(set) var y: UnsafeMutablePointer<UInt16>
    private(set) var t: UnsafeMutablePointer<Int64>
    private(set) var p: UnsafeMutablePointer<UInt8>
    package private(set) var count = 0
    package private(set) var capacity: Int

    package init(capacity: Int = 4096) {
        self.capacity = max(capacity, 16)
        x = .allocate(capacity: self.capacity)
        y = .allocate(capacity: self.capacity)
        t = .allocate(capacity: self.capacity)
        p = .allocate(capacity: self.capacity)
    }

    deinit {
        x.deallocate()
        y.deallocate()
        t.deallocate()
        p.deallocate()
    }

    /// Makes room for `extra` more events.
    mutating func reserve(_ extra: Int) {
        guard count + extra > capacity else { return }
        var newCapacity = capacity
        while newCapacity < count + extra { newCapacity *= 2 }
        x = Self.grow(x, count, newCapacity)
        y = Self.grow(y, count, newCapacity)
        t = Self.grow(t, count, newCapacity)
        p = Self.grow(p, count, newCapacity)
        capacity = newCapacity
    }

    /// Appends one event; call ``reserve(_:)`` first.
    @inline(__always)
    mutating func appendReserved(x ex: UInt16, y ey: UInt16, t et: Int64, p ep: UInt8) {
        assert(count < capacity)
        x[count] = ex
        y[count] = ey
        t[count] = et
        p[count] = ep
        count += 1
    }

    /// Appends one event, growing if needed.
    @inline(__always)
    mutating func append(x ex: UInt16, y ey: UInt16, t et: Int64, p ep: UInt8) {
        if count == capacity { reserve(1) }
        appendReserved(x: ex, y: ey, t: et, p: ep)
    }

    /// Reserves room for `extra` events and lets `fill` write them through plain pointers (kept in
    /// registers, unlike per-event appends through `inout`); `fill` returns how many it wrote.
    mutating func append(upTo extra: Int, _ fill: (EventSink) throws -> Int) rethrows {
        reserve(extra)
        let sink = EventSink(x: x + count, y: y + count, t: t + count, p: p + count, capacity: extra)
        let written = try fill(sink)
        precondition(written >= 0 && written <= extra, "wrote past the reserved room")
        count += written
    }

    /// Forgets all events but keeps the storage.
    mutating func removeAll() { count = 0 }

    /// Copies the events into a stream.
    func stream(sensor: SensorSize) -> EventStream {
        EventStream(
            x: Array(UnsafeBufferPointer(start: x, count: count)),
            y: Array(UnsafeBufferPointer(start: y, count: count)),
            t: Array(UnsafeBufferPointer(start: t, count: count)),
            p: Array(UnsafeBufferPointer(start: p, count: count)),
            sensor: sensor)
    }

    private static func grow<T>(_ old: UnsafeMutablePointer<T>, _ count: Int, _ capacity: Int) -> UnsafeMutablePointer<T> {
        let new = UnsafeMutablePointer<T>.allocate(capacity: capacity)
        new.moveInitialize(from: old, count: count)
        old.deallocate()
        return new
    }
}
