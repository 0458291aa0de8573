/// A batch's new events folded into the rows they change: one per (user, behavior, item), (user, behavior),
/// user and item, each written once per batch by a multi-row statement.
///
/// Why sorting instead of a dictionary per table: the events are ordered once by (user, behavior, item) and
/// every fold is then a run of equal keys, in key order (B-tree locality for the writes). Four hashed upserts
/// per event cost about as much as all the SQLite writes of the event.
struct BatchFold {
    /// A batch's new event, as written to `events`.
    struct Event {
        var seq: Int64, user: Int64, item: Int64, behavior: Int64, feedback: Int64?, ts: Int64
        var value: Double?, weight: Double
        var positive: Bool
        var partition: Int32
        var externalUser: String
    }

    /// A batch's events on one (user, item, behavior), folded the way the stored row folds them: counts
    /// and weights add up, and the feedback kept is that of the last event, in order, with the newest
    /// time. Upserting the fold once equals upserting each event (see the statement).
    struct Interaction {
        var user: Int64, behavior: Int64, item: Int64
        var count: Int64 = 0
        var weight = 0.0
        var lastTs = Int64.min
        var lastFeedback: Int64?

        mutating func add(_ e: Event) {
            count += 1
            weight += e.weight
            if e.ts >= lastTs { lastFeedback = e.feedback }
            lastTs = max(lastTs, e.ts)
        }
    }

    struct UserBehavior {
        var user: Int64, behavior: Int64, count: Int64
    }

    /// Per-user totals of the batch.
    struct User {
        var user: Int64
        var external: String
        var events = 0
        var lastTs = Int64.min
        /// `events.seq` of the user's newest event in the batch, and its input partition.
        var lastSeq: Int64 = 0
        var partition: Int32 = 0
    }

    struct Item {
        var item: Int64, events: Int64, positives: Int64
    }

    var interactions: [Interaction] = []
    var userBehaviors: [UserBehavior] = []
    var users: [User] = []
    var items: [Item] = []

    /// `events` in arrival order (seq ascending).
    init(_ events: [Event]) {
        guard !events.isEmpty else { return }
        events.withUnsafeBufferPointer { e in
            // Ties keep arrival order (the index), which the interaction fold relies on.
            var order = Array(0..<Int32(e.count))
            order.sort { a, b in
                let x = e[Int(a)], y = e[Int(b)]
                return (x.user, x.behavior, x.item, a) < (y.user, y.behavior, y.item, b)
            }
            for i in order {
                let ev = e[Int(i)]
                if users.last?.user != ev.user {
                    users.append(User(user: ev.user, external: ev.externalUser))
                }
                users[users.count - 1].events += 1
                users[users.count - 1].lastTs = max(users[users.count - 1].lastTs, ev.ts)
                if ev.seq > users[users.count - 1].lastSeq {
                    users[users.count - 1].lastSeq = ev.seq
                    users[users.count - 1].partition = ev.partition
                }
                if let last = userBehaviors.last, last.user == ev.user, last.behavior == ev.behavior {
                    userBehaviors[userBehaviors.count - 1].count += 1
                } else {
                    userBehaviors.append(UserBehavior(user: ev.user, behavior: ev.behavior, count: 1))
                }
                if let last = interactions.last, last.user == ev.user, last.behavior == ev.behavior, last.item == ev.item {
                    interactions[interactions.count - 1].add(ev)
                } else {
                    var row = Interaction(user: ev.user, behavior: ev.behavior, item: ev.item)
                    row.add(ev)
                    interactions.append(row)
                }
            }
            // Items: one sort of plain integers, the positive flag in the low bit.
            var keys = e.map { $0.item << 1 | ($0.positive ? 1 : 0) }
            keys.sort()
            for k in keys {
                let item = k >> 1
                if items.last?.item != item { items.append(Item(item: item, events: 0, positives: 0)) }
                items[items.count - 1].events += 1
                items[items.count - 1].positives += k & 1
            }
        }
    }
}
