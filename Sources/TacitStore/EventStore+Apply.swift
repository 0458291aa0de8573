import TacitData

extension EventStore {
    /// The write side: one connection, bounded id caches, and the batch-apply algorithm.
    struct Writer: ~Copyable {
        let db: SQLiteConnection
        let configuration: StoreConfiguration
        var users: BoundedCache
        var items: BoundedCache
        var behaviors: [String: Int64] = [:]

        init(db: SQLiteConnection, configuration: StoreConfiguration) {
            self.db = db
            self.configuration = configuration
            users = BoundedCache(capacity: configuration.idCacheCapacity)
            items = BoundedCache(capacity: configuration.idCacheCapacity)
        }

        /// Per-user totals gathered while applying a batch, written once per user at the end.
        private struct UserDelta {
            var external: String
            var events = 0
            var lastTs = Int64.min
            /// `events.seq` of the user's newest event in the batch.
            var lastSeq: Int64 = 0
        }

        mutating func apply(_ records: [IngestRecord]) throws(StoreError) -> ApplyOutcome {
            do {
                return try db.transaction { () throws(StoreError) -> ApplyOutcome in try applyInTransaction(records) }
            } catch {
                // Ids inserted by the rolled-back transaction must not stay cached.
                users.removeAll()
                items.removeAll()
                behaviors.removeAll()
                throw error
            }
        }

        private mutating func applyInTransaction(_ records: [IngestRecord]) throws(StoreError) -> ApplyOutcome {
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

            let insertID = try db.statement("INSERT OR IGNORE INTO event_ids(id) VALUES (?1)")
            let insertEvent = try db.statement("""
                INSERT INTO events(user, item, behavior, feedback, ts, value, weight) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                """)
            let upsertInteraction = try db.statement("""
                INSERT INTO interactions(user, item, behavior, count, weight, last_ts, last_feedback)
                VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6)
                ON CONFLICT(user, item, behavior) DO UPDATE SET count = count + 1, weight = weight + excluded.weight,
                    last_feedback = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last_feedback ELSE last_feedback END,
                    last_ts = max(last_ts, excluded.last_ts)
                """)
            let upsertUserBehavior = try db.statement("""
                INSERT INTO user_behaviors(user, behavior, count) VALUES (?1, ?2, 1)
                ON CONFLICT(user, behavior) DO UPDATE SET count = count + 1
                """)
            let bumpItem = try db.statement("""
                UPDATE items SET event_count = event_count + 1, positive_count = positive_count + ?2 WHERE id = ?1
                """)
            let insertDead = try db.statement("""
                INSERT INTO dead_letters(topic, partition, offset, reason, detail, key, payload, ts)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                """)
            let countDead = try db.statement("""
                INSERT INTO dead_letter_counts(reason, count) VALUES (?1, 1) ON CONFLICT(reason) DO UPDATE SET count = count + 1
                """)

            var deltas: [Int64: UserDelta] = [:]
            var sawIDs = false
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
                        insertID.reset()
                        insertID.bind(1, id)
                        try insertID.run()
                        if db.changes == 0 {
                            outcome.duplicateIDs += 1
                            continue
                        }
                        sawIDs = true
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
                    upsertInteraction.reset()
                    upsertInteraction.bind(1, user).bind(2, item).bind(3, behavior).bind(4, e.weight).bind(5, e.timestampMs)
                        .bind(6, feedback)
                    try upsertInteraction.run()
                    upsertUserBehavior.reset()
                    upsertUserBehavior.bind(1, user).bind(2, behavior)
                    try upsertUserBehavior.run()
                    bumpItem.reset()
                    bumpItem.bind(1, item).bind(2, Int64(e.feedback?.isPositive == true ? 1 : 0))
                    try bumpItem.run()
                    deltas[user, default: UserDelta(external: e.user)].events += 1
                    deltas[user]!.lastTs = max(deltas[user]!.lastTs, e.timestampMs)
                    deltas[user]!.lastSeq = seq
                    outcome.applied += 1
                }
            }

            // Per-user totals, then trim sequences that grew past the bound (oldest by event time).
            // Each touched user now owes a list reflecting events through `lastSeq`; the publisher
            // clears the row once such a list is acknowledged, so a crash before that loses nothing.
            let bumpUser = try db.statement("""
                UPDATE users SET event_count = event_count + ?2, seq_len = seq_len + ?2,
                    last_ts = max(coalesce(last_ts, ?3), ?3) WHERE id = ?1 RETURNING seq_len
                """)
            let trim = try db.statement("""
                DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE user = ?1 ORDER BY ts, seq LIMIT ?2)
                """)
            let setLen = try db.statement("UPDATE users SET seq_len = ?2 WHERE id = ?1")
            let owe = try db.statement("""
                INSERT INTO owed_lists(user, through_seq, last_ts) VALUES (?1, ?2, ?3)
                ON CONFLICT(user) DO UPDATE SET through_seq = max(through_seq, excluded.through_seq),
                    last_ts = max(coalesce(last_ts, excluded.last_ts), excluded.last_ts)
                """)
            let maxLen = Int64(configuration.maxSequenceLength)
            for (user, d) in deltas {
                bumpUser.reset()
                bumpUser.bind(1, user).bind(2, Int64(d.events)).bind(3, d.lastTs)
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
                outcome.touchedUsers.append(TouchedUser(id: Int32(user - 1), external: d.external, newEvents: d.events,
                                                        lastTimestampMs: d.lastTs))
            }

            // Bound the de-duplication window.
            if sawIDs {
                let trimIDs = try db.statement("DELETE FROM event_ids WHERE seq <= (SELECT max(seq) FROM event_ids) - ?1")
                trimIDs.bind(1, Int64(configuration.dedupWindow))
                try trimIDs.run()
            }

            let putOffset = try db.statement("""
                INSERT INTO offsets(topic, partition, next_offset) VALUES (?1, ?2, ?3)
                ON CONFLICT(topic, partition) DO UPDATE SET next_offset = excluded.next_offset
                """)
            for (p, n) in next where n != stored[p] {
                putOffset.reset()
                putOffset.bind(1, p.topic).bind(2, Int64(p.partition)).bind(3, n)
                try putOffset.run()
            }
            outcome.nextOffsets = next
            return outcome
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
