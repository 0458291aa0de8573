import Foundation
import Logging
import TacitData
import TacitServiceTestSupport
import TacitStore
import Testing

@testable import TacitDaemon

/// Online quality: a published list is scored against its user's next events, per model version,
/// durably (the same rule as the backtest).
@Suite("Online quality of published lists")
struct OnlineQualityTests {
    let temp = TemporaryDirectory()
    func store() throws -> EventStore {
        try EventStore(configuration: StoreConfiguration(path: temp.url.appendingPathComponent("s.sqlite").path))
    }

    /// Items i0…i5 exist; u bought i0. Returns the store, u's id and a helper that applies events for u.
    func fixture() throws -> (EventStore, Int32, (_ events: [UserEvent]) throws -> Void) {
        let s = try store()
        var offset: Int64 = 0
        func apply(_ events: [UserEvent]) throws {
            _ = try s.apply(
                events.map { e in
                    defer { offset += 1 }
                    return rec(e, offset: offset)
                }
            )
        }
        try apply((0..<6).map { event("other", "i\($0)", ts: 1_700_000_000_000 + Int64($0)) } + [event("u", "i0", ts: 1_700_000_000_100)])
        return (s, try #require(try s.userID("u")), apply)
    }

    func ids(_ s: EventStore, _ names: [String]) throws -> [Int32] { try names.map { try #require(try s.itemID($0)) } }

    @Test func aListThenAHitASkipAndADislikeAreScoredForItsVersion() throws {
        let (s, u, apply) = try fixture()
        let online = OnlineQuality(store: s, registry: nil, logger: Logger(label: "test"))
        let list = try ids(s, ["i1", "i2", "i3", "i4"])
        online.delivered([ServedList(user: u, model: "lightgcn", version: 3, items: list, throughSeq: try s.lastSeq(user: u), publishedMs: 1)])
        #expect(try online.summary().isEmpty, "a list is scored only once its user acts")
        // Next: a purchase of the list's third item, a skip of its first, a dislike of its fourth.
        try apply([
            event("u", "i3", ts: 1_700_000_001_000),
            event("u", "i1", "skip", ts: 1_700_000_001_001, feedback: .implicitNegative),
            event("u", "i4", "dislike", ts: 1_700_000_001_002, feedback: .explicitNegative),
        ])
        // The user's next list (from a newer version) is delivered: the old one is scored.
        online.delivered([
            ServedList(
                user: u,
                model: "lightgcn",
                version: 4,
                items: try ids(s, ["i5"]),
                throughSeq: try s.lastSeq(user: u),
                publishedMs: 2
            )
        ])
        let q = try #require(try online.quality(of: ModelIdentity(name: "lightgcn", version: 3)))
        #expect(q.lists == 1 && q.hitLists == 1)
        #expect(q.hr10 == 1 && abs(q.ndcg10 - 1 / log2(4.0)) < 1e-12)
        #expect(q.negShare10 == 0.5)
        #expect(try online.quality(of: ModelIdentity(name: "lightgcn", version: 4)) == nil)

        // Durable: a store reopened on the same file has the totals and the newest list.
        let reopened = try store()
        #expect(try reopened.listQuality() == [q])
        #expect(try reopened.servedList(user: u)?.version == 4)
    }

    @Test func aRepublishWithoutNewEventsReplacesTheListUnscored() throws {
        let (s, u, apply) = try fixture()
        let online = OnlineQuality(store: s, registry: nil, logger: Logger(label: "test"))
        let seq = try s.lastSeq(user: u)
        online.delivered([ServedList(user: u, model: "popularity", version: 0, items: try ids(s, ["i1"]), throughSeq: seq, publishedMs: 1)])
        // A promotion republishes the same user's list with no event in between: nothing to score.
        online.delivered([ServedList(user: u, model: "hnt", version: 1, items: try ids(s, ["i2"]), throughSeq: seq, publishedMs: 2)])
        #expect(try online.summary().isEmpty)
        // Buying an item the user had bought already is no new positive: NegShare only.
        try apply([event("u", "i0", ts: 1_700_000_002_000)])
        online.delivered([
            ServedList(user: u, model: "hnt", version: 1, items: try ids(s, ["i3"]), throughSeq: try s.lastSeq(user: u), publishedMs: 3)
        ])
        let q = try #require(try online.quality(of: ModelIdentity(name: "hnt", version: 1)))
        #expect(q.lists == 1 && q.hitLists == 0 && q.negShare10 == 0)
    }

    /// The control: popularity's list for the same user and moment is scored on the same events beside
    /// the served one, into the served version's control totals, durably.
    @Test func theControlListIsScoredOnTheSameEvents() throws {
        let (s, u, apply) = try fixture()
        let online = OnlineQuality(store: s, registry: nil, logger: Logger(label: "test"))
        online.delivered([
            ServedList(
                user: u,
                model: "sine",
                version: 2,
                items: try ids(s, ["i1", "i2"]),
                throughSeq: try s.lastSeq(user: u),
                publishedMs: 1,
                control: try ids(s, ["i3", "i4"])
            )
        ])
        #expect(try s.servedList(user: u)?.control == (try ids(s, ["i3", "i4"])))
        // The user buys the control's second item and skips the served list's first.
        try apply([
            event("u", "i4", ts: 1_700_000_001_000),
            event("u", "i1", "skip", ts: 1_700_000_001_001, feedback: .implicitNegative),
        ])
        online.delivered([ServedList(user: u, model: "sine", version: 3, items: [], throughSeq: try s.lastSeq(user: u), publishedMs: 2)])
        let q = try #require(try online.quality(of: ModelIdentity(name: "sine", version: 2)))
        #expect(q.lists == 1 && q.hitLists == 1 && q.hr10 == 0 && q.ndcg10 == 0 && q.negShare10 == 0.5)
        #expect(q.control.lists == 1 && q.control.hitLists == 1)
        #expect(q.control.hr10 == 1 && abs(q.control.ndcg10 - 1 / log2(3.0)) < 1e-12 && q.control.negShare10 == 0)
        #expect(try store().listQuality() == [q])
        #expect(try s.servedList(user: u)?.control == nil, "a list delivered without a control remembers none")
    }

    /// A list without a control (popularity served it) leaves the control totals empty.
    @Test func aListWithoutAControlLeavesTheControlTotalsEmpty() throws {
        let (s, u, apply) = try fixture()
        let online = OnlineQuality(store: s, registry: nil, logger: Logger(label: "test"))
        online.delivered([
            ServedList(user: u, model: "popularity", version: 0, items: try ids(s, ["i1"]), throughSeq: try s.lastSeq(user: u), publishedMs: 1)
        ])
        try apply([event("u", "i1", ts: 1_700_000_001_000)])
        online.delivered([ServedList(user: u, model: "popularity", version: 0, items: [], throughSeq: try s.lastSeq(user: u), publishedMs: 2)])
        let q = try #require(try online.quality(of: ModelIdentity(name: "popularity", version: 0)))
        #expect(q.lists == 1 && q.hr10 == 1)
        #expect(q.control == ListQuality.Totals())
    }
}
