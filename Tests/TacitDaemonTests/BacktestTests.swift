import Foundation
import Logging
import Testing
import TacitStore
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

    @Test func anUnknownModelFailsNamingTheKey() throws {
        var c = TacitConfiguration()
        c.trainer.model = "transformer"
        #expect(throws: ConfigurationError.self) { try Backtest(configuration: c, logger: Logger(label: "test")) }
    }
}
