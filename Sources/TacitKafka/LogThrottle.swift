/// Lets one log line through per `interval` and counts the ones held back, so a condition that
/// repeats many times a second (a broker refusing connections) stays visible without flooding the log.
struct LogThrottle: Sendable {
    let interval: Duration
    private var lastAdmitted: ContinuousClock.Instant?
    private var held = 0

    init(interval: Duration) { self.interval = interval }

    /// nil: hold this line back. Otherwise log it, with the number of lines held back since the last one.
    mutating func admit(at now: ContinuousClock.Instant) -> Int? {
        if let last = lastAdmitted, now - last < interval {
            held += 1
            return nil
        }
        lastAdmitted = now
        defer { held = 0 }
        return held
    }
}
