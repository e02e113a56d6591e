/// Durations as plain numbers, for rates, logs and reports (the protocol's timers are `Duration`s).
extension Duration {
    /// The duration in seconds.
    public var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) * 1e-18
    }

    /// Whole milliseconds, for logs.
    public var milliseconds: Int64 {
        let (whole, attoseconds) = components
        return whole * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
