import Foundation
import Logging
import TacitData
import TacitServiceTestSupport
import TacitStore
import Testing

@testable import TacitDaemon

/// The current item trend (`TrendCounts`, `ItemTrend`), how serving adds it to a model's scores
/// (`TrendPrior`), and the `trending` baseline.
@Suite("Item trend")
struct TrendTests {
    /// The half-life index of 1,000 positive events.
    static let short = TrendCounts.halfLives.firstIndex(of: 1_000)!
    static let long = TrendCounts.halfLives.firstIndex(of: 100_000)!

    @Test func anEventOneHalfLifeOldCountsHalf() {
        // Item 0 taken twice, then 998 events of item 2, then item 1 once: under a half-life of 1,000
        // events, item 0's two old events weigh 2 · 2^(−999/1000) ≈ 1.0014 against item 1's 1.
        var counts = TrendCounts(itemCount: 3)
        counts.add(0)
        counts.add(0)
        for _ in 0..<998 { counts.add(2) }
        counts.add(1)
        let raw = TrendCounts.halfLives.indices.map { counts.prior(halfLife: $0, itemCount: 3) }
        // Standardization is monotone: compare the order, and the near tie under the short half-life.
        #expect(raw[Self.short][2] > raw[Self.short][0] && raw[Self.short][0] > raw[Self.short][1])
        #expect(abs(raw[Self.short][0] - raw[Self.short][1]) < 0.01, "2 · 2^(−0.999) vs 1: \(raw[Self.short])")
        let shortGap = raw[Self.short][0] - raw[Self.short][1], longGap = raw[Self.long][0] - raw[Self.long][1]
        #expect(longGap > 10 * abs(shortGap), "under 100,000 the two old events still count almost twice: \(longGap) vs \(shortGap)")
    }

    @Test func aTrendThatShiftsOverTakesTheOldFavouriteAndSumsStayFinite() {
        // 600,000 events (the sums are rescaled well before 2^x overflows): item 0 first, then item 1.
        var counts = TrendCounts(itemCount: 2)
        for _ in 0..<400_000 { counts.add(0) }
        for _ in 0..<200_000 { counts.add(1) }
        for h in TrendCounts.halfLives.indices {
            let p = counts.prior(halfLife: h, itemCount: 2)
            #expect(p.allSatisfy { $0.isFinite })
            #expect(p[1] > p[0], "half-life \(TrendCounts.halfLives[h])")
        }
        #expect(counts.clock == 600_000)
    }

    @Test func weightZeroServesTheModelAndAWeightMovesTheTrendUp() {
        let scores: [Float] = [3, 2, 1, 0]
        let prior: [Float] = [-1, -1, -1, 3]
        #expect(TrendPrior(halfLife: 0, weight: 0).apply(scores, prior: prior) == scores)
        // Scores have standard deviation √1.25 ≈ 1.118: with weight 1, item 3 gains 4 units of prior over
        // the others, more than the 3/1.118 = 2.68 it trails item 0 by.
        let adjusted = TrendPrior(halfLife: 0, weight: 1).apply(scores, prior: prior)
        #expect(adjusted.indices.max { adjusted[$0] < adjusted[$1] } == 3)
        let light = TrendPrior(halfLife: 0, weight: 0.5).apply(scores, prior: prior)
        #expect(light.indices.max { light[$0] < light[$1] } == 0)
    }

    @Test func thePriorTravelsInTheSnapshotMetrics() {
        let p = TrendPrior(halfLife: 2, weight: 0.5)
        #expect(TrendPrior(metrics: p.metrics) == p)
        #expect(TrendPrior(metrics: TrendPrior(halfLife: 2, weight: 0).metrics) == nil, "weight 0 is the model alone")
        #expect(TrendPrior(metrics: ["ndcg@10": 0.3]) == nil)
    }

    /// A log whose favourite changes: 50 users `s` each take a tail item; 150 others take each of 12
    /// classics (1,800 events, round robin); then 120 more take "new". In the scored chunk the 50 `s`
    /// users take "new". All-time counts: classics 150, new 120 (13th); decayed under a half-life of
    /// 1,000 events: new ≈ 115, each classic ≈ 79.
    static func shiftingLog() -> (events: [UserEvent], warmup: Int) {
        var events: [UserEvent] = []
        var ts: Int64 = 1_700_000_000_000
        func add(_ user: String, _ item: String) {
            ts += 1
            events.append(event(user, item, ts: ts))
        }
        for u in 0..<50 { add("s\(u)", "tail\(u)") }
        for u in 0..<150 { for k in 0..<12 { add("c\(u)", "classic\(k)") } }
        for u in 0..<120 { add("n\(u)", "new") }
        let warmup = events.count
        for u in 0..<50 { add("s\(u)", "new") }
        return (events, warmup)
    }

    func backtest(_ model: String, _ events: [UserEvent], warmup: Int) async throws -> Backtest.Round {
        let temp = TemporaryDirectory()
        var c = TacitConfiguration()
        c.trainer = trainerConfig(model: model)
        c.trainer.trendHalfLife = 1_000
        c.store.path = temp.url.appendingPathComponent("backtest.sqlite").path
        return try await Backtest(configuration: c, logger: Logger(label: "test"))
            .run(events: events, warmupEvents: warmup, rounds: 1)[1]
    }

    @Test func trendingServesWhatIsTakenLatelyWherePopularityServesTheOldFavourite() async throws {
        let (events, warmup) = Self.shiftingLog()
        let popularity = try await backtest("popularity", events, warmup: warmup)
        let trending = try await backtest("trending", events, warmup: warmup)
        #expect(popularity.users == 50 && trending.users == 50)
        #expect(popularity.hr10 == 0, "new is 13th by all-time counts")
        #expect(trending.hr10 == 1 && trending.ndcg10 == 1)
        #expect(trending.servedBy == "trending@0")
    }

    @Test func aTrendingHalfLifeOutsideTheGridFailsNamingTheKey() throws {
        let temp = TemporaryDirectory()
        let file = temp.url.appendingPathComponent("tacit.toml")
        try "[trainer]\nmodel = \"trending\"\n[trainer.trending]\nhalf_life = 5000\n".write(to: file, atomically: true, encoding: .utf8)
        #expect { _ = try TacitConfiguration.load(path: file.path) } throws: { "\($0)".contains("trainer.trending.half_life: must be one of") }
    }

    @Test func theLiveTrendFollowsAppliedBatchesAndARestartRebuildsIt() throws {
        let temp = TemporaryDirectory()
        let config = StoreConfiguration(path: temp.url.appendingPathComponent("t.sqlite").path)
        let store = try EventStore(configuration: config)
        let trend = try ItemTrend(store: store)
        var offset: Int64 = 0
        func apply(_ events: [UserEvent]) throws {
            let outcome = try store.apply(
                events.map { e in
                    defer { offset += 1 }
                    return rec(e, offset: offset)
                }
            )
            trend.didApply(outcome)
        }
        try apply((0..<30).map { event("u\($0)", "A") })
        // A skip is not a positive event: it does not count.
        try apply((0..<40).map { event("v\($0)", "B", "skip", feedback: .implicitNegative) } + (0..<20).map { event("w\($0)", "B") })
        let prior = TrendPrior(halfLife: Self.short, weight: 1)
        let live = trend.prior(prior, itemCount: 2)
        #expect(live[0] > live[1], "30 positives on A against 20 on B")
        let reopened = try ItemTrend(store: EventStore(configuration: config))
        let rebuilt = reopened.prior(prior, itemCount: 2)
        #expect(rebuilt == live)
    }
}
