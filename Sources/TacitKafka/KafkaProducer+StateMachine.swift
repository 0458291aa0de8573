extension KafkaProducer {
    /// Decides when the producer is stuck and must be recreated. Pure value type; times are
    /// passed in so tests can drive it without a clock or a broker.
    ///
    /// An idempotent librdkafka producer whose broker lost its state (a memory-only broker that
    /// restarted) retries `UNKNOWN_PRODUCER_ID` forever and never reports an error, so "no
    /// acknowledgement for `stallTimeout` while messages are outstanding" is the only signal.
    /// A fatal error (idempotence guarantees broken) also requires a new client.
    struct StateMachine: Sendable {
        enum Action: Sendable, Equatable {
            case none
            case recreate(reason: String)
        }

        let stallTimeout: Duration
        /// Which client instance the counters below describe; bumped on every recreation so late
        /// reports from a discarded client are ignored.
        private(set) var generation = 0
        private(set) var inFlight = 0
        /// When the last acknowledgement arrived, or when the queue went from empty to non-empty.
        private(set) var lastProgress: ContinuousClock.Instant
        private var fatalReason: String?
        /// After a recreation, wait a full `stallTimeout` before judging the new client.
        private var closed = false

        init(stallTimeout: Duration, now: ContinuousClock.Instant) {
            self.stallTimeout = stallTimeout
            lastProgress = now
        }

        mutating func enqueued(now: ContinuousClock.Instant) {
            if inFlight == 0 { lastProgress = now }
            inFlight += 1
        }

        /// The enqueue was refused: undo `enqueued`.
        mutating func enqueueFailed() {
            inFlight = max(0, inFlight - 1)
        }

        /// A delivery report (success or failure) from client `generation`.
        mutating func reported(generation g: Int, now: ContinuousClock.Instant) {
            guard g == generation else { return }
            inFlight = max(0, inFlight - 1)
            lastProgress = now
        }

        mutating func fatalError(generation g: Int, reason: String) {
            guard g == generation else { return }
            fatalReason = reason
        }

        mutating func check(now: ContinuousClock.Instant) -> Action {
            if closed { return .none }
            if let reason = fatalReason { return .recreate(reason: "fatal error: \(reason)") }
            if inFlight > 0, now - lastProgress >= stallTimeout {
                return .recreate(reason: "\(inFlight) deliveries outstanding, none acknowledged for \(now - lastProgress)")
            }
            return .none
        }

        /// A new client replaced the old one; its messages were purged (and reported failed).
        mutating func recreated(now: ContinuousClock.Instant) -> Int {
            generation += 1
            inFlight = 0
            fatalReason = nil
            lastProgress = now
            return generation
        }

        mutating func close() { closed = true }
    }
}
