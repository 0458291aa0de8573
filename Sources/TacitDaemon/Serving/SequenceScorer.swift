import Synchronization
import TacitData
import TacitModels
import TacitStore

/// A trained sequential model (`sasrec`, `sine`) as served. Its lists come from re-encoding the
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
    /// The two feedback kinds of a served history: positives and skips (any negative feedback).
    static let taxonomy = BehaviorTaxonomy(behaviors: ["positive", "skip"], target: "positive", positive: ["positive"],
                                           passiveNegative: ["skip"])

    let itemCount: Int
    let architecture: [String: String]
    let tensors: [SnapshotTensor]
    private let model: Mutex<any SequenceRecommender>

    /// Wraps a freshly trained model (its values are copied into the snapshot tensors).
    init(trained: sending any SequenceRecommender, architecture: [String: String]) {
        itemCount = trained.itemCount
        self.architecture = architecture
        tensors = trained.parameters.enumerated().map { SnapshotTensor(name: "network.\($0.offset)", shape: $0.element.shape, values: $0.element.value) }
        model = Mutex(trained)
    }

    /// Rebuilds a saved model; nil when the architecture is missing or the tensors do not fit it.
    init?(model name: String, itemCount: Int, metadata: [String: String], tensors: [SnapshotTensor]) {
        let architecture = metadata.filter { $0.key.hasPrefix("arch.") }
        guard let built = Self.build(name, itemCount: itemCount, architecture: architecture, seed: 0) else { return nil }
        let parameters = built.parameters
        let network = tensors.filter { $0.name.hasPrefix("network.") }
            .sorted { Int($0.name.dropFirst(8)) ?? 0 < Int($1.name.dropFirst(8)) ?? 0 }
        guard network.count == parameters.count, zip(network, parameters).allSatisfy({ $0.shape == $1.shape }) else { return nil }
        built.restore(network.map(\.values))
        self.itemCount = itemCount
        self.architecture = architecture
        self.tensors = network
        model = Mutex(built)
    }

    /// An untrained model of `name` with the `arch.*` settings over `itemCount` items, or nil.
    static func build(_ name: String, itemCount: Int, architecture a: [String: String], seed: UInt64,
                      train: TrainingSet? = nil, learningRate: Float = 1e-3, batchSize: Int = 64) -> (any SequenceRecommender)? {
        func int(_ k: String) -> Int? { a["arch.\(k)"].flatMap { Int($0) } }
        func float(_ k: String) -> Float? { a["arch.\(k)"].flatMap { Float($0) } }
        guard let dim = int("dim"), let heads = int("heads"), let blocks = int("blocks"), let inner = int("inner"),
              let maxLength = int("max_length"), let dropout = float("dropout"), dim > 0, heads > 0, dim % heads == 0
        else { return nil }
        let transformer = TransformerEncoder.Settings(dim: dim, heads: heads, blocks: blocks, innerSize: inner, dropout: dropout,
                                                      maxLength: maxLength)
        let data = train ?? TrainingSet(userCount: 0, itemCount: itemCount, taxonomy: taxonomy, interactions: [])
        switch name {
        case "sasrec":
            guard let loss = a["arch.loss"].flatMap(SASRec.Loss.init(rawValue:)) else { return nil }
            return SASRec(train: data, settings: .init(transformer: transformer, loss: loss, skipNegatives: a["arch.skip_negatives"] == "true",
                                                       learningRate: learningRate, batchSize: batchSize, seed: seed))
        case "sine":
            var s = SINE.Settings()
            guard let k = int("prototypes"), let ablation = a["arch.ablation"].flatMap(SINE.Ablation.init(rawValue:)),
                  let beta1 = float("beta1") else { return nil }
            s.transformer = transformer
            s.prototypes = k
            s.ablation = ablation
            s.betaAttention = a["arch.beta_attention"] == "true"
            s.beta1 = beta1
            s.learningRate = learningRate
            s.batchSize = batchSize
            s.seed = seed
            return SINE(train: data, settings: s)
        default:
            return nil
        }
    }

    /// A store history as the model reads it (`interaction(_:user:)`); events on items the model does
    /// not know are dropped.
    func history(_ events: [SequenceEvent]) -> [Interaction] {
        events.compactMap { e in e.item >= 0 && Int(e.item) < itemCount ? Self.interaction(e, user: 0) : nil }
    }

    /// One stored event in `taxonomy`: positive feedback a positive (0), negative feedback (skips,
    /// dislikes) a skip (1); nil for an event without feedback. Training (`TrainingData`) and serving
    /// read events through this one mapping.
    static func interaction(_ e: SequenceEvent, user: Int32) -> Interaction? {
        guard let raw = e.feedback, let kind = FeedbackKind(rawValue: raw) else { return nil }
        return Interaction(user: user, item: e.item, behavior: kind.isPositive ? 0 : 1, timestamp: e.timestampMs / 1000)
    }

    /// Scores of all items after `history`; nil when it holds no positive the model knows.
    func scores(history: [Interaction]) -> [Float]? {
        guard history.contains(where: { $0.behavior == 0 }) else { return nil }
        return model.withLock { $0.scores(histories: [history]) }
    }
}
