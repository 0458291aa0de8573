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
        /// The last behavior looked up: a batch is mostly one or two behaviors, and comparing is cheaper than hashing.
        var lastBehavior: (name: String, id: Int64)?
        var recentIDs: RecentEventIDs
        /// `events.seq` of the next event: the apply assigns seqs itself, so that a batch's events are written
        /// with multi-row statements. Read from `sqlite_sequence` at open and after a rollback.
        var nextSeq: Int64 = 1

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
            nextSeq = try Self.storedNextSeq(db)
        }

        /// One past the largest `events.seq` ever used: AUTOINCREMENT keeps it in `sqlite_sequence` (explicit
        /// seqs included), and `max(seq)` covers a file whose sequence row is missing.
        private static func storedNextSeq(_ db: SQLiteConnection) throws(StoreError) -> Int64 {
            let s = try db.statement(
                """
                SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
                    coalesce((SELECT max(seq) FROM events), 0))
                """
            )
            defer { s.reset() }
            return try s.step() ? s.int64(0) + 1 : 1
        }

        /// Applies a batch in one transaction; on success also returns the positive events per item it added,
        /// for the in-memory popularity.
        mutating func apply(_ records: [IngestRecord]) throws(StoreError) -> (ApplyOutcome, positives: [Int32: Int64]) {
            do {
                let result = try db.transaction { () throws(StoreError) -> (ApplyOutcome, positives: [Int32: Int64]) in
                    try applyInTransaction(records)
                }
                recentIDs.commit()
                return result
            } catch {
                // Ids inserted by the rolled-back transaction must not stay cached, nor its seqs counted.
                recentIDs.rollback()
                users.removeAll()
                items.removeAll()
                behaviors.removeAll()
                lastBehavior = nil
                if let stored = try? Self.storedNextSeq(db) { nextSeq = stored }
                throw error
            }
        }

        // The batch's writes: one multi-row statement per table, each run once per chunk of rows.
        private static let insertEvents = MultiRowStatement(
            "INSERT INTO events(seq, user, item, behavior, feedback, ts, value, weight) VALUES",
            columns: 8
        )
        private static let insertIDs = MultiRowStatement("INSERT INTO event_ids(id) VALUES", columns: 1, maxRows: 256)
        /// Upserting a batch's fold of a (user, item, behavior) equals upserting each of its events in order.
        private static let upsertInteractions = MultiRowStatement(
            "INSERT INTO interactions(user, item, behavior, count, weight, last_ts, last_feedback) VALUES",
            columns: 7,
            """
            ON CONFLICT(user, item, behavior) DO UPDATE SET count = count + excluded.count,
                weight = weight + excluded.weight,
                last_feedback = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last_feedback ELSE last_feedback END,
                last_ts = max(last_ts, excluded.last_ts)
            """
        )
        private static let upsertUserBehaviors = MultiRowStatement(
            "INSERT INTO user_behaviors(user, behavior, count) VALUES",
            columns: 3,
            "ON CONFLICT(user, behavior) DO UPDATE SET count = count + excluded.count"
        )
        private static let bumpItems = MultiRowStatement(
            """
            UPDATE items SET event_count = event_count + v.column2, positive_count = positive_count + v.column3
            FROM (VALUES
            """,
            columns: 3,
            ") AS v WHERE items.id = v.column1"
        )
        private static let bumpUsers = MultiRowStatement(
            """
            UPDATE users SET event_count = event_count + v.column2, seq_len = seq_len + v.column2,
                last_ts = max(coalesce(last_ts, v.column3), v.column3), input_partition = v.column4
            FROM (VALUES
            """,
            columns: 4,
            ") AS v WHERE users.id = v.column1 RETURNING users.id, users.seq_len"
        )
        /// Each touched user now owes a list reflecting events through their newest seq; the publisher clears
        /// the row once such a list is acknowledged, so a crash before that loses nothing.
        private static let oweLists = MultiRowStatement(
            "INSERT INTO owed_lists(user, through_seq, last_ts) VALUES",
            columns: 3,
            """
            ON CONFLICT(user) DO UPDATE SET through_seq = max(through_seq, excluded.through_seq),
                last_ts = max(coalesce(last_ts, excluded.last_ts), excluded.last_ts)
            """
        )

        private mutating func applyInTransaction(
            _ records: [IngestRecord]
        ) throws(StoreError) -> (
            ApplyOutcome, positives: [Int32: Int64]
        ) {
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

            var events: [BatchFold.Event] = []
            events.reserveCapacity(records.count)
            // Records come in runs of one partition: its offsets are looked up once per run, not hashed per record.
            var run: (partition: StreamPartition, stored: Int64, next: Int64)?
            for r in records {
                let p = r.position.partition
                if run?.partition != p {
                    if let done = run { next[done.partition] = done.next }
                    run = (p, stored[p]!, next[p]!)
                }
                // Replay filter: anything below what is stored was applied by an earlier transaction.
                if r.position.offset < run!.stored {
                    outcome.replayed += 1
                    continue
                }
                run!.next = max(run!.next, r.position.offset + 1)
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
                        if !recentIDs.insert(id) {
                            outcome.duplicateIDs += 1
                            continue
                        }
                    }
                    let user = try userRow(e.user)
                    let item = try itemRow(e.item)
                    let behavior = try behaviorRow(e.behavior)
                    let feedback = e.feedback.map { Int64($0.rawValue) }
                    let seq = nextSeq
                    nextSeq += 1
                    events.append(
                        BatchFold.Event(
                            seq: seq,
                            user: user,
                            item: item,
                            behavior: behavior,
                            feedback: feedback,
                            ts: e.timestampMs,
                            value: e.value,
                            weight: e.weight,
                            positive: e.feedback?.isPositive == true,
                            partition: p.partition,
                            externalUser: e.user
                        )
                    )
                    outcome.applied += 1
                }
            }

            if let done = run { next[done.partition] = done.next }
            try Self.insertEvents.run(db, count: events.count) { s, i, p in
                let e = events[i]
                s.bind(p, e.seq).bind(p + 1, e.user).bind(p + 2, e.item).bind(p + 3, e.behavior).bind(p + 4, e.feedback)
                    .bind(p + 5, e.ts).bind(p + 6, e.value).bind(p + 7, e.weight)
            }
            let batchIDs = recentIDs.pending
            try Self.insertIDs.run(db, count: batchIDs.count) { s, i, p in s.bind(p, batchIDs[i]) }

            // Once per (user, behavior, item), (user, behavior), item and user, in key order (B-tree locality).
            let fold = BatchFold(events)
            try Self.upsertInteractions.run(db, count: fold.interactions.count) { s, i, p in
                let r = fold.interactions[i]
                s.bind(p, r.user).bind(p + 1, r.item).bind(p + 2, r.behavior).bind(p + 3, r.count).bind(p + 4, r.weight)
                    .bind(p + 5, r.lastTs).bind(p + 6, r.lastFeedback)
            }
            try Self.upsertUserBehaviors.run(db, count: fold.userBehaviors.count) { s, i, p in
                let r = fold.userBehaviors[i]
                s.bind(p, r.user).bind(p + 1, r.behavior).bind(p + 2, r.count)
            }
            try Self.bumpItems.run(db, count: fold.items.count) { s, i, p in
                let r = fold.items[i]
                s.bind(p, r.item).bind(p + 1, r.events).bind(p + 2, r.positives)
            }
            var positives: [Int32: Int64] = [:]
            for r in fold.items where r.positives != 0 { positives[Int32(r.item - 1)] = r.positives }

            // Per-user totals, then trim sequences that grew past the bound (oldest by event time).
            var lengths: [(user: Int64, length: Int64)] = []
            lengths.reserveCapacity(fold.users.count)
            try Self.bumpUsers.run(
                db,
                count: fold.users.count,
                bind: { s, i, p in
                    let u = fold.users[i]
                    s.bind(p, u.user).bind(p + 1, Int64(u.events)).bind(p + 2, u.lastTs).bind(p + 3, Int64(u.partition))
                },
                result: { s in lengths.append((s.int64(0), s.int64(1))) }
            )
            let trim = try db.statement(
                """
                DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE user = ?1 ORDER BY ts, seq LIMIT ?2)
                """
            )
            let setLen = try db.statement("UPDATE users SET seq_len = ?2 WHERE id = ?1")
            let maxLen = Int64(configuration.maxSequenceLength)
            for (user, len) in lengths.sorted(by: { $0.user < $1.user }) where len > maxLen {
                trim.reset()
                trim.bind(1, user).bind(2, len - maxLen)
                try trim.run()
                setLen.reset()
                setLen.bind(1, user).bind(2, maxLen)
                try setLen.run()
            }
            try Self.oweLists.run(db, count: fold.users.count) { s, i, p in
                let u = fold.users[i]
                s.bind(p, u.user).bind(p + 1, u.lastSeq).bind(p + 2, u.lastTs)
            }
            outcome.touchedUsers = fold.users.map { u in
                TouchedUser(
                    id: Int32(u.user - 1),
                    external: u.external,
                    newEvents: u.events,
                    lastTimestampMs: u.lastTs,
                    partition: u.partition
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
            if let last = lastBehavior, last.name == name { return last.id }
            let id: Int64
            if let known = behaviors[name] {
                id = known
            } else {
                id = try internRow("behaviors", name, column: "name")
                behaviors[name] = id
            }
            lastBehavior = (name, id)
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
