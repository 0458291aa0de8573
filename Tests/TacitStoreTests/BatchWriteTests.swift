import Foundation
import TacitServiceTestSupport
import Testing

@testable import TacitStore

/// The two parts the batch apply is built from: the in-memory de-duplication window and the multi-row statement.
@Suite("Batch writes")
struct BatchWriteTests {
    let temp = TemporaryDirectory()

    /// `insert` outside `#expect`, which cannot call a mutating method.
    private func claim(_ w: inout RecentEventIDs, _ ids: String...) -> Bool { ids.allSatisfy { w.insert($0) } }

    @Test func aBatchClaimsItsIDsAndCatchesRepeatsInsideIt() {
        var w = RecentEventIDs(capacity: 10)
        w.append(contentsOf: ["a", "b"])
        #expect(!claim(&w, "a"))  // in the window
        #expect(claim(&w, "c"))
        #expect(!claim(&w, "c"))  // earlier in the same batch
        #expect(w.contains("c"))
        w.commit()
        #expect(w.contains("a") && w.contains("b") && w.contains("c"))
    }

    @Test func aRolledBackBatchLeavesNoIDBehind() {
        var w = RecentEventIDs(capacity: 10)
        w.append(contentsOf: ["a"])
        #expect(claim(&w, "x") && claim(&w, "y"))
        w.rollback()
        #expect(!w.contains("x") && !w.contains("y") && w.contains("a"))
        #expect(claim(&w, "x"))  // the retried batch may take it again
        w.commit()
        #expect(w.contains("x"))
    }

    @Test func theWindowForgetsTheOldestBeyondItsCapacity() {
        var w = RecentEventIDs(capacity: 3)
        w.append(contentsOf: ["e0", "e1"])
        for id in ["e2", "e3", "e4"] { #expect(claim(&w, id)) }
        w.commit()
        #expect(["e0", "e1"].allSatisfy { !w.contains($0) })
        #expect(["e2", "e3", "e4"].allSatisfy { w.contains($0) })
        // A batch larger than the window keeps only its own newest ids.
        for i in 0..<7 { #expect(claim(&w, "f\(i)")) }
        w.commit()
        #expect((0..<4).allSatisfy { !w.contains("f\($0)") } && (4..<7).allSatisfy { w.contains("f\($0)") })
        #expect(!w.contains("e4"))
        // An id the window forgot is new again, and evicting it later does not forget its newer copy.
        #expect(claim(&w, "e2"))
        w.commit()
        #expect(claim(&w, "g0") && claim(&w, "g1"))
        w.commit()
        #expect(w.contains("e2") && w.contains("g0") && w.contains("g1") && !w.contains("f6"))
    }

    @Test func aWindowOfZeroStillCatchesRepeatsInsideABatch() {
        var w = RecentEventIDs(capacity: 0)
        #expect(claim(&w, "a"))
        #expect(!claim(&w, "a"))
        w.commit()
        #expect(!w.contains("a"))
        #expect(claim(&w, "a"))
    }

    /// The fold of a batch: runs of equal keys in (user, behavior, item) order; a user's newest event (by seq,
    /// not by time) names the partition that serves them.
    @Test func aBatchFoldsIntoOneRowPerKey() {
        func e(
            _ seq: Int64,
            _ user: Int64,
            _ item: Int64,
            _ behavior: Int64,
            ts: Int64,
            fb: Int64?,
            partition: Int32 = 0
        )
            -> BatchFold.Event
        {
            BatchFold.Event(
                seq: seq,
                user: user,
                item: item,
                behavior: behavior,
                feedback: fb,
                ts: ts,
                value: nil,
                weight: 1,
                positive: fb == 1,
                partition: partition,
                externalUser: "u\(user)"
            )
        }
        let fold = BatchFold([
            e(10, 2, 7, 1, ts: 50, fb: 1, partition: 3),
            e(11, 1, 7, 1, ts: 40, fb: 1),
            e(12, 2, 7, 1, ts: 50, fb: 2, partition: 1),  // same time: the later event's feedback wins
            e(13, 2, 5, 2, ts: 30, fb: nil, partition: 2),  // newest by seq, oldest by time
            e(14, 1, 5, 1, ts: 45, fb: 1),
        ])
        #expect(fold.users.map(\.user) == [1, 2])
        #expect(fold.users.map(\.external) == ["u1", "u2"])
        #expect(fold.users[1].events == 3 && fold.users[1].lastTs == 50 && fold.users[1].lastSeq == 13)
        #expect(fold.users[1].partition == 2)
        #expect(fold.userBehaviors.map { [$0.user, $0.behavior, $0.count] } == [[1, 1, 2], [2, 1, 2], [2, 2, 1]])
        #expect(fold.interactions.map { [$0.user, $0.behavior, $0.item, $0.count] } == [[1, 1, 5, 1], [1, 1, 7, 1], [2, 1, 7, 2], [2, 2, 5, 1]])
        #expect(fold.interactions[2].lastFeedback == 2 && fold.interactions[2].lastTs == 50)
        #expect(fold.items.map { [$0.item, $0.events, $0.positives] } == [[5, 2, 1], [7, 3, 2]])
        #expect(BatchFold([]).users.isEmpty)
    }

    /// Every row count splits into full chunks and power-of-two remainders; each row lands once, in order,
    /// and RETURNING rows come back from every chunk.
    @Test(arguments: [0, 1, 2, 7, 63, 64, 65, 127, 200])
    func multiRowStatementsWriteEveryRowOnce(count: Int) throws {
        let db = try SQLiteConnection(path: temp.url.appendingPathComponent("m\(count).sqlite").path)
        try db.exec("CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT, w REAL)")
        let insert = MultiRowStatement("INSERT INTO t(k, v, w) VALUES", columns: 3, "RETURNING k", maxRows: 64)
        var returned: [Int64] = []
        try insert.run(
            db,
            count: count,
            bind: { s, i, p in s.bind(p, Int64(i * 10)).bind(p + 1, i % 2 == 0 ? "r\(i)" : nil).bind(p + 2, Double(i) / 4) },
            result: { s in returned.append(s.int64(0)) }
        )
        #expect(returned.sorted() == (0..<count).map { Int64($0 * 10) })
        let update = MultiRowStatement(
            "UPDATE t SET w = w + v.column2 FROM (VALUES",
            columns: 2,
            ") AS v WHERE t.k = v.column1",
            maxRows: 16
        )
        try update.run(db, count: count) { s, i, p in s.bind(p, Int64(i * 10)).bind(p + 1, 1.0) }
        let q = try db.statement("SELECT k, coalesce(v, '-'), w FROM t ORDER BY k")
        var rows: [String] = []
        while try q.step() { rows.append("\(q.int64(0)) \(q.string(1)) \(q.double(2))") }
        #expect(rows == (0..<count).map { i in "\(i * 10) \(i % 2 == 0 ? "r\(i)" : "-") \(Double(i) / 4 + 1)" })
    }

    @Test func statementTextsArePowersOfTwoUpToTheChunk() {
        let m = MultiRowStatement("INSERT INTO t(a, b) VALUES", columns: 2, "ON CONFLICT DO NOTHING", maxRows: 4)
        #expect(m.sql(rows: 1) == "INSERT INTO t(a, b) VALUES (?, ?) ON CONFLICT DO NOTHING")
        #expect(m.sql(rows: 4) == "INSERT INTO t(a, b) VALUES (?, ?), (?, ?), (?, ?), (?, ?) ON CONFLICT DO NOTHING")
    }
}
