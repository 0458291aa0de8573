import Foundation
import TacitData
import TacitTensor
import Testing

@testable import TacitModels

/// `ModelSettings` is the one place a model is built and the record its snapshot keeps: every kind must
/// build, survive the JSON round trip exactly, and rebuild a serving network its trained values fit.
@Suite("Model registry")
struct ModelRegistryTests {
    /// 6 users × 8 time-ordered events on 12 items; positives and skips (SASRec's and SINE's reading)
    /// or the four feedback kinds (EmoRec's).
    static func history(taxonomy: BehaviorTaxonomy) -> TrainingSet {
        var rows: [Interaction] = []
        for u in 0..<6 {
            for k in 0..<8 {
                let behavior = UInt8((u + k) % taxonomy.behaviors.count)
                rows.append(Interaction(user: Int32(u), item: Int32((u * 2 + k) % 12), behavior: behavior, timestamp: Int64(k) * 3_600))
            }
        }
        return TrainingSet(userCount: 6, itemCount: 12, taxonomy: taxonomy, interactions: rows)
    }

    static let skips = BehaviorTaxonomy(behaviors: ["positive", "skip"], target: "positive", positive: ["positive"], passiveNegative: ["skip"])
    static let feedback = BehaviorTaxonomy(
        behaviors: FeedbackKind.allCases.map { "\($0)" },
        target: "explicitPositive",
        positive: ["explicitPositive"],
        passiveNegative: ["implicitNegative"],
        explicitNegative: ["explicitNegative"]
    )

    /// Every kind at small sizes, and the two named variants.
    static let small: [ModelSettings] = {
        let embedding = EmbeddingSettings(dim: 8, layers: 2)
        var hnt = HNT.Settings()
        hnt.embedding = embedding
        let transformer = TransformerEncoder.Settings(dim: 8, heads: 2, blocks: 1, dropout: 0.1, maxLength: 6)
        var sasrec = SASRec.Settings(transformer: transformer, batchSize: 4)
        var sine = SINE.Settings()
        sine.transformer = transformer
        sine.batchSize = 4
        var emorec = EmoRec.Settings()
        emorec.dim = 8
        emorec.hawkes.transformer = transformer
        emorec.windowBatch = 4
        let plain: [ModelSettings] = [
            .popularity(allBehaviors: false), .bpr(embedding), .lightgcn(embedding), .hnt(hnt), .sasrec(sasrec), .sine(sine),
            .emorec(emorec),
        ]
        sasrec.skipNegatives = true
        return plain + [.popularity(allBehaviors: true), .sasrec(sasrec)]
    }()

    static func training(for settings: ModelSettings) -> TrainingSet {
        switch settings.kind {
        case .emorec: history(taxonomy: feedback)
        case .sasrec, .sine: history(taxonomy: skips)
        default: history(taxonomy: .ratings)
        }
    }

    @Test(arguments: small)
    func buildsAModelThatReportsItsNameAndScoresEveryItem(settings: ModelSettings) {
        let model = settings.build(train: Self.training(for: settings))
        #expect(model.name == settings.name)
        #expect(model.scores(users: [0, 5]).count == 2 * 12)
        #expect((model is any SequenceRecommender) == settings.kind.isSequential)
        #expect((model is any EmbeddingModel) == [.bpr, .lightgcn, .hnt].contains(settings.kind))
    }

    @Test(arguments: small)
    func jsonRoundTripIsExact(settings: ModelSettings) throws {
        var seeded = settings
        seeded.seed = 0xDEAD_BEEF
        let data = try JSONEncoder().encode(seeded)
        #expect(try JSONDecoder().decode(ModelSettings.self, from: data) == seeded)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["model"] as? String == settings.kind.rawValue)
        #expect(seeded.seed == (settings.kind == .popularity ? 0 : 0xDEAD_BEEF))
    }

    /// Snapshots saved before `hesitationEvery` and `averageLayers` existed still decode, as what they were:
    /// every step, layers summed.
    @Test func hntSettingsWithoutTheNewerKeysDecodeAsTheyTrained() throws {
        var s = HNT.Settings()
        s.hesitationEvery = 4
        s.averageLayers = true
        var object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(ModelSettings.hnt(s))) as? [String: Any])
        var settings = try #require(object["settings"] as? [String: Any])
        #expect(settings["hesitationEvery"] as? Int == 4 && settings["averageLayers"] as? Bool == true)
        settings["hesitationEvery"] = nil
        settings["averageLayers"] = nil
        object["settings"] = settings
        let old = try JSONDecoder().decode(ModelSettings.self, from: JSONSerialization.data(withJSONObject: object))
        s.hesitationEvery = 1
        s.averageLayers = false
        #expect(old == .hnt(s))
    }

    @Test func aSnapshotOfAnUnknownKindIsRefused() {
        let json = #"{"model": "word2vec", "settings": {}}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ModelSettings.self, from: Data(json.utf8)) }
    }

    @Test func architectureIgnoresOnlyWhatShapesTraining() {
        guard case .sine(var s) = Self.small[5] else {
            Issue.record("not sine")
            return
        }
        let base = ModelSettings.sine(s).architecture
        s.learningRate = 0.05
        s.batchSize = 99
        s.seed = 7
        s.windowStride = 2
        #expect(ModelSettings.sine(s).architecture == base)
        s.prototypes = 5
        #expect(ModelSettings.sine(s).architecture != base)
        var e = EmbeddingSettings(dim: 8)
        let lightgcn = ModelSettings.lightgcn(e).architecture
        e.learningRate = 0.01
        #expect(ModelSettings.lightgcn(e).architecture == lightgcn)
        e.dim = 16
        #expect(ModelSettings.lightgcn(e).architecture != lightgcn)
    }

    /// What serving does with a snapshot: the trained network's values, restored into the network the
    /// settings rebuild, score every history exactly as the trained model does.
    @Test(arguments: small.filter(\.kind.isSequential))
    func servingNetworkRestoresTheTrainedValues(settings: ModelSettings) throws {
        let train = Self.training(for: settings)
        let trained = try #require(settings.build(train: train) as? any SequenceRecommender)
        var rng = SeededRNG(seed: 3)
        _ = trained.trainEpoch(rng: &rng)
        let served: any SequenceRecommender = (trained as? EmoRec)?.serving ?? trained
        let network = try #require(settings.servingNetwork(itemCount: 12, servedUsers: 6, taxonomy: train.taxonomy))
        #expect(network.parameters.map(\.shape) == served.parameters.map(\.shape))
        network.restore(served.parameters.map(\.value))
        let histories = (0..<6).map { u in train.interactions.filter { $0.user == Int32(u) } }
        #expect(network.scores(histories: histories) == served.scores(histories: histories))
    }
}
