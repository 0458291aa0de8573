import TacitData

extension EventStore {
    /// The write side: one connection, bounded id caches, the de-duplication window, and the batch-apply
    /// algorithm.
    struct Writer: ~Copyable {
        let db: SQLiteConnection
        let configuration: StoreConfiguration
        var users: BoundedCache
        var items: BoundedCache
        var behaviors: [String: Int64] = [:]
        var recentIDs: RecentEventIDs

        init(db: SQLiteConnection, configuration: StoreConfiguration) throws(StoreError) {
            self.db = db
            self.configuration = configuration
            users = BoundedCache(capacity: configuration.idCacheCapacity)
            items = BoundedCache(capacity: configuration.idCacheCapacity)
            recentIDs = RecentEventIDs(capacity: configuration.dedupWindow)
            let newest = try db.statement("SELECT id FROM event_ids ORDER BY seq DESC LIMIT ?1")
            newest.bind(1, Int64(configuration.dedupWindow))
            var ids: [String] = []
            while try newest.step() { ids.append(newest.string(0)) }
            newest.reset()
            recentIDs.append(contentsOf: ids.reversed())
        }

        /// Per-user totals gathered while applying a batch, written once per user at the end.
        private struct UserDelta {
            var external: String
            var events = 0
            var lastTs = Int64.min
            /// `events.seq` of the user's newest event in the batch.
            var lastSeq: Int64 = 0
            /// Input partition of that event.
            var partition: Int32 = 0

            mutating func add(ts: Int64, seq: Int64, partition: Int32) {
                events += 1
                lastTs = max(lastTs, ts)
                lastSeq = seq
                self.partition = partition
            }
        }

        private struct ItemDelta {
            var events: Int64 = 0
            var positives: Int64 = 0
        }

        private struct InteractionKey: Hashable, Comparable {
            var user: Int64, item: Int64, behavior: Int64
            static func < (a: Self, b: Self) -> Bool { (a.user, a.item, a.behavior) < (b.user, b.item, b.behavior) }
        }

        /// A batch's events on one (user, item, behavior), folded the way the stored row folds them: counts
        /// and weights add up, and the feedback kept is that of the last event, in order, with the newest
        /// time. Upserting the fold once equals upserting each event (see the statement), so each row is
        /// written once per batch rather than once per event.
        private struct InteractionDelta {
            var count: Int64 = 0
            var weight = 0.0
            var lastTs = Int64.min
            var lastFeedback: Int64?

            mutating func add(weight w: Double, ts: Int64, feedback: Int64?) {
                count += 1
                weight += w
                if ts >= lastTs { lastFeedback = feedback }
                lastTs = max(lastTs, ts)
            }
        }

        private struct UserBehaviorKey: Hashable, Comparable {
            var user: Int64, behavior: Int64
            static func < (a: Self, b: Self) -> Bool { (a.user, a.behavior) < (b.user, b.behavior) }
        }

        /// Applies a batch in one transaction; on success also returns the positive events per item it added,
        /// for the in-memory popularity.
        mutating func apply(_ records: [IngestRecord]) throws(StoreError) -> (ApplyOutcome, positives: [Int32: Int64]) {
            var batchIDs: [String] = []
            do {
                let result = try db.transaction { () throws(StoreError) -> (ApplyOutcome, positives: [Int32: Int64]) in
                    try applyInTransaction(records, ids: &batchIDs)
                }
                recentIDs.append(contentsOf: batchIDs)
                return result
            } catch {
                // Ids inserted by the rolled-back transaction must not stay cached.
                users.removeAll()
                items.removeAll()
                behaviors.removeAll()
                throw error
            }
        }

        private mutating func applyInTransaction(
            _ records: [IngestRecord],
            ids batchIDs: inout [String]
        )
            throws(StoreError) -> (ApplyOutcome, positives: [Int32: Int64])
        {
            var outcome = ApplyOutcome()
            // Stored next offsets of the partitions in this batch: the replay filter.
            var next: [StreamPartition: Int64] = [:]
            let getOffset = try db.statement("SELECT next_offset FROM offsets WHERE topic = ?1 AND partition = ?2")
            for r in records where next[r.position.partition] == nil {
                getOffset.reset()
                getOffset.bind(1, r.position.partition.topic).bind(2, Int64(r.position.partition.partition))
                next[r.position.partition] = try getOffset.step() ? getOffset.int64(0) : 0
            }
            let stored = next

            let insertID = try db.statement("INSERT INTO event_ids(id) VALUES (?1)")
            let insertEvent = try db.statement(
                """
                INSERT INTO events(user, item, behavior, feedback, ts, value, weight) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                """
            )
            let insertDead = try db.statement(
                """
                INSERT INTO dead_letters(topic, partition, offset, reason, detail, key, payload, ts)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                """
            )
            let countDead = try db.statement(
                """
                INSERT INTO dead_letter_counts(reason, count) VALUES (?1, 1) ON CONFLICT(reason) DO UPDATE SET count = count + 1
                """
            )

            var deltas: [Int64: UserDelta] = [:]
            var interactions: [InteractionKey: InteractionDelta] = [:]
            var userBehaviors: [UserBehaviorKey: Int64] = [:]
            var itemEvents: [Int64: ItemDelta] = [:]
            var batchIDSet = Set<String>()
            for r in records {
                let p = r.position.partition
                // Replay filter: anything below what is stored was applied by an earlier transaction.
                if r.position.offset < stored[p]! {
                    outcome.replayed += 1
                    continue
                }
                next[p] = max(next[p]!, r.position.offset + 1)
                switch r.payload {
                case .deadLetter(let d):
                    insertDead.reset()
                    insertDead.bind(1, p.topic).bind(2, Int64(p.partition)).bind(3, r.position.offset).bind(4, d.reason)
                        .bind(5, d.detail).bind(6, d.key).bind(7, d.payload).bind(8, d.timestampMs)
                    try insertDead.run()
                    countDead.reset()
                    countDead.bind(1, d.reason)
                    try countDead.run()
                    outcome.deadLettered += 1
                    outcome.deadLetteredByReason[d.reason, default: 0] += 1
                case .event(let e):
                    if let id = e.eventID {
                        if recentIDs.contains(id) || !batchIDSet.insert(id).inserted {
                            outcome.duplicateIDs += 1
                            continue
                        }
                        batchIDs.append(id)
                        insertID.reset()
                        insertID.bind(1, id)
                        try insertID.run()
                    }
                    let user = try userRow(e.user)
                    let item = try itemRow(e.item)
                    let behavior = try behaviorRow(e.behavior)
                    let feedback = e.feedback.map { Int64($0.rawValue) }
                    insertEvent.reset()
                    insertEvent.bind(1, user).bind(2, item).bind(3, behavior).bind(4, feedback).bind(5, e.timestampMs)
                        .bind(6, e.value).bind(7, e.weight)
                    try insertEvent.run()
                    let seq = db.lastInsertRowID
                    interactions[InteractionKey(user: user, item: item, behavior: behavior), default: InteractionDelta()]
                        .add(weight: e.weight, ts: e.timestampMs, feedback: feedback)
                    userBehaviors[UserBehaviorKey(user: user, behavior: behavior), default: 0] += 1
                    itemEvents[item, default: ItemDelta()].events += 1
                    if e.feedback?.isPositive == true { itemEvents[item]!.positives += 1 }
                    deltas[user, default: UserDelta(external: e.user)]
                        .add(ts: e.timestampMs, seq: seq, partition: r.position.partition.partition)
                    outcome.applied += 1
                }
            }

            // Once per (user, item, behavior), (user, behavior) and item, in key order (B-tree locality).
            let upsertInteraction = try db.statement(
                """
                INSERT INTO interactions(user, item, behavior, count, weight, last_ts, last_feedback)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                ON CONFLICT(user, item, behavior) DO UPDATE SET count = count + excluded.count,
                    weight = weight + excluded.weight,
                    last_feedback = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last_feedback ELSE last_feedback END,
                    last_ts = max(last_ts, excluded.last_ts)
                """
            )
            for (k, d) in interactions.sorted(by: { $0.key < $1.key }) {
                upsertInteraction.reset()
                upsertInteraction.bind(1, k.user).bind(2, k.item).bind(3, k.behavior).bind(4, d.count).bind(5, d.weight)
                    .bind(6, d.lastTs).bind(7, d.lastFeedback)
                try upsertInteraction.run()
            }
            let upsertUserBehavior = try db.statement(
                """
                INSERT INTO user_behaviors(user, behavior, count) VALUES (?1, ?2, ?3)
                ON CONFLICT(user, behavior) DO UPDATE SET count = count + excluded.count
                """
            )
            for (k, n) in userBehaviors.sorted(by: { $0.key < $1.key }) {
                upsertUserBehavior.reset()
                upsertUserBehavior.bind(1, k.user).bind(2, k.behavior).bind(3, n)
                try upsertUserBehavior.run()
            }
            let bumpItem = try db.statement(
                """
                UPDATE items SET event_count = event_count + ?2, positive_count = positive_count + ?3 WHERE id = ?1
                """
            )
            var positives: [Int32: Int64] = [:]
            for (item, n) in itemEvents.sorted(by: { $0.key < $1.key }) {
                bumpItem.reset()
                bumpItem.bind(1, item).bind(2, n.events).bind(3, n.positives)
                try bumpItem.run()
                if n.positives != 0 { positives[Int32(item - 1)] = n.positives }
            }

            // Per-user totals, then trim sequences that grew past the bound (oldest by event time).
            // Each touched user now owes a list reflecting events through `lastSeq`; the publisher
            // clears the row once such a list is acknowledged, so a crash before that loses nothing.
            let bumpUser = try db.statement(
                """
                UPDATE users SET event_count = event_count + ?2, seq_len = seq_len + ?2,
                    last_ts = max(coalesce(last_ts, ?3), ?3), input_partition = ?4 WHERE id = ?1 RETURNING seq_len
                """
            )
            let trim = try db.statement(
                """
                DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE user = ?1 ORDER BY ts, seq LIMIT ?2)
                """
            )
            let setLen = try db.statement("UPDATE users SET seq_len = ?2 WHERE id = ?1")
            let owe = try db.statement(
                """
                INSERT INTO owed_lists(user, through_seq, last_ts) VALUES (?1, ?2, ?3)
                ON CONFLICT(user) DO UPDATE SET through_seq = max(through_seq, excluded.through_seq),
                    last_ts = max(coalesce(last_ts, excluded.last_ts), excluded.last_ts)
                """
            )
            let maxLen = Int64(configuration.maxSequenceLength)
            for (user, d) in deltas {
                bumpUser.reset()
                bumpUser.bind(1, user).bind(2, Int64(d.events)).bind(3, d.lastTs).bind(4, Int64(d.partition))
                var len: Int64 = 0
                while try bumpUser.step() { len = bumpUser.int64(0) }
                if len > maxLen {
                    trim.reset()
                    trim.bind(1, user).bind(2, len - maxLen)
                    try trim.run()
                    setLen.reset()
                    setLen.bind(1, user).bind(2, maxLen)
                    try setLen.run()
                }
                owe.reset()
                owe.bind(1, user).bind(2, d.lastSeq).bind(3, d.lastTs)
                try owe.run()
                outcome.touchedUsers.append(
                    TouchedUser(
                        id: Int32(user - 1),
                        external: d.external,
                        newEvents: d.events,
                        lastTimestampMs: d.lastTs,
                        partition: d.partition
                    )
                )
            }

            // Bound the stored de-duplication window (the in-memory one bounds itself).
            if !batchIDs.isEmpty {
                let trimIDs = try db.statement("DELETE FROM event_ids WHERE seq <= (SELECT max(seq) FROM event_ids) - ?1")
                trimIDs.bind(1, Int64(configuration.dedupWindow))
                try trimIDs.run()
            }

            let putOffset = try db.statement(
                """
                INSERT INTO offsets(topic, partition, next_offset) VALUES (?1, ?2, ?3)
                ON CONFLICT(topic, partition) DO UPDATE SET next_offset = excluded.next_offset
                """
            )
            for (p, n) in next where n != stored[p] {
                putOffset.reset()
                putOffset.bind(1, p.topic).bind(2, Int64(p.partition)).bind(3, n)
                try putOffset.run()
            }
            outcome.nextOffsets = next
            return (outcome, positives)
        }

        // MARK: - Id maps

        private mutating func userRow(_ ext: String) throws(StoreError) -> Int64 {
            if let id = users[ext] { return id }
            let id = try internRow("users", ext)
            users[ext] = id
            return id
        }

        private mutating func itemRow(_ ext: String) throws(StoreError) -> Int64 {
            if let id = items[ext] { return id }
            let id = try internRow("items", ext)
            items[ext] = id
            return id
        }

        private mutating func behaviorRow(_ name: String) throws(StoreError) -> Int64 {
            if let id = behaviors[name] { return id }
            let id = try internRow("behaviors", name, column: "name")
            behaviors[name] = id
            return id
        }

        private func internRow(_ table: String, _ ext: String, column: String = "ext") throws(StoreError) -> Int64 {
            let get = try db.statement("SELECT id FROM \(table) WHERE \(column) = ?1")
            get.bind(1, ext)
            if try get.step() { return get.int64(0) }
            let put = try db.statement("INSERT INTO \(table)(\(column)) VALUES (?1)")
            put.bind(1, ext)
            try put.run()
            return db.lastInsertRowID
        }
    }
}

/// A string → row id cache that holds at most `capacity` entries: when full it starts over.
/// Crude but bounded; misses cost one indexed SELECT.
struct BoundedCache {
    let capacity: Int
    private var entries: [String: Int64] = [:]

    init(capacity: Int) { self.capacity = max(1, capacity) }

    subscript(key: String) -> Int64? {
        get { entries[key] }
        set {
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = newValue
        }
    }

    mutating func removeAll() { entries.removeAll() }
}
