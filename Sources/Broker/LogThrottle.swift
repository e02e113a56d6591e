import Logging

/// Limits how many warnings per second a flood of bad input can produce; the rest are counted and
/// reported in one line when logging resumes.
struct LogThrottle {
    let perSecond: Int
    private var windowStart = ContinuousClock.now
    private var inWindow = 0
    private var suppressed = 0

    init(perSecond: Int = 10) {
        self.perSecond = perSecond
    }

    /// Whether to log now; logs a summary of suppressed messages when a new window opens.
    mutating func allow(_ logger: Logger, now: ContinuousClock.Instant) -> Bool {
        if now - windowStart >= .seconds(1) {
            if suppressed > 0 {
                logger.warning("Suppressed repeated warnings", metadata: ["log.suppressed": "\(suppressed)"])
            }
            windowStart = now
            inWindow = 0
            suppressed = 0
        }
        inWindow += 1
        if inWindow <= perSecond { return true }
        suppressed += 1
        return false
    }
}
