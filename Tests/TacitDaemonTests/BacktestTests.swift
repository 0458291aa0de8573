import Foundation
import Logging
import TacitData
import TacitServiceTestSupport
import TacitStore
import Testing

@testable import TacitDaemon

@Suite("Backtest: the serving path scored on the events after each model")
struct BacktestTests {
    /// Four taste clusters of ten items; each of 60 users buys eight items of their cluster, one per
    /// step, all users in step; five users of cluster a first appear in the last two steps.
    static func clusterEvents() -> [UserEvent] {
        var rng = SystemRandomNumberGenerator.Seeded(seed: 11)
        var plans: [(user: String, items: [String])] = []
        for c in ["a", "b", "c", "d"] {
            for u in 0..<15 {
                var items = Array(0..<10)
                for i in stride(from: 9, to: 0, by: -1) { items.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
                plans.append(("\(c)\(u)", items.prefix(8).map { "\(c.uppercased())\($0)" }))
            }
        }
        var events: [UserEvent] = []
        for step in 0..<8 {
            for (n, p) in plans.enumerated() {
                events.append(event(p.user, p.items[step], ts: 1_700_000_000_000 + Int64(step * 10_000 + n)))
            }
            if step >= 6 {
                for u in 0..<5 { events.append(event("late\(u)", "A\(step + u % 2)", ts: 1_700_000_000_000 + Int64(step * 10_000 + 900 + u))) }
            }
        }
        return events
    }

    func run(model: String, events: [UserEvent]) async throws -> [Backtest.Round] {
        let temp = TemporaryDirectory()
        var c = TacitConfiguration()
        c.trainer = trainerConfig(model: model)
        c.store.path = temp.url.appendingPathComponent("backtest.sqlite").path
        return try await Backtest(configuration: c, logger: Logger(label: "test"))
            .run(events: events, warmupEvents: events.count / 2, rounds: 2)
    }

    @Test func scoresEachServedModelOnTheNextChunkAndTheModelBeatsPopularity() async throws {
        let events = Self.clusterEvents()
        let graph = try await run(model: "lightgcn", events: events)
        #expect(graph.count == 3)
        #expect(graph[0].users == 0 && graph[0].fineTune.hasPrefix("promoted"))
        // Every known user takes two new items in each chunk; the late users are new, not scored.
        #expect(graph[1].users == 60 && graph[1].newUsers == 0)
        #expect(graph[2].users == 60 && graph[2].newUsers == 5)
        #expect(graph[1].servedBy.hasPrefix("lightgcn@") && graph[1].modelShare == 1)
        #expect(graph[2].endEvent == events.count && graph[1].firstEvent == events.count / 2)

        let popularity = try await run(model: "popularity", events: events)
        #expect(popularity[1].servedBy == "popularity@0" && popularity[1].fineTune == "none (popularity)")
        #expect(popularity[1].users == 60)
        for r in 1...2 {
            #expect(graph[r].ndcg10 > popularity[r].ndcg10 + 0.1, "round \(r): \(graph[r].ndcg10) vs \(popularity[r].ndcg10)")
        }
    }

    /// `tacit backtest` replays a dataset ending at the wall clock, so the same log arrives at another clock origin
    /// on every run: at one seed, a sequential model's rounds must not depend on it (EmoRec's Hawkes kernel read
    /// absolute times until c21a34d, and its backtests drifted from run to run). The rounding itself is caught by
    /// `testHawkesEncodingIsTheSameWhateverTheClocksOrigin`; this guards the whole path (store, trainer, serving).
    @Test func aSequentialBacktestDoesNotDependOnTheClocksOrigin() async throws {
        let events = Self.clusterEvents()
        func shifted(by ms: Int64) -> [UserEvent] {
            events.map { e in
                var e = e
                e.timestampMs += ms
                return e
            }
        }
        var rounds: [[Backtest.Round]] = []
        for ms: Int64 in [0, 21_000, 77_777_000] { rounds.append(try await run(model: "emorec", events: shifted(by: ms))) }
        for r in rounds.dropFirst() {
            #expect(r.map(\.hr10) == rounds[0].map(\.hr10) && r.map(\.ndcg10) == rounds[0].map(\.ndcg10))
            #expect(r.map(\.fineTune) == rounds[0].map(\.fineTune))
        }
        #expect(rounds[0][1].servedBy.hasPrefix("emorec@"))
    }

    /// Popularity lists over a hand-made log: five buyers make A, B, C, D the popular items (5, 4, 3, 2
    /// positives); `x` bought Z, `y` only viewed D. In the scored chunk `x` skips A, dislikes B and buys C;
    /// `y` buys D, the item they had viewed.
    static func handMadeLog() -> (events: [UserEvent], warmup: Int) {
        var events: [UserEvent] = []
        var ts: Int64 = 1_700_000_000_000
        func add(_ user: String, _ item: String, _ type: String = "buy", _ feedback: FeedbackKind? = .explicitPositive) {
            ts += 1
            events.append(event(user, item, type, ts: ts, feedback: feedback))
        }
        for (item, buyers) in [("A", 5), ("B", 4), ("C", 3)] { for b in 0..<buyers { add("b\(b)", item) } }
        add("x", "Z")
        add("y", "D", "view", .implicitPositive)
        let warmup = events.count
        add("x", "A", "skip", .implicitNegative)
        add("x", "B", "dislike", .explicitNegative)
        add("x", "C")
        add("y", "D")
        return (events, warmup)
    }

    func handMadeRounds(target: Backtest.Target, reshowAuxiliary: Bool) async throws -> Backtest.Round {
        let temp = TemporaryDirectory()
        var c = TacitConfiguration()
        c.trainer = trainerConfig(model: "popularity")
        c.publisher.reshowAuxiliary = reshowAuxiliary
        c.store.path = temp.url.appendingPathComponent("backtest.sqlite").path
        let (events, warmup) = Self.handMadeLog()
        let rounds = try await Backtest(configuration: c, logger: Logger(label: "test"))
            .run(events: events, warmupEvents: warmup, rounds: 1, target: target)
        return rounds[1]
    }

    @Test func negShareIsTheShareOfAListTheUserThenSkipsOrDislikes() async throws {
        let r = try await handMadeRounds(target: .any, reshowAuxiliary: false)
        // x's list is A B C D (Z consumed): A skipped, B disliked → 2 of 4. y's list is A B C Z (D viewed,
        // so consumed), none of them negative. Mean over the two lists: 0.25.
        #expect(r.negLists == 2)
        #expect(abs(r.negShare10 - 0.25) < 1e-9, "\(r.negShare10)")
        // Discovery: only x's C is new to its user (y had viewed D); C is third in x's list.
        #expect(r.users == 1)
        #expect(r.hr10 == 1 && abs(r.ndcg10 - 1 / log2(4.0)) < 1e-9)
    }

    @Test func aBehaviorTargetCountsPurchasesOfViewedItemsAndReshowingThemReachesThem() async throws {
        // Target buy: x's C and y's D (bought after a view) are both relevant; y is auxiliary-only.
        let excluded = try await handMadeRounds(target: .behavior("buy"), reshowAuxiliary: false)
        #expect(excluded.users == 2 && excluded.auxOnlyUsers == 1)
        #expect(excluded.hr10 == 0.5 && excluded.auxOnlyHR10 == 0, "D is left out of y's list as consumed")
        let reshown = try await handMadeRounds(target: .behavior("buy"), reshowAuxiliary: true)
        #expect(reshown.users == 2 && reshown.auxOnlyUsers == 1)
        #expect(reshown.hr10 == 1 && reshown.auxOnlyHR10 == 1, "D, only viewed, stays in y's list")
    }

    @Test func anUnknownModelFailsNamingTheKey() throws {
        var c = TacitConfiguration()
        c.trainer.model = "transformer"
        #expect(throws: ConfigurationError.self) { try Backtest(configuration: c, logger: Logger(label: "test")) }
    }
}
