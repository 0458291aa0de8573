import CSQLite
import Foundation
import Synchronization
import TacitData

/// The daemon's durable state in one SQLite file (WAL): id maps, bounded per-user sequences,
/// interaction counts, consumed offsets, event-id de-duplication, the dead-letter outbox and
/// model snapshots.
///
/// **Exactly-once effect.** `apply(_:)` writes a batch of events *and* the offsets they came from
/// in one transaction. Records at offsets below the stored next offset are skipped, so a replay
/// (after `kill -9`, a rebalance or a reconnect) never applies anything twice, and nothing is lost
/// because the consumer resumes from the stored offsets.
///
/// Writes go through one connection under a lock; reads use a second connection, which WAL lets
/// run concurrently with a write.
public final class EventStore: Sendable {
    public let configuration: StoreConfiguration
    private let writer: Mutex<Writer>
    private let reader: Mutex<ReadConnection>
    private let popularity: Mutex<PopularityCounts>

    static let schemaVersion = 7

    public init(configuration: StoreConfiguration) throws {
        self.configuration = configuration
        let w = try SQLiteConnection(path: configuration.path)
        try w.exec("PRAGMA journal_mode=WAL")
        try w.exec("PRAGMA synchronous=\(configuration.synchronous.rawValue.uppercased())")
        try w.exec("PRAGMA foreign_keys=OFF")
        try w.exec("PRAGMA temp_store=MEMORY")
        try w.exec("PRAGMA cache_size=-\(configuration.cacheMB * 1024)")
        // Checkpoint every 32 MiB of WAL instead of 4: a page updated by several batches is copied back once,
        // and the fsync of the main file is paid less often (the batch apply's COMMITs took 30 % less time).
        try w.exec("PRAGMA wal_autocheckpoint=8192")
        try Schema.migrate(w)
        let r = try SQLiteConnection(path: configuration.path, readOnly: true)
        writer = Mutex(try Writer(db: w, configuration: configuration))
        reader = Mutex(ReadConnection(db: r))
        var counts = PopularityCounts()
        let positives = try w.statement("SELECT id, positive_count FROM items WHERE positive_count != 0")
        var loaded: [Int32: Int64] = [:]
        while try positives.step() { loaded[Int32(positives.int64(0) - 1)] = positives.int64(1) }
        positives.reset()
        counts.add(loaded)
        popularity = Mutex(counts)
    }

    /// Runs `body` on the read connection and leaves no statement mid-step.
    func read<R>(_ body: (SQLiteConnection) throws -> R) throws -> R {
        try reader.withLock { r in
            defer { r.db.resetAll() }
            return try body(r.db)
        }
    }

    /// Runs `body` in one transaction on the write connection.
    func write<R: Sendable>(_ body: (SQLiteConnection) throws(StoreError) -> R) throws -> R {
        try writer.withLock { w in try w.db.transaction { () throws(StoreError) -> R in try body(w.db) } }
    }

    // MARK: - Applying batches

    /// Applies a batch in one transaction: new events, dead letters (into the outbox), and the
    /// next offset of every partition the batch touched. See the type's documentation.
    public func apply(_ records: [IngestRecord]) throws -> ApplyOutcome {
        try writer.withLock { w in
            let (outcome, positives) = try w.apply(records)
            popularity.withLock { $0.add(positives) }  // after the commit, in commit order
            return outcome
        }
    }

    // MARK: - Offsets

    /// The next offset to consume per partition (one past the last applied record).
    public func nextOffsets(for partitions: [StreamPartition]) throws -> [StreamPartition: Int64] {
        try read { r in
            var out: [StreamPartition: Int64] = [:]
            let s = try r.statement("SELECT next_offset FROM offsets WHERE topic = ?1 AND partition = ?2")
            for p in partitions {
                s.reset()
                s.bind(1, p.topic).bind(2, Int64(p.partition))
                if try s.step() { out[p] = s.int64(0) }
            }
            return out
        }
    }

    /// Every stored offset.
    public func allOffsets() throws -> [StreamPartition: Int64] {
        try read { r in
            var out: [StreamPartition: Int64] = [:]
            let s = try r.statement("SELECT topic, partition, next_offset FROM offsets")
            while try s.step() { out[StreamPartition(s.string(0), Int32(s.int64(1)))] = s.int64(2) }
            return out
        }
    }

    // MARK: - Reads for serving and training

    /// Dense id of a user, if known.
    public func userID(_ external: String) throws -> Int32? {
        try read { r in
            let s = try r.statement("SELECT id FROM users WHERE ext = ?1")
            s.bind(1, external)
            return try s.step() ? Int32(s.int64(0) - 1) : nil
        }
    }

    /// Dense id of a user and the input partition of their newest event (nil before schema 5 wrote it),
    /// if the user is known.
    public func userIDAndPartition(_ external: String) throws -> (id: Int32, partition: Int32?)? {
        try read { r in
            let s = try r.statement("SELECT id, input_partition FROM users WHERE ext = ?1")
            s.bind(1, external)
            return try s.step() ? (Int32(s.int64(0) - 1), s.optionalInt64(1).map { Int32($0) }) : nil
        }
    }

    /// Dense id of an item, if known.
    public func itemID(_ external: String) throws -> Int32? {
        try read { r in
            let s = try r.statement("SELECT id FROM items WHERE ext = ?1")
            s.bind(1, external)
            return try s.step() ? Int32(s.int64(0) - 1) : nil
        }
    }

    /// Dense ids of `externals`, in order, creating the items not yet known (without events: they count
    /// for nothing until someone takes them). A serving instance registers the items of a model it
    /// received, so that it can list items none of its own users has touched yet.
    public func registerItems(_ externals: [String]) throws -> [Int32] {
        try write { db throws(StoreError) -> [Int32] in
            let get = try db.statement("SELECT id FROM items WHERE ext = ?1")
            let put = try db.statement("INSERT INTO items(ext) VALUES (?1)")
            var ids: [Int32] = []
            ids.reserveCapacity(externals.count)
            for ext in externals {
                get.reset()
                get.bind(1, ext)
                if try get.step() {
                    ids.append(Int32(get.int64(0) - 1))
                    continue
                }
                put.reset()
                put.bind(1, ext)
                try put.run()
                ids.append(Int32(db.lastInsertRowID - 1))
            }
            get.reset()
            return ids
        }
    }

    /// External ids of the given items (dense ids), in order; unknown ids give "".
    public func itemExternalIDs(for ids: [Int32]) throws -> [String] {
        try read { r in
            let s = try r.statement("SELECT ext FROM items WHERE id = ?1")
            return try ids.map { (id: Int32) throws(StoreError) -> String in
                s.reset()
                s.bind(1, Int64(id) + 1)
                return try s.step() ? s.string(0) : ""
            }
        }
    }

    /// The users with the newest events, most recent first (dense id, external id, newest event time, and
    /// the input partition of that event).
    public func recentUsers(limit: Int) throws -> [(id: Int32, external: String, lastTimestampMs: Int64, partition: Int32?)] {
        try read { r in
            var out: [(Int32, String, Int64, Int32?)] = []
            let s = try r.statement(
                "SELECT id, ext, last_ts, input_partition FROM users WHERE last_ts IS NOT NULL ORDER BY last_ts DESC LIMIT ?1"
            )
            s.bind(1, Int64(limit))
            while try s.step() { out.append((Int32(s.int64(0) - 1), s.string(1), s.int64(2), s.optionalInt64(3).map { Int32($0) })) }
            return out
        }
    }

    /// External ids of all users (index = dense id).
    public func userExternalIDs() throws -> [String] { try externalIDs("users") }
    /// External ids of all items (index = dense id).
    public func itemExternalIDs() throws -> [String] { try externalIDs("items") }

    private func externalIDs(_ table: String) throws -> [String] {
        try read { r in
            var out: [String] = []
            let s = try r.statement("SELECT ext FROM \(table) ORDER BY id")
            while try s.step() { out.append(s.string(0)) }
            return out
        }
    }

    public struct Counts: Sendable, Equatable {
        public var users: Int
        public var items: Int
        /// Events applied since the store was created (exact, never trimmed).
        public var eventsApplied: Int64
        /// Events currently kept in sequences (after trimming).
        public var eventsStored: Int64
        public var pendingDeadLetters: Int
        public var deadLettered: [String: Int64]
        /// Newest event sequence number.
        public var lastSeq: Int64
    }

    public func counts() throws -> Counts {
        try read { r in
            func scalar(_ sql: String) throws -> Int64 {
                let s = try r.statement(sql)
                return try s.step() ? s.int64(0) : 0
            }
            var dl: [String: Int64] = [:]
            let s = try r.statement("SELECT reason, count FROM dead_letter_counts")
            while try s.step() { dl[s.string(0)] = s.int64(1) }
            return Counts(
                users: Int(try scalar("SELECT count(*) FROM users")),
                items: Int(try scalar("SELECT count(*) FROM items")),
                eventsApplied: try scalar("SELECT coalesce(sum(event_count), 0) FROM users"),
                eventsStored: try scalar("SELECT count(*) FROM events"),
                pendingDeadLetters: Int(try scalar("SELECT count(*) FROM dead_letters WHERE delivered_ms IS NULL")),
                deadLettered: dl,
                lastSeq: try scalar("SELECT coalesce(max(seq), 0) FROM events")
            )
        }
    }

    /// Exact number of events applied for `user` (including trimmed ones).
    public func eventCount(user external: String) throws -> Int64 {
        try read { r in
            let s = try r.statement("SELECT event_count FROM users WHERE ext = ?1")
            s.bind(1, external)
            return try s.step() ? s.int64(0) : 0
        }
    }

    /// Per-user exact event counts, by external id.
    public func eventCountsByUser() throws -> [String: Int64] {
        try read { r in
            var out: [String: Int64] = [:]
            let s = try r.statement("SELECT ext, event_count FROM users")
            while try s.step() { out[s.string(0)] = s.int64(1) }
            return out
        }
    }

    /// Per-behavior event counts of a user (exact).
    public func behaviorCounts(user: Int32) throws -> [String: Int64] {
        try read { r in
            var out: [String: Int64] = [:]
            let s = try r.statement(
                """
                SELECT b.name, ub.count FROM user_behaviors ub JOIN behaviors b ON b.id = ub.behavior WHERE ub.user = ?1
                """
            )
            s.bind(1, Int64(user) + 1)
            while try s.step() { out[s.string(0)] = s.int64(1) }
            return out
        }
    }

    /// The user's kept sequence, oldest first (time order, ties by arrival).
    public func sequence(user: Int32) throws -> [SequenceEvent] {
        try sequenceEvents(user: user, newestFirst: false, limit: -1)
    }

    /// A user's newest kept events, newest first.
    public func recentEvents(user: Int32, limit: Int) throws -> [SequenceEvent] {
        try sequenceEvents(user: user, newestFirst: true, limit: limit)
    }

    /// `limit` −1: all of them.
    private func sequenceEvents(user: Int32, newestFirst: Bool, limit: Int) throws -> [SequenceEvent] {
        try read { r in
            var out: [SequenceEvent] = []
            let order = newestFirst ? "e.ts DESC, e.seq DESC" : "e.ts, e.seq"
            let s = try r.statement(
                """
                SELECT e.seq, e.item, b.name, e.feedback, e.ts, e.value, e.weight
                FROM events e JOIN behaviors b ON b.id = e.behavior WHERE e.user = ?1 ORDER BY \(order) LIMIT ?2
                """
            )
            s.bind(1, Int64(user) + 1).bind(2, Int64(limit))
            while try s.step() {
                out.append(
                    SequenceEvent(
                        seq: s.int64(0),
                        item: Int32(s.int64(1) - 1),
                        behavior: s.string(2),
                        feedback: s.optionalInt64(3).map(Int.init),
                        timestampMs: s.int64(4),
                        value: s.optionalDouble(5),
                        weight: s.double(6)
                    )
                )
            }
            return out
        }
    }

    /// Items the user interacted with at all, and those with explicit negative feedback.
    public func interactedItems(user: Int32) throws -> (consumed: Set<Int32>, disliked: Set<Int32>) {
        try read { r in
            var consumed = Set<Int32>(), disliked = Set<Int32>()
            let s = try r.statement("SELECT item, max(last_feedback = ?2) FROM interactions WHERE user = ?1 GROUP BY item")
            s.bind(1, Int64(user) + 1).bind(2, Int64(FeedbackKind.explicitNegative.rawValue))
            while try s.step() {
                let item = Int32(s.int64(0) - 1)
                consumed.insert(item)
                if s.int64(1) == 1 { disliked.insert(item) }
            }
            return (consumed, disliked)
        }
    }

    /// The user's interactions, one per (item, behavior), with the feedback of the newest event of each.
    public func interactions(user: Int32) throws -> [(item: Int32, behavior: String, lastFeedback: Int?)] {
        try read { r in
            var out: [(Int32, String, Int?)] = []
            let s = try r.statement(
                """
                SELECT i.item, b.name, i.last_feedback FROM interactions i JOIN behaviors b ON b.id = i.behavior WHERE i.user = ?1
                """
            )
            s.bind(1, Int64(user) + 1)
            while try s.step() { out.append((Int32(s.int64(0) - 1), s.string(1), s.optionalInt64(2).map(Int.init))) }
            return out
        }
    }

    /// Per item, how many events of any behavior the user ever sent on it (exact; the kept sequence may hold fewer).
    public func itemEventCounts(user: Int32) throws -> [Int32: Int64] {
        try read { r in
            var out: [Int32: Int64] = [:]
            let s = try r.statement("SELECT item, sum(count) FROM interactions WHERE user = ?1 GROUP BY item")
            s.bind(1, Int64(user) + 1)
            while try s.step() { out[Int32(s.int64(0) - 1)] = s.int64(1) }
            return out
        }
    }

    /// Items by the number of positive events on them, most first (ties by id): the popularity baseline.
    /// From memory (`PopularityCounts`): what was stored at open plus every batch this store applied since.
    public func popularItems(limit: Int) throws -> [(item: Int32, positives: Int64)] {
        popularity.withLock { $0.top(limit) }
    }

    /// Positive events (explicit or implicit positive feedback, any behavior) in sequence order: those with
    /// `seq > afterSeq`, or with `newest` only the newest that many of them. What the trend of item
    /// popularity (`ItemTrend`) counts.
    public func positiveEvents(afterSeq: Int64 = 0, newest: Int? = nil) throws -> [(seq: Int64, user: Int32, item: Int32)] {
        try read { r in
            let s = try r.statement(
                """
                SELECT seq, user, item FROM events WHERE seq > ?1 AND feedback IN (?2, ?3) ORDER BY seq DESC LIMIT ?4
                """
            )
            s.bind(1, afterSeq).bind(2, Int64(FeedbackKind.explicitPositive.rawValue))
                .bind(3, Int64(FeedbackKind.implicitPositive.rawValue)).bind(4, Int64(newest ?? -1))
            var out: [(seq: Int64, user: Int32, item: Int32)] = []
            while try s.step() { out.append((s.int64(0), Int32(s.int64(1) - 1), Int32(s.int64(2) - 1))) }
            return out.reversed()
        }
    }

    /// Streams stored events with `seq > afterSeq` in sequence order as the learning core's
    /// `Interaction`s (dense ids, behavior index into `behaviors`, Unix seconds, value or NaN).
    /// `behaviors` maps behavior names to codes; events of other behaviors are skipped.
    public func forEachInteraction(
        afterSeq: Int64 = 0,
        behaviors: [String: UInt8],
        _ body: (Int64, Interaction) throws -> Void
    ) throws {
        try read { r in
            let s = try r.statement(
                """
                SELECT e.seq, e.user, e.item, b.name, e.ts, e.value FROM events e JOIN behaviors b ON b.id = e.behavior
                WHERE e.seq > ?1 ORDER BY e.seq
                """
            )
            s.bind(1, afterSeq)
            while try s.step() {
                guard let code = behaviors[s.string(3)] else { continue }
                let value = s.optionalDouble(5).map(Float.init) ?? .nan
                try body(
                    s.int64(0),
                    Interaction(
                        user: Int32(s.int64(1) - 1),
                        item: Int32(s.int64(2) - 1),
                        behavior: code,
                        timestamp: s.int64(4) / 1000,
                        value: value
                    )
                )
            }
        }
    }

    // MARK: - Dead-letter outbox

    /// The oldest dead letters not yet published.
    public func pendingDeadLetters(limit: Int) throws -> [DeadLetter] {
        try read { r in
            var out: [DeadLetter] = []
            let s = try r.statement(
                """
                SELECT id, topic, partition, offset, reason, detail, key, payload, ts FROM dead_letters WHERE delivered_ms IS NULL
                ORDER BY id LIMIT ?1
                """
            )
            s.bind(1, Int64(limit))
            while try s.step() { out.append(Self.deadLetter(s)) }
            return out
        }
    }

    /// How many delivered dead letters the outbox keeps (newest first) for the operator page.
    public static let deliveredDeadLettersKept = 50

    /// Marks dead letters delivered (no longer pending) and drops delivered ones beyond the newest
    /// `deliveredDeadLettersKept`.
    public func markDeadLettersDelivered(ids: [Int64], atMs: Int64) throws {
        guard !ids.isEmpty else { return }
        try writer.withLock { w in
            try w.db.transaction { () throws(StoreError) in
                let s = try w.db.statement("UPDATE dead_letters SET delivered_ms = ?2 WHERE id = ?1")
                for id in ids {
                    s.reset()
                    s.bind(1, id).bind(2, atMs)
                    try s.run()
                }
                try w.db.exec(
                    """
                    DELETE FROM dead_letters WHERE delivered_ms IS NOT NULL AND id NOT IN
                        (SELECT id FROM dead_letters WHERE delivered_ms IS NOT NULL ORDER BY id DESC LIMIT \(Self.deliveredDeadLettersKept))
                    """
                )
            }
        }
    }

    /// The newest dead letters, pending or delivered (nil `deliveredMs`: still in the outbox), newest first.
    public func recentDeadLetters(limit: Int) throws -> [(letter: DeadLetter, deliveredMs: Int64?)] {
        try read { r in
            var out: [(letter: DeadLetter, deliveredMs: Int64?)] = []
            let s = try r.statement(
                """
                SELECT id, topic, partition, offset, reason, detail, key, payload, ts, delivered_ms FROM dead_letters
                ORDER BY id DESC LIMIT ?1
                """
            )
            s.bind(1, Int64(limit))
            while try s.step() { out.append((Self.deadLetter(s), s.optionalInt64(9))) }
            return out
        }
    }

    /// A dead letter from a row's first nine columns (`id, topic, partition, offset, reason, detail, key, payload, ts`).
    private static func deadLetter(_ s: Statement) -> DeadLetter {
        DeadLetter(
            id: s.int64(0),
            position: StreamPosition(s.string(1), Int32(s.int64(2)), s.int64(3)),
            reason: s.string(4),
            detail: s.string(5),
            key: s.isNull(6) ? nil : s.blob(6),
            payload: s.blob(7),
            timestampMs: s.optionalInt64(8)
        )
    }

    // MARK: - Owed lists

    /// Every user still owed a list: `apply(_:)` records each touched user in the batch's
    /// transaction, `clearOwedLists(_:)` forgets them once a list is delivered. Oldest debt first.
    public func owedLists() throws -> [OwedList] {
        try read { r in
            var out: [OwedList] = []
            let s = try r.statement(
                """
                SELECT o.user, u.ext, o.through_seq, coalesce(o.last_ts, u.last_ts, 0), u.input_partition
                FROM owed_lists o JOIN users u ON u.id = o.user ORDER BY o.through_seq
                """
            )
            while try s.step() {
                out.append(
                    OwedList(
                        user: Int32(s.int64(0) - 1),
                        external: s.string(1),
                        throughSeq: s.int64(2),
                        lastTimestampMs: s.int64(3),
                        partition: s.optionalInt64(4).map { Int32($0) }
                    )
                )
            }
            return out
        }
    }

    /// The owed `through_seq` of each given user that is owed a list (dense id → seq). Read it
    /// before computing a list: the list then reflects at least those events.
    public func owedThroughSeq(users: [Int32]) throws -> [Int32: Int64] {
        try read { r in
            var out: [Int32: Int64] = [:]
            let s = try r.statement("SELECT through_seq FROM owed_lists WHERE user = ?1")
            for user in users {
                s.reset()
                s.bind(1, Int64(user) + 1)
                if try s.step() { out[user] = s.int64(0) }
            }
            return out
        }
    }

    /// Forgets the debts that delivered (or pointless) lists paid: each user's row goes only if
    /// it is owed through at most the given seq, since events applied after the list was computed
    /// still need one. One transaction for the whole delivery batch.
    public func clearOwedLists(_ paidThrough: [Int32: Int64]) throws {
        guard !paidThrough.isEmpty else { return }
        try writer.withLock { w in
            try w.db.transaction { () throws(StoreError) in
                let s = try w.db.statement("DELETE FROM owed_lists WHERE user = ?1 AND through_seq <= ?2")
                for (user, seq) in paidThrough {
                    s.reset()
                    s.bind(1, Int64(user) + 1).bind(2, seq)
                    try s.run()
                }
            }
        }
    }

    // MARK: - Model snapshots

    /// Saves a snapshot and returns it with its assigned version.
    public func saveSnapshot(_ snapshot: ModelSnapshot) throws -> ModelSnapshot {
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        let meta = String(decoding: try enc.encode(snapshot.metadata), as: UTF8.self)
        let metrics = String(decoding: try enc.encode(snapshot.metrics), as: UTF8.self)
        return try writer.withLock { w in
            try w.db.transaction { () throws(StoreError) -> ModelSnapshot in
                let s = try w.db.statement(
                    """
                    INSERT INTO snapshots(model, created_ms, metadata, metrics, user_count, item_count, events_through_seq, promoted)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                    """
                )
                s.bind(1, snapshot.model).bind(2, snapshot.createdMs).bind(3, meta).bind(4, metrics)
                    .bind(5, snapshot.userCount).bind(6, snapshot.itemCount).bind(7, snapshot.eventsThroughSeq)
                    .bind(8, snapshot.promoted ? 1 : 0)
                try s.run()
                let version = w.db.lastInsertRowID
                let t = try w.db.statement("INSERT INTO snapshot_tensors(version, name, shape, data) VALUES (?1, ?2, ?3, ?4)")
                for tensor in snapshot.tensors {
                    t.reset()
                    t.bind(1, version).bind(2, tensor.name).bind(3, tensor.shape.map(String.init).joined(separator: ","))
                        .bind(4, floats: tensor.values)
                    try t.run()
                }
                var saved = snapshot
                saved.version = version
                return saved
            }
        }
    }

    /// Marks a saved snapshot promoted (or not).
    public func setPromoted(version: Int64, _ promoted: Bool) throws {
        try writer.withLock { w in
            let s = try w.db.statement("UPDATE snapshots SET promoted = ?2 WHERE version = ?1")
            s.bind(1, version).bind(2, promoted ? 1 : 0)
            try s.run()
        }
    }

    /// The newest promoted snapshot of `model` (any model when nil).
    public func latestPromotedSnapshot(model: String? = nil) throws -> ModelSnapshot? {
        let version: Int64? = try read { r in
            let s = try r.statement(
                model == nil
                    ? "SELECT max(version) FROM snapshots WHERE promoted = 1"
                    : "SELECT max(version) FROM snapshots WHERE promoted = 1 AND model = ?1"
            )
            if let model { s.bind(1, model) }
            return try s.step() ? s.optionalInt64(0) : nil
        }
        return try version.flatMap { try snapshot(version: $0) }
    }

    /// A saved snapshot; with `tensors` false, only its summary (version, model, metrics, …).
    public func snapshot(version: Int64, tensors: Bool = true) throws -> ModelSnapshot? {
        try read { r in
            let s = try r.statement(
                """
                SELECT model, created_ms, metadata, metrics, user_count, item_count, events_through_seq, promoted
                FROM snapshots WHERE version = ?1
                """
            )
            s.bind(1, version)
            guard try s.step() else { return nil }
            let dec = JSONDecoder()
            guard let metadata = try? dec.decode([String: String].self, from: Data(s.string(2).utf8)),
                let metrics = try? dec.decode([String: Double].self, from: Data(s.string(3).utf8))
            else {
                throw StoreError(.corrupt, "snapshot \(version): undecodable metadata or metrics")
            }
            var snap = ModelSnapshot(
                version: version,
                model: s.string(0),
                createdMs: s.int64(1),
                metadata: metadata,
                metrics: metrics,
                tensors: [],
                userCount: s.int(4),
                itemCount: s.int(5),
                eventsThroughSeq: s.int64(6),
                promoted: s.int64(7) == 1
            )
            guard tensors else { return snap }
            let t = try r.statement("SELECT name, shape, data FROM snapshot_tensors WHERE version = ?1 ORDER BY rowid")
            t.bind(1, version)
            while try t.step() {
                let shape = t.string(1).split(separator: ",").compactMap { Int($0) }
                let values = t.floats(2)
                guard shape.reduce(1, *) == values.count else {
                    throw StoreError(.corrupt, "snapshot \(version) tensor \(t.string(0)): shape \(shape) but \(values.count) values")
                }
                snap.tensors.append(SnapshotTensor(name: t.string(0), shape: shape, values: values))
            }
            return snap
        }
    }

    /// Runs a WAL checkpoint (at shutdown, so the main file is complete).
    public func checkpoint() throws {
        try writer.withLock { try $0.db.exec("PRAGMA wal_checkpoint(TRUNCATE)") }
    }
}

/// The read connection, moved into a Mutex.
struct ReadConnection {
    let db: SQLiteConnection
}
