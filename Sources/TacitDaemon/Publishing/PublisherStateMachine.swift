import TacitStore

/// Which users' lists to compute and (re)send when: per-user debounce, retry with backoff, and
/// "never lose the latest list" — a failed delivery is re-sent unless a newer list for the same
/// user superseded it. Pure value type; times are monotonic milliseconds passed in.
struct PublisherStateMachine: Sendable {
    struct Due: Sendable, Equatable {
        var user: Int32
        var external: String
        /// Newest event time among the events that triggered this list (freshness).
        var lastEventMs: Int64
        /// Identifies the newest list of the user; older lists are not retried.
        var generation: UInt64
        /// Whether new events asked for this list (false: only a republish, e.g. after a promotion), so
        /// freshness is measured on the lists whose events users are waiting to see reflected.
        var fromEvents: Bool = true
        /// Input partition of the user's newest event (nil: unknown), for `PartitionOwnership`.
        var partition: Int32? = nil
    }

    struct Outgoing: Sendable, Equatable {
        var due: Due
        var key: [UInt8]
        var value: [UInt8]
        /// The user's owed `through_seq`, read before the list was computed: its delivery pays
        /// the debt up to there (`EventStore.clearOwedLists`). Nil when nothing was owed.
        var owedThroughSeq: Int64? = nil
        /// The list as `OnlineQuality` remembers it once delivered (nil in tests that send raw bytes).
        var served: ServedList? = nil
    }

    private struct Pending: Sendable {
        var external: String
        var dueAt: Int64
        var lastEventMs: Int64
        var fromEvents: Bool
        var partition: Int32?
    }

    let debounceMs: Int64
    let backoffMs: Int64
    private var pending: [Int32: Pending] = [:]
    /// Due users whose partition is not servable yet (restoring, or no assignment since start).
    private var held: [Int32: Pending] = [:]
    private var retries: [Int32: (list: Outgoing, at: Int64)] = [:]
    /// Newest generation handed out per user; entries leave when that list is delivered.
    private var latest: [Int32: UInt64] = [:]
    private var nextGeneration: UInt64 = 1

    init(debounceMs: Int64, backoffMs: Int64) {
        self.debounceMs = debounceMs
        self.backoffMs = backoffMs
    }

    var pendingCount: Int { pending.count }
    var retryCount: Int { retries.count }
    var heldCount: Int { held.count }
    var isIdle: Bool { pending.isEmpty && retries.isEmpty }

    /// New events for `user`: schedule a list `debounce` from the first touch, merging later ones.
    /// `republish`: no new events, the list is recomputed for another reason (a promotion).
    mutating func touched(
        user: Int32,
        external: String,
        lastEventMs: Int64,
        now: Int64,
        immediately: Bool = false,
        republish: Bool = false,
        partition: Int32? = nil
    ) {
        if var p = pending[user] ?? held[user] {
            p.lastEventMs = max(p.lastEventMs, lastEventMs)
            p.dueAt = immediately ? min(p.dueAt, now) : (held[user] != nil ? now + debounceMs : p.dueAt)
            p.fromEvents = p.fromEvents || !republish
            p.partition = partition ?? p.partition
            pending[user] = p
            held[user] = nil
        } else {
            pending[user] = Pending(
                external: external,
                dueAt: immediately ? now : now + debounceMs,
                lastEventMs: lastEventMs,
                fromEvents: !republish,
                partition: partition
            )
        }
        // A fresh list will be computed: an older failed one need not be re-sent.
        retries[user] = nil
    }

    /// Users whose debounce expired (all pending ones when `all`), each with a new generation.
    /// The users due by `now` (every pending one when `all`), the longest-waiting first (then by user id,
    /// so the order never depends on the dictionary's).
    mutating func takeDue(now: Int64, all: Bool = false) -> [Due] {
        let ready = pending.filter { all || $0.value.dueAt <= now }.sorted { ($0.value.dueAt, $0.key) < ($1.value.dueAt, $1.key) }
        var out: [Due] = []
        out.reserveCapacity(ready.count)
        for (user, p) in ready {
            let g = nextGeneration
            nextGeneration += 1
            latest[user] = g
            pending[user] = nil
            out.append(
                Due(user: user, external: p.external, lastEventMs: p.lastEventMs, generation: g, fromEvents: p.fromEvents, partition: p.partition)
            )
        }
        return out
    }

    /// Failed lists whose backoff expired (all when `all`).
    mutating func takeRetries(now: Int64, all: Bool = false) -> [Outgoing] {
        let ready = retries.filter { all || $0.value.at <= now }
        for user in ready.keys { retries[user] = nil }
        return ready.values.map(\.list).sorted { $0.due.generation < $1.due.generation }
    }

    /// The list was computed but there was nothing to send (no model yet, unknown user), or it is not
    /// this instance's to send.
    mutating func skipped(_ due: Due) {
        if latest[due.user] == due.generation { latest[due.user] = nil }
    }

    /// Not servable yet: kept, out of the schedule, until `releaseHeld`.
    mutating func hold(_ due: Due) {
        skipped(due)
        held[due.user] = Pending(
            external: due.external,
            dueAt: 0,
            lastEventMs: due.lastEventMs,
            fromEvents: due.fromEvents,
            partition: due.partition
        )
    }

    /// What can be served changed: every held user is due at once (and held again if still not servable).
    mutating func releaseHeld(now: Int64) {
        for (user, var p) in held {
            p.dueAt = now
            pending[user] = p
        }
        held.removeAll()
    }

    mutating func delivered(_ list: Outgoing) {
        if latest[list.due.user] == list.due.generation { latest[list.due.user] = nil }
    }

    /// Returns whether the list will be retried (false when a newer list superseded it).
    @discardableResult
    mutating func failed(_ list: Outgoing, now: Int64) -> Bool {
        guard latest[list.due.user] == list.due.generation, pending[list.due.user] == nil else { return false }
        retries[list.due.user] = (list, now + backoffMs)
        return true
    }
}
