import Foundation
import Logging
import TacitData
import TacitServiceTestSupport
import Testing

@testable import TacitDaemon
@testable import TacitStore

@Suite("Hesitation lift: a shopper's newest viewed-not-bought items rise in their list")
struct HesitationLiftTests {
    func seqEvent(_ seq: Int64, _ item: Int32, _ behavior: String, _ feedback: FeedbackKind = .implicitPositive) -> SequenceEvent {
        SequenceEvent(seq: seq, item: item, behavior: behavior, feedback: feedback.rawValue, timestampMs: seq * 1000, value: nil, weight: 1)
    }

    @Test func theNewestAuxiliaryOnlyItemsNewestFirst() {
        let lift = HesitationLift(auxiliary: ["view", "cart"], recent: 5, boost: 3)
        let events = [
            seqEvent(1, 10, "view"), seqEvent(2, 11, "view"), seqEvent(3, 11, "buy"),  // 11 bought: taken
            seqEvent(4, 12, "cart"), seqEvent(5, 13, "view"), seqEvent(6, 13, "dislike", .explicitNegative),
            seqEvent(7, 14, "view"), seqEvent(8, 10, "view"), seqEvent(9, 15, "view", .implicitNegative),
        ]
        // 10 viewed again at seq 8 is newer than 14; 13's dislike cancels its view; a skip lifts nothing.
        #expect(lift.items(events) == [10, 14, 12])
        #expect(HesitationLift(auxiliary: ["view", "cart"], recent: 2, boost: 3).items(events) == [10, 14])
        #expect(HesitationLift(auxiliary: [], recent: 5, boost: 3).items(events) == [])
    }

    @Test func theLiftIsInStandardDeviationsOfTheScores() {
        let lift = HesitationLift(auxiliary: ["view"], recent: 5, boost: 2)
        let scores: [Float] = [0, 1, 2, 3]  // population std √1.25
        let lifted = lift.apply(scores, items: [0, 9])  // 9 is out of range: ignored
        #expect(abs(lifted[0] - 2 * Float(1.25).squareRoot()) < 1e-5)
        #expect(Array(lifted[1...]) == [1, 2, 3])
        #expect(lift.apply(scores, items: []) == scores)
    }

    /// A few items far above the rest (a heavy-tailed trend): the unit follows the gap from the median to the
    /// best, so a lifted median item still reaches the top.
    @Test func theLiftReachesTheTopWhenAFewItemsStandFarOut() {
        var scores = (0..<1000).map { Float($0 % 100) / 100 }  // 0 … 0.99, median 0.5
        for i in 0..<5 { scores[i] = 50 }  // trending far out
        let std = Float(TrendCounts.meanAndStandardDeviation(scores).std)
        #expect(abs(HesitationLift.unit(scores) - (50 - 0.5) / 4) < 1e-4 && HesitationLift.unit(scores) > std)
        let lifted = HesitationLift(auxiliary: ["view"], recent: 5, boost: 3).apply(scores, items: [550])
        #expect(lifted[550] > 37 && lifted[550] < 50)  // above all but the five
        // Without the far-out items the unit is the standard deviation, as before.
        let plain = (0..<1000).map { Float($0 % 100) / 100 }
        #expect(abs(HesitationLift.unit(plain) - Float(TrendCounts.meanAndStandardDeviation(plain).std)) < 1e-6)
    }

    @Test func selectFindsTheValueOfARank() {
        var rng = SystemRandomNumberGenerator.Seeded(seed: 3)
        for n in [1, 2, 3, 10, 101, 1000] {
            let v = (0..<n).map { _ in Float(rng.next() % 50) }
            for rank in [0, n / 2, n - 1] {
                var copy = v
                #expect(HesitationLift.select(&copy, rank: rank) == v.sorted()[rank], "n \(n) rank \(rank)")
            }
        }
    }

    @Test func configurationTurnsItOnOnlyWhereItCanLift() {
        var p = TacitConfiguration().publisher
        var taxonomy = TacitConfiguration().taxonomy
        taxonomy.auxiliary = ["view", "cart"]
        #expect(p.hesitationLift(taxonomy) == HesitationLift(auxiliary: ["view", "cart"], recent: 5, boost: 3))
        p.reshowBoost = 0
        #expect(p.hesitationLift(taxonomy) == nil)
        p.reshowBoost = 3
        p.reshowAuxiliary = false  // viewed items are excluded from lists: nothing to lift
        #expect(p.hesitationLift(taxonomy) == nil)
        p.reshowAuxiliary = true
        taxonomy.auxiliary = []
        #expect(p.hesitationLift(taxonomy) == nil)
    }

    /// A trained LightGCN over two clusters: an A user who views a B item gets it in their list with the lift, at
    /// once (the cached vector is dropped with the event), and a B item they only viewed long before the others
    /// stays below the newest ones.
    @Test func aViewedItemRisesInTheServedListAtOnce() async throws {
        let f = TrainerFixture()
        let store = try f.openStore()
        _ = try store.apply(clusterRecords())
        let lift = HesitationLift(auxiliary: ["view"], recent: 1, boost: 3)
        let lifted = try EmbeddingRecommender(model: "lightgcn", store: store, foldInWeight: 0.5, cacheCapacity: 100, lift: lift)
        let plain = try EmbeddingRecommender(model: "lightgcn", store: store, foldInWeight: 0.5, cacheCapacity: 100)
        let report = try await TrainerService(
            configuration: trainerConfig(model: "lightgcn"),
            store: store,
            recommender: lifted,
            metrics: nil,
            logger: Logger(label: "test")
        ).fineTune()
        guard case .promoted = report.outcome, let model = lifted.model else { throw TestFailure("not promoted: \(report)") }
        plain.install(model)
        let a3 = try #require(try store.userID("a3"))
        _ = try lifted.recommend(user: a3, k: 5, excluding: [])  // caches a3's vector
        let out = try store.apply([
            rec(event("a3", "B1", "view", ts: 1_700_003_000_000, feedback: .implicitPositive), offset: 7000),
            rec(event("a3", "B2", "view", ts: 1_700_003_000_001, feedback: .implicitPositive), offset: 7001),
        ])
        lifted.didApply(out)
        plain.didApply(out)
        let b1 = try #require(try store.itemID("B1")), b2 = try #require(try store.itemID("B2"))
        let withLift = try #require(try lifted.recommend(user: a3, k: 5, excluding: []))
        let without = try #require(try plain.recommend(user: a3, k: 5, excluding: []))
        #expect(withLift.items.first?.item == b2, "the newest view leads: \(withLift.items)")
        #expect(!without.items.contains { $0.item == b2 }, "an A user's list holds no B item without the lift: \(without.items)")
        #expect(!withLift.items.contains { $0.item == b1 }, "recent = 1 lifts only the newest view")
    }
}
