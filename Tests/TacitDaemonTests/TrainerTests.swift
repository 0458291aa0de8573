import Foundation
import Logging
import TacitData
import TacitModels
import TacitServiceTestSupport
import TacitStore
import TacitTensor
import Testing

@testable import TacitDaemon

/// Two taste clusters: users `a*` buy items `A0…A9`, users `b*` buy `B0…B9` (seeded, time-ordered).
func clusterRecords(
    usersPerCluster: Int = 20,
    itemsPerUser: Int = 6,
    startOffset: Int64 = 0,
    prefix: String = ""
) -> [IngestRecord] {
    var rng = SystemRandomNumberGenerator.Seeded(seed: 7)
    var out: [IngestRecord] = []
    var offset = startOffset
    for c in ["a", "b"] {
        for u in 0..<usersPerCluster {
            var items = Set<Int>()
            while items.count < itemsPerUser { items.insert(Int(rng.next() % 10)) }
            for (k, i) in items.sorted().enumerated() {
                let e = event("\(prefix)\(c)\(u)", "\(c.uppercased())\(i)", ts: 1_700_000_000_000 + Int64(u * 100 + k))
                out.append(rec(e, offset: offset))
                offset += 1
            }
        }
    }
    return out
}

extension SystemRandomNumberGenerator {
    /// A tiny seeded generator for test data (SplitMix64).
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}

func trainerConfig(model: String = "lightgcn") -> TacitConfiguration.Trainer {
    var t = TacitConfiguration().trainer
    t.model = model
    t.epochs = 30
    t.holdoutFraction = 0.2
    // Every model small and quick: d = 16, a high rate.
    let small = EmbeddingSettings(dim: 16, learningRate: 0.02, batchSize: 64, l2: 1e-4, layers: 2)
    (t.bpr, t.lightgcn, t.hnt.embedding) = (small, small, small)
    t.sasrec.transformer = TransformerEncoder.Settings(dim: 16, heads: 2, blocks: 2, innerSize: 64, dropout: 0.2, maxLength: 50)
    t.sine.transformer = TransformerEncoder.Settings(dim: 16, heads: 2, blocks: 2, innerSize: 16, dropout: 0.2, maxLength: 50)
    t.emorec.dim = 16
    t.emorec.hawkes.transformer = t.sasrec.transformer
    (t.sasrec.learningRate, t.sine.learningRate, t.emorec.learningRate) = (0.02, 0.02, 0.02)
    return t
}

struct TrainerFixture {
    let temp = TemporaryDirectory()
    var dir: URL { temp.url }
    var path: String { dir.appendingPathComponent("tacit.sqlite").path }
    func openStore() throws -> EventStore { try EventStore(configuration: StoreConfiguration(path: path)) }
}

/// Share of a list's items whose external id starts with `prefix`.
func share(_ list: Recommendations?, _ store: EventStore, prefix: String) throws -> Double {
    let items = list?.items ?? []
    guard !items.isEmpty else { return 0 }
    let names = try store.itemExternalIDs(for: items.map(\.item))
    return Double(names.filter { $0.hasPrefix(prefix) }.count) / Double(items.count)
}

@Suite("Trainer: fine-tune, evaluate, promote, persist")
struct TrainerTests {
    /// HNT learns from views as well as buys: a user who only ever viewed A items gets A items.
    @Test func hntLearnsFromViewsAndServesAUserWhoNeverBought() async throws {
        let f = TrainerFixture()
        let store = try f.openStore()
        var records = clusterRecords()
        var rng = SystemRandomNumberGenerator.Seeded(seed: 9)
        var offset: Int64 = 10_000
        func view(_ user: String, _ item: String, _ ts: Int64) {
            records.append(rec(event(user, item, "view", ts: ts, feedback: .implicitPositive), offset: offset))
            offset += 1
        }
        for c in ["a", "b"] {
            for u in 0..<20 { for k in 0..<4 { view("\(c)\(u)", "\(c.uppercased())\(rng.next() % 10)", 1_700_000_500_000 + Int64(u * 10 + k)) } }
        }
        for (k, i) in [0, 3, 5, 8, 9].enumerated() { view("looker", "A\(i)", 1_700_000_600_000 + Int64(k)) }
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
        let report = try await trainer.fineTune()
        guard case .promoted(let version) = report.outcome else {
            Issue.record("not promoted: \(report)")
            return
        }
        #expect(serving.currentModel == ModelIdentity(name: "hnt", version: version))
        let looker = try #require(try store.userID("looker"))
        let list = try serving.recommend(user: looker, k: 4, excluding: try store.interactedItems(user: looker).consumed)
        let names = try store.itemExternalIDs(for: list?.items.map(\.item) ?? [])
        #expect(try share(list, store, prefix: "A") >= 0.75, "got \(names)")

        // The snapshot holds the whole model (HNT's networks too) and the settings it was trained with,
        // and reads back as the same.
        let snapshot = try #require(try store.latestPromotedSnapshot(model: "hnt"))
        #expect(snapshot.metadata[SnapshotFormat.formatKey] == "2")
        let restored = try #require(ServingEmbeddings(snapshot: snapshot))
        let trained = try #require(serving.model)
        guard case .hnt(let settings)? = restored.settings else {
            Issue.record("settings not restored: \(String(describing: restored.settings))")
            return
        }
        #expect(restored.settings == trained.settings && settings.embedding.dim == 16 && !settings.transfer)
        let rebuilt = HNT(train: try TrainingData.load(store: store, holdoutFraction: 0.2).trainingSet(auxiliary: ["view"]), settings: settings)
        #expect(restored.parameters.map(\.shape) == rebuilt.parameters.dropFirst(2).map(\.shape))
        #expect(restored.parameters == trained.parameters && !restored.parameters.isEmpty)
    }

    /// With μ = 1 (the default) a fine-tune's hesitation set is every auxiliary-only pair from the first epoch:
    /// there is nothing for the conversion scorer to decide, and waiting trained each round's first epochs on
    /// purchases alone. With μ < 1 the scorer still gets its warm-up (half the epochs, at most the model's).
    @Test func hntTakesEveryAuxiliaryOnlyPairFromTheFirstEpochWhenMuIsOne() throws {
        let f = TrainerFixture()
        let store = try f.openStore()
        // Each a-user viewed one item before buying (older than anything held out).
        var records = clusterRecords(usersPerCluster: 5)
        for u in 0..<5 {
            records.append(
                rec(event("a\(u)", "V\(u)", "view", ts: 1_699_999_000_000 + Int64(u), feedback: .implicitPositive), offset: 5_000 + Int64(u))
            )
        }
        _ = try store.apply(records)
        var config = trainerConfig(model: "hnt")
        config.epochs = 5
        let set = try TrainingData.load(store: store, holdoutFraction: 0.2).trainingSet(auxiliary: ["view"])
        guard case .hnt(let all) = FineTuneSettings(config, auxiliary: ["view"]).model(round: 0) else { throw TestFailure("not hnt") }
        #expect(all.mu == 1 && all.hesitationWarmup == 0)
        let model = HNT(train: set, settings: all)
        var rng = SeededRNG(seed: 1)
        _ = model.trainEpoch(rng: &rng)
        #expect(model.hesitationSet.users.count == 5)

        config.hnt.mu = 0.5
        guard case .hnt(let scored) = FineTuneSettings(config, auxiliary: ["view"]).model(round: 0) else { throw TestFailure("not hnt") }
        #expect(scored.hesitationWarmup == 2)
        let waiting = HNT(train: set, settings: scored)
        _ = waiting.trainEpoch(rng: &rng)
        #expect(waiting.hesitationSet.users.isEmpty)
    }

    @Test func promotesAFirstModelAndARestartServesItFromTheSnapshot() async throws {
        let f = TrainerFixture()
        let store = try f.openStore()
        _ = try store.apply(clusterRecords())
        let rec = try EmbeddingRecommender(model: "lightgcn", store: store, foldInWeight: 0.5, cacheCapacity: 100)
        #expect(rec.currentModel.name == "popularity")
        let metrics = DaemonMetrics()
        let trainer = TrainerService(
            configuration: trainerConfig(),
            store: store,
            recommender: rec,
            metrics: metrics,
            logger: Logger(label: "test")
        )
        let report = try await trainer.fineTune()
        guard case .promoted(let version) = report.outcome else {
            Issue.record("not promoted: \(report)")
            return
        }
        #expect(rec.currentModel == ModelIdentity(name: "lightgcn", version: version))
        #expect((report.candidate["ndcg@10"] ?? 0) > 0.2)
        let a0 = try #require(try store.userID("a0"))
        let before = try rec.recommend(user: a0, k: 4, excluding: try store.interactedItems(user: a0).consumed)
        #expect(try share(before, store, prefix: "A") >= 0.75)

        // Nothing new: the next run skips.
        let again = try await trainer.fineTune()
        #expect(again.outcome == .skipped(reason: "no new events"))

        // A restart (new store handle, new recommender) serves the snapshot before any fine-tune.
        let reopened = try f.openStore()
        let restarted = try EmbeddingRecommender(model: "lightgcn", store: reopened, foldInWeight: 0.5, cacheCapacity: 100)
        #expect(restarted.currentModel == ModelIdentity(name: "lightgcn", version: version))
        let after = try restarted.recommend(user: a0, k: 4, excluding: try reopened.interactedItems(user: a0).consumed)
        #expect(after?.items.map(\.item) == before?.items.map(\.item))
        // The daemon's factory does the same at start-up.
        var config = TacitConfiguration()
        config.trainer = trainerConfig()
        let context = DaemonContext(
            configuration: config,
            store: reopened,
            metrics: DaemonMetrics(),
            health: HealthState(stallAfterMs: 30_000),
            logger: Logger(label: "test")
        )
        let components = try DaemonComponents.fromConfiguration(config)
        let source = try #require(try components.recommender?(context))
        #expect(source.currentModel == ModelIdentity(name: "lightgcn", version: version))
        #expect(try components.services(context).count == 1 && components.observers(context).count == 2)
        let snap = try #require(try reopened.latestPromotedSnapshot(model: "lightgcn"))
        #expect(snap.version == version && snap.metrics["ndcg@10"] != nil && snap.createdMs > 0)
    }

    /// Before any model serves, popularity does, and a first candidate must beat it on the held-out slice too.
    /// Where each user's newest positive is one of five items everybody takes (after three items of their
    /// own), popularity ranks it first (NDCG@10 1) and a candidate that ranks items at random is not promoted;
    /// on the two-cluster data an honest candidate clears popularity and is.
    @Test func aFirstCandidateMustBeatPopularity() async throws {
        let f = TrainerFixture()
        let store = try f.openStore()
        var records: [IngestRecord] = []
        for u in 0..<30 {
            let items = (0..<3).map { "R\(u)-\($0)" } + (0..<5).map { "P\((u + $0) % 5)" }
            for (k, item) in items.enumerated() {
                records.append(rec(event("u\(u)", item, ts: 1_700_000_000_000 + Int64(u * 100 + k)), offset: Int64(records.count)))
            }
        }
        _ = try store.apply(records)
        let serving = try EmbeddingRecommender(model: "bpr", store: store, foldInWeight: 0.5, cacheCapacity: 100)
        var config = trainerConfig(model: "bpr")
        config.trend = false  // the trend alone would be popularity here
        // Item rows scrambled (a fixed pattern), so the candidate ranks the popular items like any other.
        let popular = try await TrainerService(
            configuration: config,
            store: store,
            recommender: serving,
            metrics: nil,
            logger: Logger(label: "test"),
            candidateHook: { c in
                let scrambled = (0..<c.items.count).map { Float(sin(Double($0) * 12.9898) * 43758.5453).truncatingRemainder(dividingBy: 1) }
                return c.replacingItems(base: scrambled, final: scrambled)
            }
        ).fineTune()
        guard case .rejected(let reason) = popular.outcome else {
            Issue.record("a candidate below popularity was promoted: \(popular)")
            return
        }
        #expect(reason.contains("serving popularity"), "\(reason)")
        #expect(popular.current["ndcg@10"] == 1 && (popular.candidate["ndcg@10"] ?? 1) < 1)
        #expect(try serving.model == nil && store.latestPromotedSnapshot(model: "bpr") == nil)

        let clusters = try EventStore(configuration: StoreConfiguration(path: f.path + ".clusters"))
        _ = try clusters.apply(clusterRecords())
        let honest = try await TrainerService(
            configuration: trainerConfig(model: "bpr"),
            store: clusters,
            recommender: try EmbeddingRecommender(model: "bpr", store: clusters, foldInWeight: 0.5, cacheCapacity: 100),
            metrics: nil,
            logger: Logger(label: "test")
        ).fineTune()
        guard case .promoted = honest.outcome else {
            Issue.record("not promoted: \(honest)")
            return
        }
        let data = try TrainingData.load(store: clusters, holdoutFraction: trainerConfig(model: "bpr").holdoutFraction)
        let users = data.evaluationUsers(limit: trainerConfig(model: "bpr").evalUsers)
        #expect(honest.current == FineTuner.evaluatePopularity(on: data, users: users))
        #expect((honest.candidate["ndcg@10"] ?? 0) > (honest.current["ndcg@10"] ?? 1))
    }

    @Test func aWorseCandidateIsNotPromoted() async throws {
        let f = TrainerFixture()
        let store = try f.openStore()
        _ = try store.apply(clusterRecords())
        let serving = try EmbeddingRecommender(model: "bpr", store: store, foldInWeight: 0.5, cacheCapacity: 100)
        let first = try await TrainerService(
            configuration: trainerConfig(model: "bpr"),
            store: store,
            recommender: serving,
            metrics: nil,
            logger: Logger(label: "test")
        ).fineTune()
        guard case .promoted(let version) = first.outcome else {
            Issue.record("not promoted: \(first)")
            return
        }

        // New events (a users buy A items they had not bought: held out, the serving model never saw
        // them), and a candidate whose item embeddings are sabotaged (negated: clusters flip).
        var fresh: [IngestRecord] = []
        for u in 0..<10 {
            let id = try #require(try store.userID("a\(u)"))
            let had = Set(try store.itemExternalIDs(for: Array(try store.interactedItems(user: id).consumed)))
            let item = try #require((0..<10).map { "A\($0)" }.first { !had.contains($0) })
            fresh.append(rec(event("a\(u)", item, ts: 1_700_000_900_000 + Int64(u)), offset: 10_000 + Int64(u)))
        }
        _ = try store.apply(fresh)
        let saboteur = TrainerService(
            configuration: trainerConfig(model: "bpr"),
            store: store,
            recommender: serving,
            metrics: nil,
            logger: Logger(label: "test"),
            candidateHook: { c in c.replacingItems(base: c.itemBase.map { -$0 }, final: c.items.map { -$0 }) }
        )
        let second = try await saboteur.fineTune()
        guard case .rejected(let reason) = second.outcome else {
            Issue.record("promoted a worse model: \(second)")
            return
        }
        #expect(reason.contains("NDCG@10"))
        #expect(second.candidate["users"] == 10)
        #expect((second.candidate["ndcg@10"] ?? 1) < (second.current["ndcg@10"] ?? 0))
        #expect(serving.currentModel == ModelIdentity(name: "bpr", version: version))
        #expect(try store.latestPromotedSnapshot(model: "bpr")?.version == version)
    }

    @Test func warmStartKeepsOldRowsAndGrowsTablesForNewUsersAndItems() throws {
        let f = TrainerFixture()
        let store = try f.openStore()
        _ = try store.apply(clusterRecords(usersPerCluster: 5))
        var settings = FineTuneSettings(trainerConfig(model: "lightgcn"))
        let first = try #require(
            FineTuner.train(
                try TrainingData.load(store: store, holdoutFraction: 0.2),
                previous: nil,
                settings: settings,
                round: 0,
                createdMs: 1
            )
        )
        // Two new users and a new item arrive.
        _ = try store.apply([
            rec(event("new-0", "C0", ts: 1_700_000_500_000), offset: 1000),
            rec(event("new-1", "A1", ts: 1_700_000_500_001), offset: 1001),
        ])
        let data = try TrainingData.load(store: store, holdoutFraction: 0.2)
        #expect(data.userCount == first.userCount + 2 && data.itemCount == first.itemCount + 1)
        settings.epochs = 1
        // (Nearly) no movement: the copy itself is visible.
        var slow = EmbeddingSettings(dim: 16, learningRate: 1e-9, batchSize: 64, l2: 1e-4, layers: 2)
        slow.seed = settings.model.seed
        settings.model = .lightgcn(slow)
        let warm = try #require(FineTuner.train(data, previous: first, settings: settings, round: 1, createdMs: 2))
        #expect(warm.userCount == data.userCount && warm.itemCount == data.itemCount)
        let d = first.dim
        let oldUsers = first.userCount * d, oldItems = first.itemCount * d
        #expect(zip(warm.userBase[..<oldUsers], first.userBase).allSatisfy { abs($0 - $1) < 1e-4 })
        #expect(zip(warm.itemBase[..<oldItems], first.itemBase).allSatisfy { abs($0 - $1) < 1e-4 })
        // Fresh rows are initialized (not zero) and seeded (the same on a rerun).
        let freshUsers = Array(warm.userBase[oldUsers...]), freshItems = Array(warm.itemBase[oldItems...])
        #expect(freshUsers.count == 2 * d && freshItems.count == d)
        #expect(freshUsers.contains { $0 != 0 } && freshItems.contains { $0 != 0 })
        let rerun = FineTuner.train(data, previous: first, settings: settings, round: 1, createdMs: 2)
        #expect(rerun?.userBase == warm.userBase && rerun?.itemBase == warm.itemBase)
        // A shutdown abandons training between epochs.
        #expect(FineTuner.train(data, previous: first, settings: settings, round: 1, createdMs: 2, shouldStop: { true }) == nil)
    }

    /// EmoRec's graph encoder is kept in the snapshot and the next fine-tune starts from it: node tables row by
    /// row (new users and items fresh), weights whole. Before, only its THP was warm-started.
    @Test func emorecWarmStartsItsGraphEncoderFromTheSnapshot() throws {
        let f = TrainerFixture()
        let store = try f.openStore()
        _ = try store.apply(clusterRecords(usersPerCluster: 5))
        var settings = FineTuneSettings(trainerConfig(model: "emorec"))
        settings.epochs = 2
        let first = try #require(
            FineTuner.train(try TrainingData.load(store: store, holdoutFraction: 0.2), previous: nil, settings: settings, round: 0, createdMs: 1)
        )
        // Layer-0 tables of users, items and four feedback node types, then the convolutions and norms.
        #expect(first.parameters.count > 6)
        #expect(first.parameters[0].shape == [first.userCount, 16] && first.parameters[1].shape == [first.itemCount, 16])
        // The snapshot keeps them; a restart reads them back.
        let restored = try #require(ServingEmbeddings(snapshot: first.snapshot(metadata: [:], promoted: true)))
        #expect(restored.parameters == first.parameters)

        _ = try store.apply([
            rec(event("new-0", "C0", ts: 1_700_000_500_000), offset: 1000),
            rec(event("new-1", "A1", ts: 1_700_000_500_001), offset: 1001),
        ])
        let data = try TrainingData.load(store: store, holdoutFraction: 0.2)
        // (Nearly) no movement: the copy itself is visible.
        guard case .emorec(var slow) = settings.model else { throw TestFailure("not emorec") }
        slow.learningRate = 1e-9
        settings.model = .emorec(slow)
        settings.epochs = 1
        let warm = try #require(FineTuner.train(data, previous: restored, settings: settings, round: 1, createdMs: 2))
        #expect(warm.parameters.count == first.parameters.count)
        let d = 16
        for (new, old) in zip(warm.parameters, first.parameters) {
            #expect(new.values.count >= old.values.count)
            #expect(zip(new.values, old.values).allSatisfy { abs($0 - $1) < 1e-4 }, "\(new.name) moved")
        }
        // The users' table grew by the two newcomers, who start from a fresh (non-zero) row.
        #expect(warm.parameters[0].shape == [data.userCount, d] && data.userCount == first.userCount + 2)
        #expect(warm.parameters[0].values[(first.userCount * d)...].contains { $0 != 0 })
        // Without the previous model the same round starts elsewhere: the warm start is what kept the values.
        let cold = try #require(FineTuner.train(data, previous: nil, settings: settings, round: 1, createdMs: 2))
        #expect(zip(cold.parameters[1].values, first.parameters[1].values).contains { abs($0 - $1) > 1e-3 })
    }

    /// `trainer.max_users`: the fine-tune trains the users with the newest positives only; the others get a zero
    /// final row (served their fold-in) and keep their layer-0 rows for the next warm start.
    @Test func aWindowTrainsTheNewestUsersAndFoldsInTheRest() throws {
        let f = TrainerFixture()
        let store = try f.openStore()
        _ = try store.apply(clusterRecords(usersPerCluster: 5))  // a0…a4, then b0…b4: b4 newest
        var settings = FineTuneSettings(trainerConfig(model: "lightgcn"))
        let first = try #require(
            FineTuner.train(try TrainingData.load(store: store, holdoutFraction: 0.2), previous: nil, settings: settings, round: 0, createdMs: 1)
        )
        _ = try store.apply([rec(event("a0", "A9", ts: 1_700_000_900_000), offset: 1000)])  // a0 is now the newest
        let data = try TrainingData.load(store: store, holdoutFraction: 0.2)
        #expect(TrainingWindow(data, maxUsers: 0) == nil && TrainingWindow(data, maxUsers: data.activeUsers) == nil)
        let window = try #require(TrainingWindow(data, maxUsers: 4))
        let external = try store.userExternalIDs()
        #expect(window.users.map { external[Int($0)] } == ["a0", "b2", "b3", "b4"])
        #expect(window.data.userCount == 4 && window.data.itemCount == data.itemCount)
        #expect(window.data.train.map { $0.map(\.item) } == window.users.map { data.train[Int($0)].map(\.item) })

        settings.maxUsers = 4
        let windowed = try #require(FineTuner.train(data, previous: first, settings: settings, round: 1, createdMs: 2))
        let d = windowed.dim
        #expect(windowed.userCount == data.userCount && windowed.itemCount == data.itemCount)
        func row(_ table: [Float], _ u: Int) -> ArraySlice<Float> { table[u * d..<(u + 1) * d] }
        for u in 0..<data.userCount {
            let inWindow = window.users.contains(Int32(u))
            #expect(row(windowed.users, u).contains { $0 != 0 } == inWindow, "user \(u)")
            if !inWindow { #expect(row(windowed.userBase, u) == row(first.userBase, u), "user \(u) keeps its layer-0 row") }
        }
        // Outside the window: the fold-in of the user's items, as for a user the model has never seen.
        let outside = try #require(try store.userID("a1"))
        let positives = data.train[Int(outside)].map(\.item)
        let v = try #require(FoldIn.vector(windowed, user: outside, positives: positives, weight: 0.5))
        #expect(v == FoldIn.vector(windowed, user: Int32(data.userCount + 7), positives: positives, weight: 0.5))
        // The next warm start skips the zero rows: a user back in the window starts from their old layer-0 row.
        settings.maxUsers = 0
        settings.epochs = 1
        var slow = EmbeddingSettings(dim: 16, learningRate: 1e-9, batchSize: 64, l2: 1e-4, layers: 2)
        slow.seed = settings.model.seed
        settings.model = .lightgcn(slow)
        let all = try #require(FineTuner.train(data, previous: windowed, settings: settings, round: 2, createdMs: 3))
        #expect(zip(row(all.userBase, Int(outside)), row(first.userBase, Int(outside))).allSatisfy { abs($0 - $1) < 1e-4 })
    }

    /// HNT's conversion table moves from the window's users to the store's.
    @Test func aWindowsConversionTableMovesToTheStoresUsers() throws {
        let f = TrainerFixture()
        let store = try f.openStore()
        _ = try store.apply(clusterRecords(usersPerCluster: 3))
        let window = try #require(TrainingWindow(try TrainingData.load(store: store, holdoutFraction: 0.2), maxUsers: 2))
        #expect(window.users == [4, 5])
        let local = ConversionTable(rowStart: [0, 2, 3], items: [7, 8, 9], probabilities: [0.2, 0.9, 0.5])
        let moved = window.global(local, userCount: 6)
        #expect(moved.rowStart == [0, 0, 0, 0, 0, 2, 3])
        #expect(moved.row(user: 4).map(\.item) == [8, 7] && moved.row(user: 5).map(\.item) == [9] && moved.row(user: 0).isEmpty)
    }

    /// An item whose first events left the bounded sequence (`store.max_sequence_length`) is not new when the user
    /// takes it again: a serving model trained before may have learned it, so it is not held out. An item that is
    /// new is held out as before.
    @Test func anItemTakenAgainAfterItsFirstEventsLeftTheSequenceIsNotHeldOut() throws {
        let temp = TemporaryDirectory()
        let store = try EventStore(
            configuration: StoreConfiguration(
                path: temp.url.appendingPathComponent("s.sqlite").path,
                maxSequenceLength: 6
            )
        )
        var offset: Int64 = 0
        func buy(_ user: String, _ item: String) throws {
            _ = try store.apply([rec(event(user, item, ts: 1_700_000_000_000 + offset), offset: offset)])
            offset += 1
        }
        for i in 0..<6 { try buy("u", "I\(i)") }
        try buy("v", "I0")
        try buy("v", "I1")
        let servedThrough = try TrainingData.load(store: store, holdoutFraction: 0.5).throughSeq
        // u's sequence keeps 6 events: I0 and I1 are evicted by these, then u takes I0 again and a new item.
        for i in 6..<10 { try buy("u", "I\(i)") }
        try buy("u", "I0")
        try buy("u", "NEW")
        let u = try #require(try store.userID("u"))
        let i0 = try #require(try store.itemID("I0")), new = try #require(try store.itemID("NEW"))
        #expect(try store.sequence(user: u).count == 6)
        let data = try TrainingData.load(store: store, holdoutFraction: 0.5, unseenAfter: servedThrough)
        #expect(data.heldOut[Int(u)].map(\.item) == [new], "I0 was learned before its first events were evicted")
        #expect(data.train[Int(u)].contains { $0.item == i0 })
    }

    /// With a serving model, only items it never saw are held out; everyone else trains on their
    /// whole history, and `withHeldOutInTraining` gives the held-out items back, sequences included.
    @Test func onlyItemsTheServingModelNeverSawAreHeldOut() throws {
        let f = TrainerFixture()
        let store = try f.openStore()
        _ = try store.apply(clusterRecords(usersPerCluster: 5))
        let before = try TrainingData.load(store: store, holdoutFraction: 0.5)
        // Every user with two or more positives holds out their newest half.
        #expect(before.heldOut.allSatisfy { $0.count == 3 })
        let servedThrough = before.throughSeq

        // Afterwards a0 buys two new items (one of them again, later) and a1 re-buys an old one.
        let a0 = try #require(try store.userID("a0")), a1 = try #require(try store.userID("a1"))
        let a1Old = try #require(before.train[Int(a1)].first).item
        let a1OldName = try #require(try store.itemExternalIDs(for: [a1Old]).first)
        _ = try store.apply([
            rec(event("a0", "C1", ts: 1_700_000_900_000), offset: 500),
            rec(event("a0", "C2", ts: 1_700_000_900_001), offset: 501),
            rec(event("a1", a1OldName, ts: 1_700_000_900_002), offset: 502),
        ])
        let data = try TrainingData.load(store: store, holdoutFraction: 0.5, unseenAfter: servedThrough)
        let c1 = try #require(try store.itemID("C1")), c2 = try #require(try store.itemID("C2"))
        #expect(data.heldOut[Int(a0)].map(\.item) == [c1, c2])
        #expect(data.train[Int(a0)].count == 6)
        // a1's old item is newest now, but the serving model saw it: nothing held out.
        #expect(data.heldOut[Int(a1)].isEmpty && data.train[Int(a1)].count == 6)
        #expect(data.train[Int(a1)].last?.item == a1Old)
        #expect(data.heldOut.enumerated().allSatisfy { $0.offset == Int(a0) || $0.element.isEmpty })
        #expect(data.evaluationUsers(limit: 100) == [a0])
        #expect(!data.sequences[Int(a0)].contains { $0.item == c1 || $0.item == c2 })
        // Users with nothing held out keep one copy of their sequence, not two.
        let a1Buffers = data.sequences[Int(a1)].withUnsafeBufferPointer { s in
            data.fullSequences[Int(a1)].withUnsafeBufferPointer { f in (s.baseAddress, f.baseAddress) }
        }
        #expect(!data.sequences[Int(a1)].isEmpty && a1Buffers.0 == a1Buffers.1)

        let all = data.withHeldOutInTraining()
        #expect(all.heldOut.allSatisfy(\.isEmpty) && all.throughSeq == data.throughSeq)
        #expect(all.train[Int(a0)].map(\.item) == data.train[Int(a0)].map(\.item) + [c1, c2])
        #expect(all.sequences[Int(a0)].suffix(2).map(\.item) == [c1, c2])
        #expect(all.trainingSet().target.nonZeros == data.trainingSet().target.nonZeros + 2)
    }

    /// An item bought only as users' newest positive is held out of the candidate; with `refit` the
    /// promoted model is retrained with it, so its embedding joins its buyers' cluster at once.
    @Test(arguments: [true, false])
    func aPromotedCandidateIsRetrainedWithTheHeldOutItems(refit: Bool) async throws {
        let f = TrainerFixture()
        let store = try f.openStore()
        var records = clusterRecords()
        for u in 0..<10 { records.append(rec(event("a\(u)", "A-new", ts: 1_700_000_800_000 + Int64(u)), offset: 9_000 + Int64(u))) }
        _ = try store.apply(records)
        let serving = try EmbeddingRecommender(model: "lightgcn", store: store, foldInWeight: 0.5, cacheCapacity: 100)
        var config = trainerConfig()
        config.refit = refit
        let report = try await TrainerService(
            configuration: config,
            store: store,
            recommender: serving,
            metrics: nil,
            logger: Logger(label: "test")
        ).fineTune()
        guard case .promoted(let version) = report.outcome else {
            Issue.record("not promoted: \(report)")
            return
        }
        let model = try #require(serving.model)
        let snapshot = try #require(try store.snapshot(version: version))
        #expect(snapshot.metadata["eval"]?.contains("retrained") == refit)

        func row(_ name: String) throws -> [Float] {
            let i = Int(try #require(try store.itemID(name)))
            return Array(model.items[i * model.dim..<(i + 1) * model.dim])
        }
        func cosine(_ x: [Float], _ y: [Float]) -> Float {
            let dot = zip(x, y).reduce(0) { $0 + $1.0 * $1.1 }
            return dot / ((x.reduce(0) { $0 + $1 * $1 }).squareRoot() * (y.reduce(0) { $0 + $1 * $1 }).squareRoot())
        }
        var clusterA = [Float](repeating: 0, count: model.dim)
        for i in 0..<10 { for (k, v) in try row("A\(i)").enumerated() { clusterA[k] += v } }
        let similarity = cosine(try row("A-new"), clusterA)
        if refit { #expect(similarity > 0.5) } else { #expect(similarity < 0.3) }
    }

    /// A cancelled trainer (its service group failed, or a graceful shutdown ran out of time) stops a
    /// fine-tune between epochs instead of training to the end: ServiceLifecycle aborts the process
    /// when cancellation takes over 2 s. Without that, this run would train for hours.
    @Test(.timeLimit(.minutes(1)))
    func cancellationStopsARunningFineTune() async throws {
        let f = TrainerFixture()
        let store = try f.openStore()
        _ = try store.apply(clusterRecords())
        let serving = try EmbeddingRecommender(model: "lightgcn", store: store, foldInWeight: 0.5, cacheCapacity: 100)
        var config = trainerConfig()
        config.epochs = 10_000_000
        config.intervalSeconds = 1
        let trainer = TrainerService(
            configuration: config,
            store: store,
            recommender: serving,
            metrics: nil,
            logger: Logger(label: "test")
        )
        let running = Task { try await trainer.run() }
        try await Task.sleep(for: .seconds(2))  // the first fine-tune starts after 1 s
        running.cancel()
        try await running.value
        #expect(try store.latestPromotedSnapshot(model: "lightgcn") == nil)
    }

    @Test func unknownModelIsAConfigurationErrorNamingKeyAndFile() throws {
        var c = TacitConfiguration()
        c.trainer.model = "transformer"
        #expect(throws: ConfigurationError.self) { try DaemonComponents.fromConfiguration(c) }
        do {
            _ = try TacitConfiguration.parse("[trainer]\nmodel = \"transformer\"\n", file: "my.toml")
            Issue.record("accepted an unknown model")
        } catch {
            #expect(error.file == "my.toml" && error.key == "trainer.model")
        }
        c.trainer.model = "popularity"
        #expect(try DaemonComponents.fromConfiguration(c).recommender == nil)
    }
}
