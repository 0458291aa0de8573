import Foundation
import Logging
import TacitData
import TacitKafka
import TacitServiceTestSupport
import TacitStore
import Testing

@testable import TacitDaemon

@Suite("Model serving: fold-in between fine-tunes")
struct ModelServingTests {
    /// A store with the two clusters and a promoted model of `model`.
    func trained(_ model: String, capacity: Int = 100) async throws -> (EventStore, EmbeddingRecommender) {
        let f = TrainerFixture()
        let store = try f.openStore()
        _ = try store.apply(clusterRecords())
        let serving = try EmbeddingRecommender(model: model, store: store, foldInWeight: 0.5, cacheCapacity: capacity)
        let report = try await TrainerService(
            configuration: trainerConfig(model: model),
            store: store,
            recommender: serving,
            metrics: nil,
            logger: Logger(label: "test")
        ).fineTune()
        guard case .promoted = report.outcome else { throw TestFailure("not promoted: \(report)") }
        return (store, serving)
    }

    @Test(arguments: ["lightgcn", "bpr", "hnt"])
    func aNewUserGetsTheClusterOfTheirItemsAtOnce(model: String) async throws {
        let (store, serving) = try await trained(model)
        // A user the model has never seen buys three B items.
        let out = try store.apply([
            rec(event("newbie", "B1", ts: 1_700_001_000_000), offset: 5000),
            rec(event("newbie", "B4", ts: 1_700_001_000_001), offset: 5001),
            rec(event("newbie", "B7", ts: 1_700_001_000_002), offset: 5002),
        ])
        serving.didApply(out)
        let newbie = try #require(try store.userID("newbie"))
        let list = try #require(try serving.recommend(user: newbie, k: 4, excluding: try store.interactedItems(user: newbie).consumed))
        #expect(list.model.name == model && list.model.version > 0)
        let names = try store.itemExternalIDs(for: list.items.map(\.item))
        #expect(try share(list, store, prefix: "B") >= 0.75, "got \(names)")
        #expect(zip(list.items, list.items.dropFirst()).allSatisfy { $0.score >= $1.score })
    }

    @Test func anExistingUsersListMovesWithTheirNewEvents() async throws {
        let (store, serving) = try await trained("lightgcn")
        let a3 = try #require(try store.userID("a3"))
        let before = try serving.recommend(user: a3, k: 5, excluding: [])
        #expect(try share(before, store, prefix: "A") >= 0.8)
        #expect(serving.cachedUsers == 1)
        // a3 turns to cluster B: many B buys, newer than the snapshot.
        let records = (0..<10).map { rec(event("a3", "B\($0)", ts: 1_700_002_000_000 + Int64($0)), offset: 6000 + Int64($0)) }
        serving.didApply(try store.apply(records))
        #expect(serving.cachedUsers == 0)  // the touched user's vector was dropped
        let after = try serving.recommend(user: a3, k: 5, excluding: [])
        #expect(after?.model == before?.model)  // same model, no fine-tune in between
        #expect(try share(after, store, prefix: "B") > (try share(before, store, prefix: "B")))
    }

    @Test func theVectorCacheIsBoundedByConfiguration() async throws {
        let (store, serving) = try await trained("bpr", capacity: 3)
        for u in 0..<20 {
            _ = try serving.recommend(user: Int32(u), k: 3, excluding: [])
            #expect(serving.cachedUsers <= 3)
        }
        _ = store
    }

    @Test func beforeAnyPromotionListsComeFromPopularity() throws {
        let f = TrainerFixture()
        let store = try f.openStore()
        _ = try store.apply(clusterRecords(usersPerCluster: 3))
        let serving = try EmbeddingRecommender(model: "lightgcn", store: store, foldInWeight: 0.5, cacheCapacity: 10)
        let list = try #require(try serving.recommend(user: 0, k: 3, excluding: []))
        #expect(list.model == ModelIdentity(name: "popularity", version: 0) && list.items.count == 3)
    }
}

@Suite("Model serving end to end against a real Tansu broker", .serialized, .enabled(if: TestBroker.isAvailable))
struct ModelServingEndToEndTests {
    @Test func lightGCNListsWithAVersionArriveOnTheRecommendationsTopic() async throws {
        let broker = try TestBroker()
        let dir = tempDir()
        defer { removeTempDir(dir) }
        var config = testConfiguration(broker: broker.bootstrap, dir: dir)
        config.trainer = trainerConfig(model: "lightgcn")
        config.trainer.everyEvents = 100
        config.trainer.intervalSeconds = 2
        config.publisher.explain = true
        let daemon = Daemon(
            configuration: config,
            components: try DaemonComponents.fromConfiguration(config),
            logger: testLogger("daemon"),
            environment: [:]
        )
        let running = Task { try await daemon.run() }

        // 20 users in two clusters, 6 buys each, keyed by user.
        let records = clusterRecords(usersPerCluster: 10).compactMap { r -> ProducerRecord? in
            guard case .event(let e) = r.payload else { return nil }
            return ProducerRecord(
                topic: "tacit.behaviors",
                key: Array(e.user.utf8),
                value: eventJSON(user: e.user, item: e.item, type: "buy", ts: e.timestampMs)
            )
        }
        let users = Set(records.compactMap { $0.key.map { String(decoding: $0, as: UTF8.self) } })
        #expect(users.count == 20)
        try await produce(broker.bootstrap, records)

        var latest: [String: [String: Any]] = [:]
        _ = try await consume(broker.bootstrap, topic: "tacit.recommendations", timeout: .seconds(45)) { got in
            for m in got {
                if let o = jsonObject(m.value), let user = o["user"] as? String, o["model"] as? String == "lightgcn" {
                    latest[user] = o
                }
            }
            return Set(latest.keys).isSuperset(of: users)
        }
        #expect(Set(latest.keys).isSuperset(of: users), "lightgcn lists for \(latest.count) of \(users.count) users")
        for (user, o) in latest {
            #expect((o["model_version"] as? Int ?? 0) >= 1)
            let items = o["items"] as? [[String: Any]] ?? []
            #expect(!items.isEmpty, "empty list for \(user)")
            // publisher.explain: every listed item with the item the user bought most similar to it.
            let because = (o["explanation"] as? [String: Any])?["because"] as? [[String: Any]] ?? []
            #expect(because.compactMap { $0["item"] as? String } == items.compactMap { $0["item"] as? String }, "\(o)")
            #expect(because.allSatisfy { ($0["because"] as? String)?.first?.uppercased() == user.first?.uppercased() }, "\(o)")
        }
        // The served model is visible over HTTP too, explained on request.
        let (status, body) = try httpGet(port: config.http.port, path: "/recommendations/a0")
        #expect(status == 200 && body.contains("lightgcn"))
        let (explainedStatus, explained) = try httpGet(port: config.http.port, path: "/recommendations/a0?explain=1")
        #expect(explainedStatus == 200 && jsonObject(Array(explained.utf8))?["explanation"] != nil, "\(explained)")

        await daemon.shutdown()
        try await running.value
        broker.stop()
    }
}
