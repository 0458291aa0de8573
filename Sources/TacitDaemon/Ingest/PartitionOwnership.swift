import Synchronization
import TacitKafka

/// Which users this instance may publish lists for: those whose input partition it is assigned and has
/// caught up on. Ingest records every assignment, with the partitions that must first be restored (their
/// stored offset was behind the partition's end when they arrived: a partition this instance never had, or
/// one it had an older copy of); the publisher holds a user's list while the partition restores, and drops
/// it when another instance owns the partition. Users are keyed to partitions by number: the input topics
/// are co-partitioned (same partition count, same key), as the range assignor hands them out together.
public final class PartitionOwnership: Sendable {
    public enum Verdict: Sendable, Equatable {
        /// Assigned here and caught up.
        case serve
        /// Not known yet (no assignment since start) or still restoring: ask again when `generation` moves.
        case wait
        /// Another instance owns the partition.
        case elsewhere
    }

    /// A partition being restored: replayed from `from` (its stored offset) until the consumer reaches
    /// `target`, the partition's end when it was assigned here (nil until the first fetch tells it).
    public struct Restore: Sendable, Equatable {
        public var from: Int64
        public var target: Int64?
        public var since: ContinuousClock.Instant
        public init(from: Int64, target: Int64? = nil, since: ContinuousClock.Instant) {
            self.from = from
            self.target = target
            self.since = since
        }
    }

    private struct State {
        var known = false
        var assigned: Set<TopicPartition> = []
        var restoring: [TopicPartition: Restore] = [:]
        var generation: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Moves on every change of what is servable; the publisher re-checks the users it holds then.
    public var generation: UInt64 { state.withLock { $0.generation } }

    public var restoring: [TopicPartition: Restore] { state.withLock { $0.restoring } }

    public var assigned: Set<TopicPartition> { state.withLock { $0.assigned } }

    /// The group's new assignment, and among its new partitions those to restore first.
    public func assigned(_ partitions: Set<TopicPartition>, restoring: [TopicPartition: Restore]) {
        state.withLock { s in
            s.known = true
            s.assigned = partitions
            s.restoring = s.restoring.filter { partitions.contains($0.key) }.merging(restoring) { $1 }
            s.generation += 1
        }
    }

    /// Next offsets reached (applied records, or the consumer's position); returns the partitions whose
    /// restoration this finished.
    @discardableResult
    public func reached(_ next: [TopicPartition: Int64]) -> [(TopicPartition, Restore)] {
        state.withLock { s in
            guard !s.restoring.isEmpty else { return [] }
            var done: [(TopicPartition, Restore)] = []
            for (tp, r) in s.restoring {
                if let target = r.target, (next[tp] ?? Int64.min) >= target { done.append((tp, r)) }
            }
            guard !done.isEmpty else { return [] }
            for (tp, _) in done { s.restoring[tp] = nil }
            s.generation += 1
            return done
        }
    }

    /// The ends of partitions whose end was not known yet; returns those already reached (nothing to
    /// replay: the stored copy was whole).
    @discardableResult
    public func ends(_ ends: [TopicPartition: Int64]) -> [(TopicPartition, Restore)] {
        state.withLock { s in
            var done: [(TopicPartition, Restore)] = []
            for (tp, end) in ends {
                guard var r = s.restoring[tp], r.target == nil else { continue }
                r.target = end
                if end <= r.from {
                    done.append((tp, r))
                    s.restoring[tp] = nil
                } else {
                    s.restoring[tp] = r
                }
            }
            if !done.isEmpty { s.generation += 1 }
            return done
        }
    }

    /// Whether lists for a user whose newest event came from input partition `partition` are sent here.
    /// A user stored before partitions were recorded (nil) is served.
    public func verdict(partition: Int32?) -> Verdict {
        guard let partition else { return .serve }
        return state.withLock { s in
            guard s.known else { return .wait }
            var owned = false
            for tp in s.assigned where tp.partition == partition {
                if s.restoring[tp] != nil { return .wait }
                owned = true
            }
            return owned ? .serve : .elsewhere
        }
    }
}
