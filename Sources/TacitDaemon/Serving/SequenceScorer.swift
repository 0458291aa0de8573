import Synchronization
import TacitData
import TacitModels
import TacitStore

/// A trained sequential model (`sasrec`, `sine`, `emorec`) as served. Its lists come from re-encoding the
/// user's current history on every request, so each new event moves the list at once, without a
/// fine-tune and without a per-user cache to invalidate.
///
/// Snapshots are self-describing: the network's tensors (`network.<i>`, in `parameters` order) and
/// its architecture (`arch.*` metadata), so a restarted daemon rebuilds exactly the model it saved
/// even if the configuration has changed since.
///
/// Thread-safe: inference is serialized behind a mutex (the model's tensors are not shared state
/// that can be read concurrently while a forward pass allocates on them).
final class SequenceScorer: Sendable {
    /// Stored feedback as the daemon reads it for every sequential model: one behavior per feedback
    /// kind (`FeedbackKind.rawValue`), so `feedback(of:)` gives the kind back.
    static let feedbackTaxonomy = BehaviorTaxonomy(
        behaviors: FeedbackKind.allCases.map { "\($0)" },
        target: "explicitPositive",
        positive: ["explicitPositive"],
        passiveNegative: ["implicitNegative"],
        explicitNegative: ["explicitNegative"]
    )
    /// SASRec's and SINE's two kinds: positives and skips (any negative feedback).
    static let positivesAndSkips = BehaviorTaxonomy(
        behaviors: ["positive", "skip"],
        target: "positive",
        positive: ["positive"],
        passiveNegative: ["skip"]
    )

    /// The taxonomy `model` reads: EmoRec the four kinds, the others positives and skips.
    static func taxonomy(for model: String) -> BehaviorTaxonomy { model == "emorec" ? feedbackTaxonomy : positivesAndSkips }

    /// A history in `feedbackTaxonomy` as `model` reads it.
    static func reading(_ history: [Interaction], for model: String) -> [Interaction] {
        guard model != "emorec" else { return history }
        return history.map { e in
            var out = e
            out.behavior = isPositive(e) ? 0 : 1
            return out
        }
    }

    /// Whether an event in `feedbackTaxonomy` is positive feedback.
    static func isPositive(_ e: Interaction) -> Bool { FeedbackKind(rawValue: Int(e.behavior))?.isPositive ?? false }

    let modelName: String
    let itemCount: Int
    let architecture: [String: String]
    let tensors: [SnapshotTensor]
    private let model: Mutex<any SequenceRecommender>

    /// Wraps a freshly trained model (its values are copied into the snapshot tensors).
    init(trained: sending any SequenceRecommender, architecture: [String: String]) {
        modelName = trained.name
        itemCount = trained.itemCount
        self.architecture = architecture
        tensors = trained.parameters.enumerated().map {
            SnapshotTensor(name: "network.\($0.offset)", shape: $0.element.shape, values: $0.element.value)
        }
        model = Mutex(trained)
    }

    /// Rebuilds a saved model; nil when the architecture is missing or the tensors do not fit it.
    init?(model name: String, itemCount: Int, metadata: [String: String], tensors: [SnapshotTensor]) {
        let architecture = metadata.filter { $0.key.hasPrefix("arch.") }
        let network = tensors.filter { $0.name.hasPrefix("network.") }
            .sorted { Int($0.name.dropFirst(8)) ?? 0 < Int($1.name.dropFirst(8)) ?? 0 }
        // EmoRec's second tensor is its graph's user table, as long as the users it was trained on.
        let users = name == "emorec" && network.count > 1 ? network[1].shape.first ?? 0 : 0
        guard let built = Self.build(name, itemCount: itemCount, architecture: architecture, seed: 0, servedUsers: users) else { return nil }
        let parameters = built.parameters
        guard network.count == parameters.count, zip(network, parameters).allSatisfy({ $0.shape == $1.shape }) else { return nil }
        built.restore(network.map(\.values))
        modelName = name
        self.itemCount = itemCount
        self.architecture = architecture
        self.tensors = network
        model = Mutex(built)
    }

    /// An untrained model of `name` with the `arch.*` settings over `itemCount` items, or nil. For
    /// `emorec`: with `train`, the full model to fine-tune; without, the serving form (graph tables of
    /// `servedUsers` users) to restore a snapshot into. `windowStride` shapes SASRec's and SINE's
    /// training windows only.
    static func build(
        _ name: String,
        itemCount: Int,
        architecture a: [String: String],
        seed: UInt64,
        train: TrainingSet? = nil,
        learningRate: Float = 1e-3,
        batchSize: Int = 64,
        windowStride: Int? = nil,
        servedUsers: Int = 0
    ) -> (any SequenceRecommender)? {
        func int(_ k: String) -> Int? { a["arch.\(k)"].flatMap { Int($0) } }
        func float(_ k: String) -> Float? { a["arch.\(k)"].flatMap { Float($0) } }
        guard let dim = int("dim"), let heads = int("heads"), let blocks = int("blocks"), let inner = int("inner"),
            let maxLength = int("max_length"), let dropout = float("dropout"), dim > 0, heads > 0, dim % heads == 0
        else { return nil }
        let transformer = TransformerEncoder.Settings(
            dim: dim,
            heads: heads,
            blocks: blocks,
            innerSize: inner,
            dropout: dropout,
            maxLength: maxLength
        )
        let data = train ?? TrainingSet(userCount: 0, itemCount: itemCount, taxonomy: taxonomy(for: name), interactions: [])
        switch name {
        case "sasrec":
            guard let loss = a["arch.loss"].flatMap(SASRec.Loss.init(rawValue:)) else { return nil }
            return SASRec(
                train: data,
                settings: .init(
                    transformer: transformer,
                    loss: loss,
                    skipNegatives: a["arch.skip_negatives"] == "true",
                    learningRate: learningRate,
                    batchSize: batchSize,
                    windowStride: windowStride,
                    seed: seed
                )
            )
        case "sine":
            var s = SINE.Settings()
            guard let k = int("prototypes"), let ablation = a["arch.ablation"].flatMap(SINE.Ablation.init(rawValue:)),
                let beta1 = float("beta1")
            else { return nil }
            s.transformer = transformer
            s.prototypes = k
            s.ablation = ablation
            s.betaAttention = a["arch.beta_attention"] == "true"
            s.beta1 = beta1
            s.learningRate = learningRate
            s.batchSize = batchSize
            s.windowStride = windowStride
            s.seed = seed
            return SINE(train: data, settings: s)
        case "emorec":
            guard let variant = a["arch.variant"].flatMap(EmoRec.Variant.init(name:)), let layers = int("graph_layers"),
                let decay = float("decay_per_day"), let window = float("decay_window"),
                let loss = a["arch.loss"].flatMap(SASRec.Loss.init(rawValue:))
            else { return nil }
            var s = EmoRec.Settings()
            s.variant = variant
            s.dim = dim
            s.graphLayers = layers
            s.hawkes.transformer = transformer
            s.hawkes.decayPerDay = decay
            s.hawkes.window = window
            s.loss = loss
            s.bprPositives = a["arch.bpr_positives"].flatMap(EmoRec.Positives.init(rawValue:)) ?? .positive
            s.learningRate = learningRate
            s.windowBatch = batchSize
            s.pairBatch = batchSize * maxLength
            s.seed = seed
            if let train { return EmoRec(train: train, settings: s) }
            return EmoRecServing(
                itemCount: itemCount,
                userCount: servedUsers,
                dim: dim,
                hawkes: variant.sequence ? s.hawkes : nil,
                polarityHead: variant.polarityHead,
                taxonomy: feedbackTaxonomy
            )
        default:
            return nil
        }
    }

    /// `user`'s stored history (`interaction(_:user:)`); events on items the model does not know are dropped.
    func history(_ events: [SequenceEvent], user: Int32) -> [Interaction] {
        events.compactMap { e in e.item >= 0 && Int(e.item) < itemCount ? Self.interaction(e, user: user) : nil }
    }

    /// One stored event in `feedbackTaxonomy` (behavior = its feedback kind); nil for an event without
    /// feedback. Training (`TrainingData`) and serving read events through this one mapping.
    static func interaction(_ e: SequenceEvent, user: Int32) -> Interaction? {
        guard let raw = e.feedback, let kind = FeedbackKind(rawValue: raw) else { return nil }
        return Interaction(user: user, item: e.item, behavior: UInt8(kind.rawValue), timestamp: e.timestampMs / 1000)
    }

    /// Scores of all items after `history` (in `feedbackTaxonomy`, carrying its user); nil when it holds
    /// no positive the model knows.
    func scores(history: [Interaction]) -> [Float]? {
        guard history.contains(where: Self.isPositive) else { return nil }
        let read = Self.reading(history, for: modelName)
        return model.withLock { $0.scores(histories: [read]) }
    }
}
