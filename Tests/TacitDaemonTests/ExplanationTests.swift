import Foundation
import Logging
import TacitData
import TacitModels
import TacitServiceTestSupport
import TacitStore
import Testing

@testable import TacitDaemon

@Suite("Explanations: why a list is what it is, from the model that made it")
struct ExplanationTests {
    /// HNT: a user who only viewed items gets those items with conversion probabilities, most likely first,
    /// the same the snapshot carries across a restart; every listed item comes with a "because" item the
    /// user took.
    @Test func hntExplainsWithTheUsersHesitationItemsAndTheirConversionProbabilities() async throws {
        let f = TrainerFixture()
        let store = try f.openStore()
        var records = clusterRecords()
        var offset: Int64 = 10_000
        for (k, i) in [0, 3, 5, 8, 9].enumerated() {
            records.append(
                rec(
                    event("looker", "A\(i)", "view", ts: 1_700_000_600_000 + Int64(k), feedback: .implicitPositive),
                    offset: offset
                )
            )
            offset += 1
        }
        _ = try store.apply(records)
        let serving = try EmbeddingRecommender(model: "hnt", store: store, foldInWeight: 0.5, cacheCapacity: 100)
        let trainer = TrainerService(
            configuration: trainerConfig(model: "hnt"),
            auxiliaryBehaviors: ["view"],
            store: store,
            recommender: serving,
            metrics: nil,
            logger: Logger(label: "test")
        )
        guard case .promoted = try await trainer.fineTune().outcome else { throw TestFailure("not promoted") }

        let looker = try #require(try store.userID("looker"))
        let rules = ListBuilder.Rules(topK: 4, reshown: ["view"])
        let list = try #require(try ListBuilder(store: store, source: serving, rules: rules).list(user: looker, explain: true))
        let why = try #require(list.explanation)
        let viewed = Set(try ["A0", "A3", "A5", "A8", "A9"].map { try #require(try store.itemID($0)) })
        #expect(why.hesitation.count == 5)
        #expect(Set(why.hesitation.map(\.item)) == viewed)
        #expect(why.hesitation.allSatisfy { $0.probability > 0 && $0.probability < 1 })
        #expect(zip(why.hesitation, why.hesitation.dropFirst()).allSatisfy { $0.probability >= $1.probability })
        #expect(why.because.map(\.item) == list.items.map(\.item))
        // Views are positives (implicit), so every reason is one of the viewed items.
        #expect(why.because.allSatisfy { viewed.contains($0.because) })

        // A restarted daemon serves the snapshot: same list, same explanation.
        let restarted = try EmbeddingRecommender(model: "hnt", store: store, foldInWeight: 0.5, cacheCapacity: 100)
        let again = try ListBuilder(store: store, source: restarted, rules: rules).list(user: looker, explain: true)
        #expect(again?.explanation == why)
        // Without asking, nothing is computed.
        #expect(try ListBuilder(store: store, source: serving, rules: rules).list(user: looker)?.explanation == nil)
    }

    /// "because" is the user's positive item whose embedding is most similar (cosine) to the listed item's: not the
    /// one with the largest dot product, which favours items of large norm.
    @Test func becauseIsTheClosestItemTheUserTook() throws {
        let f = TrainerFixture()
        let store = try f.openStore()
        // Items 0..3 in the store; the user took items 0 (x axis) and 1 (y axis).
        _ = try store.apply([
            rec(event("u", "x"), offset: 0), rec(event("u", "y", ts: 1_700_000_000_001), offset: 1),
            rec(event("v", "nearX"), offset: 2), rec(event("v", "nearY"), offset: 3),
        ])
        let ids = try ["x", "y", "nearX", "nearY"].map { try #require(try store.itemID($0)) }
        var items = [Float](repeating: 0, count: 8)
        func set(_ id: Int32, _ a: Float, _ b: Float) {
            items[Int(id) * 2] = a
            items[Int(id) * 2 + 1] = b
        }
        // x has a large norm: nearY · x = 1.5 > nearY · y = 0.8, but nearY points along y (cosine 0.85 against 0.53).
        set(ids[0], 3, 0)
        set(ids[1], 0, 1)
        set(ids[2], 0.9, 0.1)
        set(ids[3], 0.5, 0.8)
        let users: [Float] = [1, 1, 1, 1]
        let model = ServingEmbeddings(
            model: "bpr",
            version: 1,
            dim: 2,
            userCount: 2,
            itemCount: 4,
            userBase: users,
            itemBase: items,
            users: users,
            items: items,
            itemDegree: [],
            eventsThroughSeq: 4,
            metrics: [:],
            createdMs: 0
        )
        let serving = try EmbeddingRecommender(model: "bpr", store: store, foldInWeight: 0.5, cacheCapacity: 10)
        serving.install(model)
        let u = try #require(try store.userID("u"))
        let list = try #require(try ListBuilder(store: store, source: serving, rules: .init(topK: 2)).list(user: u, explain: true))
        #expect(Set(list.items.map(\.item)) == [ids[2], ids[3]])
        let because = Dictionary(uniqueKeysWithValues: (list.explanation?.because ?? []).map { ($0.item, $0.because) })
        #expect(because == [ids[2]: ids[0], ids[3]: ids[1]])
        // A popularity list (no model yet) has nothing to explain.
        let cold = try EmbeddingRecommender(model: "lightgcn", store: store, foldInWeight: 0.5, cacheCapacity: 10)
        let fallback = try ListBuilder(store: store, source: cold, rules: .init(topK: 2)).list(user: u, explain: true)
        #expect(fallback?.model.name == "popularity" && fallback?.explanation == nil)
    }

    /// SINE, EmoRec (and SASRec): the newest negatives, newest first, and exactly the items that scoring the
    /// history without them would list and the served list does not.
    @Test(arguments: ["sasrec", "sine", "emorec"])
    func aSequentialListNamesTheNegativesAndWhatTheyPushedDown(model: String) async throws {
        let f = TrainerFixture()
        let store = try f.openStore()
        let fixture = SequenceServingTests()
        _ = try store.apply(fixture.records())
        let serving = try EmbeddingRecommender(model: model, store: store, foldInWeight: 0.5, cacheCapacity: 100)
        guard
            case .promoted = try await TrainerService(
                configuration: fixture.config(model),
                store: store,
                recommender: serving,
                metrics: nil,
                logger: Logger(label: "test")
            ).fineTune().outcome
        else { throw TestFailure("not promoted") }
        // a3 skips two of their own cluster's items and dislikes a third.
        let a3 = try #require(try store.userID("a3"))
        let newest: [(String, String, FeedbackKind)] = [
            ("A7", "skip", .implicitNegative), ("A8", "skip", .implicitNegative),
            ("A9", "dislike", .explicitNegative),
        ]
        let negatives = newest.enumerated().map { k, e in
            rec(event("a3", e.0, e.1, ts: 1_700_003_000_000 + Int64(k), feedback: e.2), offset: 40_000 + Int64(k))
        }
        serving.didApply(try store.apply(negatives))

        let builder = ListBuilder(store: store, source: serving, rules: .init(topK: 4))
        let list = try #require(try builder.list(user: a3, explain: true))
        let why = try #require(list.explanation)
        #expect(why.negatives.prefix(3).map(\.item) == (try ["A9", "A8", "A7"].map { try #require(try store.itemID($0)) }))
        #expect(why.negatives.prefix(3).map(\.feedback) == [.explicitNegative, .implicitNegative, .implicitNegative])
        #expect(why.negatives.count <= Explanation.limit && why.hesitation.isEmpty && why.because.isEmpty)

        // The counterfactual, computed here from the served network directly.
        let sequence = try #require(serving.model?.sequence)
        let history = sequence.history(try store.sequence(user: a3), user: a3).filter { FeedbackKind(rawValue: Int($0.behavior))?.isPositive == true }
        let without = try #require(sequence.scores(history: history))
        let excluded = try builder.excluded(user: a3)
        let wouldList = FoldIn.topK(scores: without, k: 4, excluded: excluded).map(\.item)
        let listed = Set(list.items.map(\.item))
        #expect(why.pushedDown.map(\.item) == wouldList.filter { !listed.contains($0) })
        #expect(why.pushedDown.allSatisfy { $0.scoreWithout == without[Int($0.item)] && (1...4).contains($0.rankWithout) })
    }

    /// The message's `"explanation"` is valid JSON naming items by their external ids.
    @Test func theMessageCarriesTheExplanationAsJSON() throws {
        let f = TrainerFixture()
        let store = try f.openStore()
        _ = try store.apply([
            rec(event("u", "shoe"), offset: 0), rec(event("u", "sock", "skip", feedback: .implicitNegative), offset: 1),
            rec(event("v", "boot"), offset: 2),
        ])
        let shoe = try #require(try store.itemID("shoe")), sock = try #require(try store.itemID("sock"))
        let boot = try #require(try store.itemID("boot"))
        let why = Explanation(
            hesitation: [.init(item: sock, probability: 0.25)],
            because: [.init(item: boot, because: shoe)],
            negatives: [.init(item: sock, feedback: .implicitNegative, timestampMs: 1_700_000_000_000)],
            pushedDown: [.init(item: shoe, rankWithout: 1, scoreWithout: 2, score: 1)]
        )
        let list = Recommendations(
            items: [ScoredItem(item: boot, score: 0.5)],
            model: ModelIdentity(name: "sine", version: 3),
            explanation: why
        )
        let text = try PublisherService.message(user: "u", list, store: store, generatedAtMs: 0, through: [:])
        let o = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let e = try #require(o["explanation"] as? [String: Any])
        #expect((e["hesitation"] as? [[String: Any]])?.first?["item"] as? String == "sock")
        #expect((e["hesitation"] as? [[String: Any]])?.first?["conversion_probability"] as? Double == 0.25)
        #expect((e["because"] as? [[String: Any]])?.first?["because"] as? String == "shoe")
        #expect((e["negatives"] as? [[String: Any]])?.first?["feedback"] as? String == "skip")
        #expect((e["pushed_down"] as? [[String: Any]])?.first?["rank_without_negatives"] as? Int == 1)
        #expect((o["items"] as? [[String: Any]])?.first?["item"] as? String == "boot")
        // Without an explanation the message is unchanged.
        let plain = try PublisherService.message(
            user: "u",
            Recommendations(items: list.items, model: list.model),
            store: store,
            generatedAtMs: 0,
            through: [:]
        )
        #expect(!plain.contains("explanation"))
    }
}
