import Foundation
import Logging
import TacitData
import TacitModels
import TacitServiceTestSupport
import TacitStore
import Testing

@testable import TacitDaemon

@Suite("Sequential models in the daemon: re-encoded on every request")
struct SequenceServingTests {
    func config(_ model: String) -> TacitConfiguration.Trainer {
        var t = trainerConfig(model: model)
        for transformer in [\TacitConfiguration.Trainer.sasrec.transformer, \.sine.transformer, \.emorec.hawkes.transformer] {
            t[keyPath: transformer].heads = 2
            t[keyPath: transformer].maxLength = 6
            t[keyPath: transformer].dropout = 0.1
        }
        (t.sasrec.batchSize, t.sine.batchSize, t.emorec.windowBatch, t.emorec.pairBatch) = (16, 16, 16, 16 * 6)
        (t.sasrec.learningRate, t.sine.learningRate, t.emorec.learningRate) = (0.01, 0.01, 0.01)
        t.epochs = 40
        return t
    }

    /// Two clusters as in `clusterRecords`, but each user's six items in a random order (there, items
    /// come in ascending order, so the last item of a cluster never has a successor to learn), and two
    /// skips of the other cluster's items along the way.
    func records() -> [IngestRecord] {
        var rng = SystemRandomNumberGenerator.Seeded(seed: 11)
        var records: [IngestRecord] = []
        var offset: Int64 = 0
        func add(_ e: UserEvent) {
            records.append(rec(e, offset: offset))
            offset += 1
        }
        for c in ["a", "b"] {
            let own = c.uppercased(), other = c == "a" ? "B" : "A"
            for u in 0..<20 {
                let items = Array((0..<10).shuffled(using: &rng).prefix(6))
                for (k, i) in items.enumerated() {
                    let ts = 1_700_000_000_000 + Int64(u * 100 + 2 * k)
                    if k == 2 || k == 4 {
                        add(event("\(c)\(u)", "\(other)\(Int(rng.next() % 10))", "skip", ts: ts - 1, feedback: .implicitNegative))
                    }
                    add(event("\(c)\(u)", "\(own)\(i)", ts: ts))
                }
            }
        }
        return records
    }

    @Test(arguments: ["sasrec", "sine", "emorec"])
    func aListFollowsTheNewestEventsWithoutAFineTuneAndSurvivesARestart(model: String) async throws {
        let f = TrainerFixture()
        let store = try f.openStore()
        _ = try store.apply(records())
        let serving = try EmbeddingRecommender(model: model, store: store, foldInWeight: 0.5, cacheCapacity: 100)
        let report = try await TrainerService(
            configuration: config(model),
            store: store,
            recommender: serving,
            metrics: nil,
            logger: Logger(label: "test")
        ).fineTune()
        guard case .promoted(let version) = report.outcome else { throw TestFailure("not promoted: \(report)") }
        #expect((report.candidate["ndcg@10"] ?? 0) > 0.2, "\(report)")

        let a3 = try #require(try store.userID("a3"))
        let before = try #require(try serving.recommend(user: a3, k: 4, excluding: try store.interactedItems(user: a3).consumed))
        #expect(before.model == ModelIdentity(name: model, version: version))
        let beforeNames = try store.itemExternalIDs(for: before.items.map(\.item))
        #expect(try share(before, store, prefix: "A") >= 0.75, "got \(beforeNames)")

        // a3 turns to cluster B: the very next list re-encodes the new history, same model version.
        // (Six B items fill the encoded window, `maxLength`: the history read is all B.)
        let turn = (0..<6).map { rec(event("a3", "B\($0)", ts: 1_700_002_000_000 + Int64($0)), offset: 30_000 + Int64($0)) }
        serving.didApply(try store.apply(turn))
        let after = try #require(try serving.recommend(user: a3, k: 4, excluding: try store.interactedItems(user: a3).consumed))
        #expect(after.model == before.model)
        let afterNames = try store.itemExternalIDs(for: after.items.map(\.item))
        if model == "emorec" {
            // EmoRec's graph half (a3's cluster-A embedding) stays as trained until the next fine-tune, and
            // no training user ever switched clusters, so it keeps a3 in A; the sequence half is re-read
            // (the list changes). A user the graph has never seen is served by the sequence alone: after
            // four B events, at least half their list is B (a random list holds 6 B of 16 unseen items).
            #expect(after.items != before.items)
            let late = (0..<4).map { rec(event("late", "B\($0 + 2)", ts: 1_700_002_100_000 + Int64($0)), offset: 31_000 + Int64($0)) }
            serving.didApply(try store.apply(late))
            let lateUser = try #require(try store.userID("late"))
            let lateList = try #require(try serving.recommend(user: lateUser, k: 4, excluding: try store.interactedItems(user: lateUser).consumed))
            #expect(lateList.model == before.model)
            let lateNames = try store.itemExternalIDs(for: lateList.items.map(\.item))
            #expect(try share(lateList, store, prefix: "B") >= 0.5, "got \(lateNames)")
        } else {
            #expect(try share(after, store, prefix: "B") >= 0.75, "got \(afterNames)")
        }

        // A restart rebuilds the network from the snapshot alone and serves the same list.
        let reopened = try f.openStore()
        let restarted = try EmbeddingRecommender(model: model, store: reopened, foldInWeight: 0.5, cacheCapacity: 100)
        #expect(restarted.currentModel == before.model)
        let again = try restarted.recommend(user: a3, k: 4, excluding: try reopened.interactedItems(user: a3).consumed)
        #expect(again?.items == after.items)

        // A second fine-tune warm-starts from the served network and is promoted (or kept) as usual.
        _ = try store.apply((0..<3).map { rec(event("newbie", "A\($0)", ts: 1_700_003_000_000 + Int64($0)), offset: 40_000 + Int64($0)) })
        let second = try await TrainerService(
            configuration: config(model),
            store: store,
            recommender: serving,
            metrics: nil,
            logger: Logger(label: "test")
        ).fineTune()
        if case .skipped = second.outcome { Issue.record("second fine-tune skipped: \(second)") }
    }

    /// The snapshot of an untrained network of `settings` (d = 16) over 12 items.
    func untrainedSnapshot(_ settings: ModelSettings) throws -> ModelSnapshot {
        let model = try #require(settings.servingNetwork(itemCount: 12, servedUsers: 0, taxonomy: SequenceScorer.positivesAndSkips))
        let items = Array(model.parameters[0].value.prefix(12 * 16))
        return ServingEmbeddings(
            sequence: SequenceScorer(trained: model, settings: settings),
            model: settings.name,
            version: 1,
            dim: 16,
            userCount: 3,
            items: items,
            eventsThroughSeq: 1,
            metrics: [:],
            createdMs: 1
        ).snapshot(metadata: [:], promoted: true)
    }

    /// A sequential snapshot whose settings are missing, unreadable, of a newer format or do not fit its
    /// tensors is not served (the daemon falls back to popularity instead of crashing or serving a
    /// misread network).
    @Test func aSnapshotThatDoesNotFitItsSettingsIsRejected() throws {
        let settings = try #require(config("sine").modelSettings)
        let good = try untrainedSnapshot(settings)
        #expect(good.metadata[SnapshotFormat.formatKey] == "2")
        #expect(ServingEmbeddings(snapshot: good)?.sequence?.settings == settings)
        var wider = settings
        if case .sine(var s) = wider {
            s.transformer.dim = 32
            wider = .sine(s)
        }
        var wrongDim = good
        wrongDim.metadata.merge(SnapshotFormat.metadata(wider)) { $1 }
        #expect(ServingEmbeddings(snapshot: wrongDim) == nil)
        var noSettings = good
        noSettings.metadata[SnapshotFormat.settingsKey] = nil
        #expect(ServingEmbeddings(snapshot: noSettings) == nil)
        var garbled = good
        garbled.metadata[SnapshotFormat.settingsKey] = #"{"model": "sine", "settings": {"dim": 1}}"#
        #expect(ServingEmbeddings(snapshot: garbled) == nil)
        var newer = good
        newer.metadata[SnapshotFormat.formatKey] = "3"
        #expect(ServingEmbeddings(snapshot: newer) == nil)
        var missingTensor = good
        missingTensor.tensors.removeLast()
        #expect(ServingEmbeddings(snapshot: missingTensor) == nil)
        var otherModel = good
        otherModel.model = "sasrec"
        #expect(ServingEmbeddings(snapshot: otherModel) == nil)
    }

    /// A snapshot saved before settings were recorded (format 1: `arch.*` strings) still serves, as the
    /// same network.
    @Test func aFormatOneSnapshotStillServes() throws {
        let settings = try #require(config("sine").modelSettings)
        let current = try untrainedSnapshot(settings)
        var old = current
        old.metadata = [
            "arch.dim": "16", "arch.heads": "2", "arch.blocks": "2", "arch.inner": "16", "arch.max_length": "6",
            "arch.dropout": "0.1", "arch.loss": "ce", "arch.skip_negatives": "false", "arch.prototypes": "3",
            "arch.ablation": "full", "arch.beta_attention": "true", "arch.beta1": "0.6",
        ]
        let restored = try #require(ServingEmbeddings(snapshot: old)?.sequence)
        #expect(restored.settings.architecture == settings.architecture)
        let history = [Interaction(user: 0, item: 3, behavior: UInt8(FeedbackKind.explicitPositive.rawValue), timestamp: 1)]
        #expect(restored.scores(history: history) == ServingEmbeddings(snapshot: current)?.sequence?.scores(history: history))
    }

    /// `window_stride` reaches SASRec's and SINE's training windows (0: disjoint windows) and stays
    /// out of the architecture: it changes how a model is trained, not how it is read back.
    @Test(arguments: ["sasrec", "sine"])
    func windowStrideReachesTheTrainedModel(model name: String) throws {
        let text = "[trainer]\nmodel = \"\(name)\"\n[trainer.\(name)]\nwindow_stride = 5\n"
        let t = try TacitConfiguration.parse(text, file: "x.toml").trainer
        #expect(TacitConfiguration().trainer.settings(for: ModelKind(rawValue: name)!).architecture == t.modelSettings?.architecture)
        let model = try #require(
            t.modelSettings?.build(
                train: TrainingSet(userCount: 0, itemCount: 12, taxonomy: SequenceScorer.positivesAndSkips, interactions: [])
            )
        )
        #expect(((model as? SASRec)?.settings.windowStride ?? (model as? SINE)?.settings.windowStride) == 5)
    }

    @Test func aBadSequentialSettingIsAStartupErrorNamingTheKey() throws {
        let dir = tempDir()
        defer { removeTempDir(dir) }
        let path = dir.appendingPathComponent("tacit.toml").path
        for (line, key) in [
            ("model = \"sine\"\n[trainer.sine]\nablation = \"no-hesitation\"", "trainer.sine.ablation"),
            ("model = \"sasrec\"\n[trainer.sasrec]\nloss = \"hinge\"", "trainer.sasrec.loss"),
            ("model = \"sasrec\"\n[trainer.sasrec]\nmax_length = 0", "trainer.sasrec.max_length"),
            ("model = \"sasrec\"\n[trainer.sasrec]\nwindow_stride = 51", "trainer.sasrec.window_stride"),
            ("model = \"lightgcn\"\n[trainer.emorec]\nvariant = \"GAT-THP\"", "trainer.emorec.variant"),
            ("model = \"sine\"\n[trainer.sine]\nheads = 3", "trainer.sine.heads"),
            ("model = \"sine\"\nmax_length = 20", "trainer.max_length"),
        ] {
            try "[trainer]\n\(line)\n".write(toFile: path, atomically: true, encoding: .utf8)
            #expect(throws: ConfigurationError.self) { try TacitConfiguration.load(path: path) }
            do { _ = try TacitConfiguration.load(path: path) } catch let e as ConfigurationError {
                #expect(e.key == key, "\(e)")
            }
        }
    }
}
