import Synchronization

/// Liveness and readiness as the HTTP endpoint, the watchdog and STATUS= see them.
public final class HealthState: Sendable {
    public struct Snapshot: Sendable, Equatable {
        /// Store open and consumer subscribed.
        public var ready = false
        /// The ingest loop went round recently.
        public var lastLoopMs: Int64 = 0
        public var lastBatchMs: Int64 = 0
        public var assignedPartitions = 0
        public var brokersDown = false
        /// Partitions assigned here whose users wait for the replay to catch up (`PartitionOwnership`).
        public var partitionsRestoring = 0
        /// Records behind the high watermarks of the assigned partitions (nil until first measured).
        public var lag: Int64?
        public var eventsConsumed: Int64 = 0
        public var eventsApplied: Int64 = 0
        public var deadLettered: Int64 = 0
        public var listsPublished: Int64 = 0
        /// Of those, lists recomputed without new events (after a promotion).
        public var listsRepublished: Int64 = 0
        public var stopping = false
        public var fatal: String?
    }

    private let state = Mutex(Snapshot())
    /// The ingest loop is considered wedged after this long without a turn.
    public let stallAfterMs: Int64

    public init(stallAfterMs: Int64 = 30_000) {
        self.stallAfterMs = stallAfterMs
    }

    public var snapshot: Snapshot { state.withLock { $0 } }

    public func update(_ body: (inout Snapshot) -> Void) {
        state.withLock { body(&$0) }
    }

    /// Alive: the ingest loop turned within `stallAfterMs` (or has not started yet) and nothing fatal happened.
    public func isLive(nowMs: Int64) -> Bool {
        let s = snapshot
        return s.fatal == nil && (s.lastLoopMs == 0 || nowMs - s.lastLoopMs < stallAfterMs)
    }

    public func statusLine() -> String {
        let s = snapshot
        if let f = s.fatal { return "failed: \(f)" }
        if s.stopping { return "stopping" }
        if !s.ready { return "starting" }
        return "consuming \(s.assignedPartitions) partitions\(s.brokersDown ? " (brokers down)" : ""); "
            + "\(s.eventsApplied) events applied, \(s.deadLettered) dead-lettered, \(s.listsPublished) lists published"
    }
}
