import Foundation
import TacitData
import TacitServiceTestSupport
import Testing

@testable import TacitStore

@Suite("SQLite event store")
struct EventStoreTests {
    let temp = TemporaryDirectory()
    var dir: URL { temp.url }
    func store(maxLen: Int = 200, dedup: Int = 1000) throws -> EventStore {
        try EventStore(
            configuration: StoreConfiguration(
                path: dir.appendingPathComponent("s.sqlite").path,
                maxSequenceLength: maxLen,
                dedupWindow: dedup
            )
        )
    }

    @Test func appliesEventsAndOffsetsTogether() throws {
        let s = try store()
        let out = try s.apply([
            rec(event("u1", "a"), offset: 0), rec(event("u2", "b"), offset: 1),
            rec(event("u1", "b", "view", feedback: .implicitPositive), "t", 1, offset: 7),
        ])
        #expect(out.applied == 3 && out.replayed == 0)
        #expect(out.nextOffsets == [StreamPartition("t", 0): 2, StreamPartition("t", 1): 8])
        #expect(
            try s.nextOffsets(for: [StreamPartition("t", 0), StreamPartition("t", 1), StreamPartition("t", 2)])
                == [StreamPartition("t", 0): 2, StreamPartition("t", 1): 8]
        )
        let u1 = try #require(try s.userID("u1"))
        let u2 = try s.userID("u2"), b = try s.itemID("b")
        #expect(u1 == 0 && u2 == 1 && b == 1)
        #expect(try s.eventCount(user: "u1") == 2)
        #expect(try s.behaviorCounts(user: u1) == ["buy": 1, "view": 1])
        #expect(Set(out.touchedUsers.map(\.external)) == ["u1", "u2"])
        #expect(try s.popularItems(limit: 5).map(\.item) == [1, 0])  // b has 2 positives
        #expect(try s.userExternalIDs() == ["u1", "u2"])
    }

    /// A serving instance registers a received model's items: known ones keep their id, new ones get the
    /// next ids, and events for them later land on the same ids without moving popularity before them.
    @Test func registeredItemsKeepTheirIDsWhenEventsArrive() throws {
        let s = try store()
        _ = try s.apply([rec(event("u1", "a"), offset: 0)])
        let a = try #require(try s.itemID("a"))
        let ids = try s.registerItems(["x", "a", "y", "x"])
        #expect(ids == [a + 1, a, a + 2, a + 1])
        #expect(try s.counts().items == 3)
        #expect(try s.itemExternalIDs(for: ids) == ["x", "a", "y", "x"])
        #expect(try s.popularItems(limit: 10).map(\.item) == [a])  // registering is not taking
        _ = try s.apply([rec(event("u2", "y"), offset: 1)])
        #expect(try s.itemID("y") == a + 2)
        #expect(try s.registerItems([]) == [])
    }

    @Test func replayedOffsetsAreNeverAppliedTwice() throws {
        let s = try store()
        let batch = (0..<10).map { rec(event("u\($0 % 3)", "i\($0)"), offset: Int64($0)) }
        _ = try s.apply(Array(batch[0..<6]))
        let again = try s.apply(batch)  // a restart replays from an older position
        #expect(again.replayed == 6 && again.applied == 4)
        #expect(try s.counts().eventsApplied == 10)
        let third = try s.apply(batch)
        #expect(third.applied == 0 && third.replayed == 10)
    }

    @Test func eventIDsAreDeduplicatedWithinTheWindow() throws {
        let s = try store(dedup: 2)
        var out = try s.apply([
            rec(event("u", "a", id: "e1"), offset: 0), rec(event("u", "a", id: "e1"), offset: 1),
            rec(event("u", "b", id: "e2"), offset: 2),
        ])
        #expect(out.applied == 2 && out.duplicateIDs == 1)
        #expect(try s.nextOffsets(for: [StreamPartition("t", 0)])[StreamPartition("t", 0)] == 3)
        out = try s.apply([rec(event("u", "c", id: "e3"), offset: 3), rec(event("u", "c", id: "e4"), offset: 4)])
        // Window of 2: e1 has been forgotten, so a late duplicate of it is applied again.
        out = try s.apply([rec(event("u", "a", id: "e1"), offset: 5), rec(event("u", "a", id: "e4"), offset: 6)])
        #expect(out.applied == 1 && out.duplicateIDs == 1)
    }

    @Test func theDeduplicationWindowSurvivesAReopenAndStaysBounded() throws {
        do {
            let s = try store(dedup: 3)
            _ = try s.apply((0..<5).map { rec(event("u", "a", id: "e\($0)"), offset: Int64($0)) })
        }
        // The window holds e2, e3, e4 (the newest three), in memory and in the file.
        let s = try store(dedup: 3)
        var out = try s.apply([rec(event("u", "a", id: "e4"), offset: 5), rec(event("u", "a", id: "e1"), offset: 6)])
        #expect(out.duplicateIDs == 1 && out.applied == 1)
        // e1 was applied again and is the newest now; e2 has been forgotten, e3 not yet.
        out = try s.apply([
            rec(event("u", "a", id: "e2"), offset: 7), rec(event("u", "a", id: "e3"), offset: 8),
            rec(event("u", "a", id: "e1"), offset: 9),
        ])
        #expect(out.applied == 1 && out.duplicateIDs == 2)
        let check = try SQLiteConnection(path: dir.appendingPathComponent("s.sqlite").path, readOnly: true)
        let rows = try check.statement("SELECT id FROM event_ids ORDER BY seq")
        var ids: [String] = []
        while try rows.step() { ids.append(rows.string(0)) }
        #expect(ids == ["e4", "e1", "e2"])
    }

    /// Writing each (user, item, behavior) row, (user, behavior) count and item count once per batch must leave
    /// exactly the state of applying the same events one by one: ties in time, times out of order, feedback
    /// changing, weights, a behavior repeated.
    @Test func batchedRowWritesEqualEventByEventApply() throws {
        let events: [UserEvent] = [
            event("u", "a", "view", ts: 100, feedback: .implicitPositive),
            event("u", "a", "skip", ts: 100, feedback: .implicitNegative),
            event("u", "a", "view", ts: 90, feedback: nil),
            event("u", "a", "view", ts: 100, feedback: .explicitNegative),
            event("u", "a", "view", ts: 95, feedback: .implicitPositive),
            event("v", "a", "buy", ts: 50),
            event("u", "b", "buy", ts: 120),
            event("v", "b", "rating", ts: 40, feedback: .explicitNegative),
            event("v", "b", "rating", ts: 60, feedback: .explicitPositive),
            event("u", "a", "view", ts: 80, feedback: .implicitPositive),
        ].enumerated().map { i, e in
            var e = e
            e.weight = 0.5 + Double(i % 3)
            return e
        }
        func state(_ name: String, batches: [[UserEvent]]) throws -> [String] {
            let path = dir.appendingPathComponent(name).path
            let s = try EventStore(configuration: StoreConfiguration(path: path))
            var offset: Int64 = 0
            // A first event of each in its own batch, so stored rows exist before the rest is folded into them.
            for batch in batches {
                _ = try s.apply(
                    batch.map { e in
                        defer { offset += 1 }
                        return rec(e, offset: offset)
                    }
                )
            }
            let db = try SQLiteConnection(path: path, readOnly: true)
            var out: [String] = []
            for query in [
                "SELECT user||' '||item||' '||behavior||' '||count||' '||weight||' '||last_ts||' '||coalesce(last_feedback, 'null') FROM interactions ORDER BY user, item, behavior",
                "SELECT user||' '||behavior||' '||count FROM user_behaviors ORDER BY user, behavior",
                "SELECT id||' '||event_count||' '||positive_count FROM items ORDER BY id",
                "SELECT id||' '||event_count||' '||seq_len||' '||last_ts FROM users ORDER BY id",
            ] {
                let q = try db.statement(query)
                while try q.step() { out.append(q.string(0)) }
            }
            out.append("popular " + (try s.popularItems(limit: 10)).map { "\($0.item):\($0.positives)" }.joined(separator: ","))
            return out
        }
        let oneByOne = try state("one.sqlite", batches: events.map { [$0] })
        let together = try state("all.sqlite", batches: [Array(events[0..<1]), Array(events[1...])])
        #expect(oneByOne == together)
        #expect(oneByOne.contains("1 1 1 5 5.5 100 3"))  // u·a·view: 5 events, weight 5.5, feedback of the last at ts 100 (explicit negative)
    }

    @Test func popularityIsRankedInMemoryAndFollowsOnlyCommittedBatches() throws {
        do {
            let s = try store()
            _ = try s.apply([
                rec(event("u", "a"), offset: 0), rec(event("v", "b"), offset: 1), rec(event("w", "b"), offset: 2),
                rec(event("w", "c", "view", feedback: nil), offset: 3),
            ])
            #expect(try s.popularItems(limit: 5).map(\.item) == [1, 0])  // c has no positive event
        }
        let s = try store()  // rebuilt from the file
        #expect(try s.popularItems(limit: 5).map { [$0.item, Int32($0.positives)] } == [[1, 2], [0, 1]])
        let other = try SQLiteConnection(path: dir.appendingPathComponent("s.sqlite").path)
        try other.exec("CREATE TRIGGER boom BEFORE INSERT ON items WHEN NEW.ext = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END")
        #expect(throws: StoreError.self) {
            _ = try s.apply([rec(event("x", "a"), offset: 4), rec(event("y", "a"), offset: 5), rec(event("y", "boom"), offset: 6)])
        }
        #expect(try s.popularItems(limit: 5).map(\.item) == [1, 0])
        try other.exec("DROP TRIGGER boom")
        _ = try s.apply([rec(event("x", "a"), offset: 4), rec(event("y", "a"), offset: 5), rec(event("y", "boom"), offset: 6)])
        #expect(try s.popularItems(limit: 5).map { [$0.item, Int32($0.positives)] } == [[0, 3], [1, 2], [3, 1]])
        #expect(try s.popularItems(limit: 1).map(\.item) == [0])
    }

    @Test func popularityCountsKeepTheLongestHeadAskedFor() {
        var p = PopularityCounts()
        let n = PopularityCounts.minimumHead * 3
        // Counts 1, 2, 3, 1, 2, 3, …: ties broken by item id.
        p.add(Dictionary(uniqueKeysWithValues: (0..<n).map { (Int32($0), Int64($0 % 3 + 1)) }))
        let expected = (0..<n).sorted { a, b in a % 3 != b % 3 ? a % 3 > b % 3 : a < b }.map(Int32.init)
        #expect(p.top(5).map(\.item) == Array(expected.prefix(5)))
        #expect(p.top(n + 10).map(\.item) == expected)  // longer than the head kept so far
        p.add([0: 10, Int32(n + 5): 4])  // a new item past the end
        #expect(p.top(2).map(\.item) == [0, Int32(n + 5)])
        #expect(p.top(2).map(\.positives) == [11, 4])
        #expect(p.top(0).isEmpty)
    }

    @Test func sequencesAreBoundedButCountsExact() throws {
        let s = try store(maxLen: 5)
        // Out-of-order timestamps: trimming removes the oldest by event time.
        let batch = (0..<12).map { i in rec(event("u", "i\(i)", ts: 1_700_000_000_000 + Int64((i * 7) % 12) * 1000), offset: Int64(i)) }
        _ = try s.apply(Array(batch[0..<4]))
        _ = try s.apply(Array(batch[4...]))
        let seq = try s.sequence(user: 0)
        #expect(seq.count == 5)
        #expect(seq.map(\.timestampMs) == (7..<12).map { 1_700_000_000_000 + Int64($0) * 1000 })
        #expect(try s.eventCount(user: "u") == 12)
        #expect(try s.behaviorCounts(user: 0) == ["buy": 12])
        #expect(try s.counts().eventsStored == 5)
    }

    @Test func deadLettersGoToTheOutboxWithTheirOffsets() throws {
        let s = try store()
        let dl = DeadLetter(
            position: StreamPosition("t", 0, 1),
            reason: "malformed_json",
            detail: "x",
            key: [1, 2],
            payload: [0xFF, 0x00, 0x7B],
            timestampMs: 5
        )
        let out = try s.apply([rec(event("u", "a"), offset: 0), IngestRecord(position: dl.position, payload: .deadLetter(dl))])
        #expect(out.deadLettered == 1 && out.nextOffsets[StreamPartition("t", 0)] == 2)
        let pending = try s.pendingDeadLetters(limit: 10)
        #expect(pending.count == 1 && pending[0].payload == [0xFF, 0x00, 0x7B] && pending[0].key == [1, 2])
        #expect(pending[0].position == dl.position && pending[0].reason == "malformed_json")
        try s.markDeadLettersDelivered(ids: pending.map(\.id), atMs: 42)
        #expect(try s.pendingDeadLetters(limit: 10).isEmpty)
        #expect(try s.counts().deadLettered == ["malformed_json": 1])
        #expect(try s.counts().pendingDeadLetters == 0)
        // Delivered, it is still shown (the operator page's newest dead letters), with when it was delivered.
        let recent = try s.recentDeadLetters(limit: 5)
        #expect(recent.count == 1 && recent[0].letter == pending[0] && recent[0].deliveredMs == 42)
    }

    /// The outbox keeps the newest `deliveredDeadLettersKept` delivered dead letters and every pending one.
    @Test func deliveredDeadLettersAreKeptNewestFirstAndBounded() throws {
        let s = try store()
        let kept = EventStore.deliveredDeadLettersKept
        let records = (0..<(kept + 30)).map { i in
            let dl = DeadLetter(position: StreamPosition("t", 0, Int64(i)), reason: "malformed_json", detail: "#\(i)", key: nil, payload: [1])
            return IngestRecord(position: dl.position, payload: .deadLetter(dl))
        }
        _ = try s.apply(records)
        let pending = try s.pendingDeadLetters(limit: 1000)
        #expect(pending.count == kept + 30)
        try s.markDeadLettersDelivered(ids: pending.prefix(kept + 20).map(\.id), atMs: 7)
        #expect(try s.counts().pendingDeadLetters == 10)
        #expect(try s.pendingDeadLetters(limit: 1000).map(\.detail) == (kept + 20..<kept + 30).map { "#\($0)" })
        let recent = try s.recentDeadLetters(limit: 1000)
        #expect(recent.count == kept + 10)
        #expect(recent.map(\.letter.detail) == (20..<kept + 30).reversed().map { "#\($0)" })
        #expect(recent.filter { $0.deliveredMs == nil }.count == 10)
    }

    @Test func exclusionSets() throws {
        let s = try store()
        _ = try s.apply([
            rec(event("u", "a"), offset: 0),
            rec(event("u", "b", "dislike", ts: 1_700_000_000_001, feedback: .explicitNegative), offset: 1),
        ])
        let (consumed, disliked) = try s.interactedItems(user: 0)
        #expect(consumed == [0, 1] && disliked == [1])
    }

    @Test func interactionsExportForTraining() throws {
        let s = try store()
        _ = try s.apply([
            rec(event("u", "a"), offset: 0), rec(event("v", "b", "view"), offset: 1),
            rec(event("v", "a", "teleport"), offset: 2),
        ])
        var got: [Interaction] = []
        try s.forEachInteraction(behaviors: ["buy": 0, "view": 1]) { _, i in got.append(i) }
        #expect(got.map { [$0.user, $0.item, Int32($0.behavior)] } == [[0, 0, 0], [1, 1, 1]])
        #expect(got.allSatisfy { $0.timestamp == 1_700_000_000 && !$0.hasValue })
    }

    @Test func snapshotsRoundTrip() throws {
        let s = try store()
        let snap = ModelSnapshot(
            model: "lightgcn",
            createdMs: 1,
            metadata: ["dim": "4"],
            metrics: ["ndcg@10": 0.25],
            tensors: [
                SnapshotTensor(name: "user", shape: [2, 2], values: [1, 2, 3, 4]),
                SnapshotTensor(name: "item", shape: [1, 2], values: [0.5, -0.5]),
            ],
            userCount: 2,
            itemCount: 1,
            eventsThroughSeq: 9,
            promoted: true
        )
        let saved = try s.saveSnapshot(snap)
        #expect(saved.version == 1)
        _ = try s.saveSnapshot(
            ModelSnapshot(
                model: "lightgcn",
                createdMs: 2,
                tensors: [],
                userCount: 0,
                itemCount: 0,
                eventsThroughSeq: 10,
                promoted: false
            )
        )
        #expect(try s.latestPromotedSnapshot(model: "lightgcn") == saved)
        try s.setPromoted(version: 2, true)
        #expect(try s.latestPromotedSnapshot()?.version == 2)
        #expect(try s.latestPromotedSnapshot(model: "bpr") == nil)
    }

    @Test func stateSurvivesReopen() throws {
        do {
            let s = try store()
            _ = try s.apply([rec(event("u", "a"), offset: 0), rec(event("u", "b"), offset: 1)])
        }
        let s = try store()
        #expect(try s.eventCount(user: "u") == 2)
        let out = try s.apply([rec(event("u", "c"), offset: 1), rec(event("u", "c"), offset: 2)])
        #expect(out.replayed == 1 && out.applied == 1)
    }

    @Test func touchedUsersOweAListFromTheBatchTransaction() throws {
        let s = try store()
        _ = try s.apply([
            rec(event("u1", "a", ts: 10), offset: 0), rec(event("u2", "b", ts: 30), offset: 1),
            rec(event("u1", "c", ts: 20), offset: 2),
        ])
        // seq 1, 2, 3 in arrival order; u1's newest event is seq 3, its newest time 20.
        #expect(
            try s.owedLists() == [
                OwedList(user: 1, external: "u2", throughSeq: 2, lastTimestampMs: 30, partition: 0),
                OwedList(user: 0, external: "u1", throughSeq: 3, lastTimestampMs: 20, partition: 0),
            ]
        )
        // A replay touches nobody and owes nothing new; a later batch moves the debt forward.
        _ = try s.apply([rec(event("u1", "a", ts: 10), offset: 0), rec(event("u1", "d", ts: 15), offset: 3)])
        #expect(try s.owedThroughSeq(users: [0, 1, 7]) == [0: 4, 1: 2])
        #expect(try s.owedLists().first { $0.user == 0 }?.lastTimestampMs == 20)

        // A batch that rolls back owes nothing: the rows are part of its transaction.
        let other = try SQLiteConnection(path: dir.appendingPathComponent("s.sqlite").path)
        try other.exec("CREATE TRIGGER boom BEFORE INSERT ON items WHEN NEW.ext = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END")
        #expect(throws: StoreError.self) {
            _ = try s.apply([rec(event("u2", "e"), offset: 4), rec(event("v", "boom"), offset: 5)])
        }
        #expect(try s.owedThroughSeq(users: [0, 1]) == [0: 4, 1: 2])
        #expect(try s.owedLists().count == 2)
    }

    @Test func aDeliveredListClearsTheDebtOnlyUpToTheEventsItReflects() throws {
        let s = try store()
        _ = try s.apply([rec(event("u", "a"), offset: 0), rec(event("v", "a"), offset: 1)])
        let readBeforeComputing = try s.owedThroughSeq(users: [0, 1])
        #expect(readBeforeComputing == [0: 1, 1: 2])
        // u has a new event while its list is in flight: that list does not pay for it.
        _ = try s.apply([rec(event("u", "b"), offset: 2)])
        try s.clearOwedLists(readBeforeComputing)
        #expect(try s.owedLists().map(\.external) == ["u"])
        #expect(try s.owedThroughSeq(users: [0]) == [0: 3])
        try s.clearOwedLists([0: 3])
        #expect(try s.owedLists().isEmpty)
        try s.clearOwedLists([:])
        // Paid debts stay paid across a reopen.
        let reopened = try store()
        #expect(try reopened.owedLists().isEmpty)
    }

    /// The version-3 tables this build changed: event_ids with UNIQUE(id), and the popularity index.
    static let version3Tables = [
        "CREATE TABLE event_ids(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE)",
        "CREATE INDEX items_popularity ON items(positive_count DESC, id)",
    ]

    /// The users table before version 5 (no `input_partition`).
    static let version4Users = """
        CREATE TABLE users(id INTEGER PRIMARY KEY, ext TEXT NOT NULL UNIQUE,
            event_count INTEGER NOT NULL DEFAULT 0, seq_len INTEGER NOT NULL DEFAULT 0, last_ts INTEGER)
        """

    /// The dead-letter outbox before version 6 (no `delivered_ms`: delivered rows were deleted).
    static let version5DeadLetters = """
        CREATE TABLE dead_letters(id INTEGER PRIMARY KEY, topic TEXT NOT NULL, partition INTEGER NOT NULL,
            offset INTEGER NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL, key BLOB, payload BLOB NOT NULL, ts INTEGER)
        """

    /// A store file as an older build left it: this build's statements except those naming any of `without`
    /// or `fine_tunes`, with the users table of version 4 and the dead letters of version 5, then `extra`, and
    /// the recorded version.
    func writeOldStore(version: Int, without: [String], extra: [String]) throws {
        let old = try SQLiteConnection(path: dir.appendingPathComponent("s.sqlite").path)
        try old.exec("PRAGMA journal_mode=WAL")
        try old.exec(version <= 4 ? Self.version4Users : Schema.statements.first { $0.contains("EXISTS users(") }!)
        try old.exec(Self.version5DeadLetters)
        for statement in Schema.statements
        where !(without + ["fine_tunes", "EXISTS users(", "EXISTS dead_letters("]).contains(where: statement.contains) {
            try old.exec(statement)
        }
        for statement in extra + ["INSERT INTO meta(key, value) VALUES ('schema_version', '\(version)')"] { try old.exec(statement) }
    }

    @Test func migratesAStoreOfSchemaVersion1InPlace() throws {
        let path = dir.appendingPathComponent("s.sqlite").path
        // A version-1 file: the schema before `owed_lists`, with some state in it.
        try writeOldStore(
            version: 1,
            without: ["owed_lists", "event_ids"],
            extra: Self.version3Tables + [
                "INSERT INTO users(ext, event_count, seq_len, last_ts) VALUES ('old', 1, 1, 5)",
                "INSERT INTO items(ext, event_count, positive_count) VALUES ('x', 1, 1)",
                "INSERT INTO behaviors(name) VALUES ('buy')",
                "INSERT INTO events(user, item, behavior, feedback, ts, value, weight) VALUES (1, 1, 1, NULL, 5, NULL, 1)",
                "INSERT INTO offsets(topic, partition, next_offset) VALUES ('t', 0, 1)",
            ]
        )
        let s = try store()
        #expect(try s.eventCount(user: "old") == 1)
        #expect(try s.owedLists().isEmpty)
        let out = try s.apply([rec(event("old", "y"), offset: 0), rec(event("old", "y"), offset: 1)])
        #expect(out.replayed == 1 && out.applied == 1)
        #expect(try s.owedLists() == [OwedList(user: 0, external: "old", throughSeq: 2, lastTimestampMs: 1_700_000_000_000, partition: 0)])
        let check = try SQLiteConnection(path: path, readOnly: true)
        let version = try check.statement("SELECT value FROM meta WHERE key = 'schema_version'")
        #expect(try version.step() && version.string(0) == "\(EventStore.schemaVersion)")
    }

    @Test func migratesAStoreOfSchemaVersion3InPlace() throws {
        let path = dir.appendingPathComponent("s.sqlite").path
        try writeOldStore(
            version: 3,
            without: ["event_ids"],
            extra: Self.version3Tables + [
                "INSERT INTO items(ext, event_count, positive_count) VALUES ('x', 3, 1), ('y', 5, 4)",
                "INSERT INTO event_ids(seq, id) VALUES (7, 'old1'), (8, 'old2')",
            ]
        )
        let s = try store()
        #expect(try s.popularItems(limit: 5).map { [$0.item, Int32($0.positives)] } == [[1, 4], [0, 1]])
        let out = try s.apply([rec(event("u", "z", id: "old2"), offset: 0), rec(event("u", "z", id: "new"), offset: 1)])
        #expect(out.duplicateIDs == 1 && out.applied == 1)
        let check = try SQLiteConnection(path: path, readOnly: true)
        let indexes = try check.statement("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('items', 'event_ids')")
        #expect(try indexes.step() && indexes.int64(0) == 1)  // only items' UNIQUE(ext)
        let ids = try check.statement("SELECT seq, id FROM event_ids ORDER BY seq")
        var rows: [String] = []
        while try ids.step() { rows.append("\(ids.int64(0)) \(ids.string(1))") }
        #expect(rows == ["7 old1", "8 old2", "9 new"])
        let version = try check.statement("SELECT value FROM meta WHERE key = 'schema_version'")
        #expect(try version.step() && version.string(0) == "\(EventStore.schemaVersion)")
    }

    /// Version 5 records each user's input partition: unknown (nil, served anywhere) for a user of an
    /// older file until their next event.
    @Test func migratesAStoreOfSchemaVersion4InPlace() throws {
        try writeOldStore(
            version: 4,
            without: [],
            extra: [
                "INSERT INTO users(ext, event_count, seq_len, last_ts) VALUES ('old', 1, 1, 5), ('other', 1, 1, 6)",
                "INSERT INTO owed_lists(user, through_seq, last_ts) VALUES (1, 1, 5)",
            ]
        )
        let s = try store()
        #expect(try s.owedLists() == [OwedList(user: 0, external: "old", throughSeq: 1, lastTimestampMs: 5, partition: nil)])
        #expect(try s.recentUsers(limit: 5).map(\.partition) == [nil, nil])
        let out = try s.apply([rec(event("other", "y", ts: 9), "t", 3, offset: 0)])
        #expect(out.touchedUsers.map(\.partition) == [3])
        #expect(try s.recentUsers(limit: 5).map { "\($0.external) \($0.partition.map(String.init) ?? "-")" } == ["other 3", "old -"])
    }

    /// Version 6 keeps delivered dead letters: the pending rows of a version-5 file stay pending.
    @Test func migratesAStoreOfSchemaVersion5InPlace() throws {
        try writeOldStore(
            version: 5,
            without: [],
            extra: ["INSERT INTO dead_letters(topic, partition, offset, reason, detail, payload) VALUES ('t', 0, 3, 'malformed_json', 'x', X'7B')"]
        )
        let s = try store()
        let pending = try s.pendingDeadLetters(limit: 5)
        #expect(pending.map(\.position.offset) == [3])
        #expect(try s.counts().pendingDeadLetters == 1)
        try s.markDeadLettersDelivered(ids: pending.map(\.id), atMs: 9)
        #expect(try s.recentDeadLetters(limit: 5).map(\.deliveredMs) == [9])
        #expect(try s.counts().pendingDeadLetters == 0)
        try s.recordFineTune(FineTuneLogEntry(atMs: 1, model: "lightgcn", decision: .promoted, version: 1, seconds: 2))
        #expect(try s.fineTunes(limit: 5).map(\.version) == [1])
    }

    /// Version 7 adds the control columns to tables a version-6 file already has: its totals and lists
    /// stay, with empty control totals, and new lists carry controls.
    @Test func migratesAStoreOfSchemaVersion6InPlace() throws {
        try writeOldStore(
            version: 6,
            without: ["EXISTS served_lists(", "EXISTS list_quality("],
            extra: [
                """
                CREATE TABLE served_lists(user INTEGER PRIMARY KEY, model TEXT NOT NULL, version INTEGER NOT NULL,
                    items TEXT NOT NULL, through_seq INTEGER NOT NULL, published_ms INTEGER NOT NULL)
                """,
                """
                CREATE TABLE list_quality(model TEXT NOT NULL, version INTEGER NOT NULL, lists INTEGER NOT NULL,
                    hit_lists INTEGER NOT NULL, hr_sum REAL NOT NULL, ndcg_sum REAL NOT NULL, neg_share_sum REAL NOT NULL,
                    PRIMARY KEY(model, version)) WITHOUT ROWID
                """,
                "INSERT INTO users(ext, event_count, seq_len, last_ts) VALUES ('old', 0, 0, 5)",
                "INSERT INTO served_lists VALUES (1, 'lightgcn', 2, '4,5', 0, 7)",
                "INSERT INTO list_quality VALUES ('lightgcn', 1, 3, 2, 1.0, 0.5, 0.25)",
            ]
        )
        let s = try store()
        let q = try #require(try s.listQuality().first)
        #expect(q.lists == 3 && q.hitLists == 2 && q.hr10 == 0.5 && q.control == ListQuality.Totals())
        #expect(try s.servedList(user: 0) == ServedList(user: 0, model: "lightgcn", version: 2, items: [4, 5], throughSeq: 0, publishedMs: 7))
        try s.recordDelivered([ServedList(user: 0, model: "lightgcn", version: 3, items: [1], throughSeq: 0, publishedMs: 8, control: [2])]) { _ in
            (nil, nil)
        }
        #expect(try s.servedList(user: 0)?.control == [2])
        // Opening it again finds the columns there and changes nothing.
        #expect(try store().listQuality() == [q])
    }

    @Test func refusesAStoreOfANewerSchemaVersion() throws {
        _ = try store()
        let other = try SQLiteConnection(path: dir.appendingPathComponent("s.sqlite").path)
        try other.exec("UPDATE meta SET value = '\(EventStore.schemaVersion + 1)' WHERE key = 'schema_version'")
        #expect(throws: StoreError.self) { _ = try store() }
    }

    @Test func failedBatchRollsBackEverything() throws {
        let s = try store()
        _ = try s.apply([rec(event("u", "a"), offset: 0)])
        let other = try SQLiteConnection(path: dir.appendingPathComponent("s.sqlite").path)
        try other.exec("CREATE TRIGGER boom BEFORE INSERT ON items WHEN NEW.ext = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END")
        #expect(throws: StoreError.self) {
            _ = try s.apply([rec(event("v", "new"), offset: 1), rec(event("u", "boom"), offset: 2)])
        }
        #expect(try s.counts().eventsApplied == 1)
        let v = try s.userID("v"), new = try s.itemID("new")
        #expect(v == nil && new == nil)
        #expect(try s.nextOffsets(for: [StreamPartition("t", 0)])[StreamPartition("t", 0)] == 1)
        try other.exec("DROP TRIGGER boom")
        let out = try s.apply([rec(event("v", "new"), offset: 1), rec(event("u", "boom"), offset: 2)])
        let v2 = try s.userID("v"), boom = try s.itemID("boom")
        #expect(out.applied == 2 && v2 == 1 && boom == 2)
    }

    /// The apply numbers events itself and claims ids in memory before the transaction commits: a rolled-back
    /// batch must give both back, and numbering must go on across a reopen.
    @Test func aFailedBatchGivesBackItsIDsAndSeqs() throws {
        let path = dir.appendingPathComponent("s.sqlite").path
        func seqs() throws -> [Int64] {
            let db = try SQLiteConnection(path: path, readOnly: true)
            let q = try db.statement("SELECT seq FROM events ORDER BY seq")
            var out: [Int64] = []
            while try q.step() { out.append(q.int64(0)) }
            return out
        }
        do {
            let s = try store(maxLen: 2)
            _ = try s.apply([rec(event("u", "a", id: "e0"), offset: 0), rec(event("u", "b", id: "e1"), offset: 1)])
            let other = try SQLiteConnection(path: path)
            try other.exec("CREATE TRIGGER boom BEFORE INSERT ON items WHEN NEW.ext = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END")
            #expect(throws: StoreError.self) {
                _ = try s.apply([rec(event("u", "c", id: "e2"), offset: 2), rec(event("u", "boom", id: "e3"), offset: 3)])
            }
            try other.exec("DROP TRIGGER boom")
            let out = try s.apply([rec(event("u", "c", id: "e2"), offset: 2), rec(event("u", "d", id: "e3"), offset: 3)])
            #expect(out.applied == 2 && out.duplicateIDs == 0)
            #expect(try seqs() == [3, 4])  // u's sequence is bounded to 2; seqs 1, 2 were trimmed, none skipped
        }
        let s = try store(maxLen: 2)
        let out = try s.apply([rec(event("u", "e", id: "e3"), offset: 4), rec(event("u", "f", id: "e4"), offset: 5)])
        #expect(out.applied == 1 && out.duplicateIDs == 1)
        #expect(try seqs() == [4, 5])  // numbering goes on after a reopen
    }
}
