import Synchronization
import TacitData
import TacitModels
import TacitStore

/// A trained sequential model (`sasrec`, `sine`, `emorec`) as served. Its lists come from re-encoding the
/// user's current history on every request, so each new event moves the list at once, without a
/// fine-tune and without a per-user cache to invalidate.
///
/// Snapshots are self-describing: the network's tensors (`network.<i>`, in `parameters` order) and the
/// `ModelSettings` it was trained with (`SnapshotFormat`), so a restarted daemon rebuilds exactly the
/// model it saved even if the configuration has changed since.
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

    /// The taxonomy `kind` reads: EmoRec the four kinds, the others positives and skips.
    static func taxonomy(for kind: ModelKind) -> BehaviorTaxonomy { kind == .emorec ? feedbackTaxonomy : positivesAndSkips }

    /// A history in `feedbackTaxonomy` as `kind` reads it.
    static func reading(_ history: [Interaction], for kind: ModelKind) -> [Interaction] {
        guard kind != .emorec else { return history }
        return history.map { e in
            var out = e
            out.behavior = isPositive(e) ? 0 : 1
            return out
        }
    }

    /// Whether an event in `feedbackTaxonomy` is positive feedback.
    static func isPositive(_ e: Interaction) -> Bool { FeedbackKind(rawValue: Int(e.behavior))?.isPositive ?? false }

    /// What it was trained with: the record that rebuilds its network.
    let settings: ModelSettings
    /// Items the network has rows for.
    let modelItemCount: Int
    let tensors: [SnapshotTensor]
    private let model: Mutex<any SequenceRecommender>
    /// A network from another instance (the models topic) reads this store's items through this.
    let translation: ItemTranslation?

    /// A network's item rows by another store's dense item ids. Histories and scores stay in the store's
    /// ids; the network sees its own rows, and no user (dense user ids are each store's own).
    struct ItemTranslation: Sendable {
        /// Store id → network row (-1: an item the network has no row for).
        let toModel: [Int32]
        /// Network row → store id.
        let toLocal: [Int32]

        init?(itemRows: [Int32], localItemCount: Int) {
            guard itemRows.allSatisfy({ $0 >= 0 && Int($0) < localItemCount }) else { return nil }
            var toModel = [Int32](repeating: -1, count: localItemCount)
            for (row, local) in itemRows.enumerated() { toModel[Int(local)] = Int32(row) }
            self.toModel = toModel
            toLocal = itemRows
        }
    }

    /// Items scored, in the store's ids.
    var itemCount: Int { translation?.toModel.count ?? modelItemCount }

    /// Wraps a freshly trained model (its values are copied into the snapshot tensors).
    init(trained: sending any SequenceRecommender, settings: ModelSettings) {
        self.settings = settings
        modelItemCount = trained.itemCount
        translation = nil
        tensors = trained.parameters.enumerated().map {
            SnapshotTensor(name: "network.\($0.offset)", shape: $0.element.shape, values: $0.element.value)
        }
        model = Mutex(trained)
    }

    /// Rebuilds a saved network from the settings it was trained with; nil when they are not a
    /// sequential model's or the tensors do not fit them. With `translation`, it serves another store.
    init?(settings: ModelSettings, itemCount: Int, tensors: [SnapshotTensor], translation: ItemTranslation? = nil) {
        guard translation.map({ $0.toLocal.count == itemCount }) ?? true else { return nil }
        let network = tensors.filter { $0.name.hasPrefix("network.") }
            .sorted { Int($0.name.dropFirst(8)) ?? 0 < Int($1.name.dropFirst(8)) ?? 0 }
        // EmoRec's second tensor is its graph's user table, as long as the users it was trained on.
        let users = settings.kind == .emorec && network.count > 1 ? network[1].shape.first ?? 0 : 0
        guard
            let built = settings.servingNetwork(itemCount: itemCount, servedUsers: users, taxonomy: Self.taxonomy(for: settings.kind))
        else { return nil }
        let parameters = built.parameters
        guard network.count == parameters.count, zip(network, parameters).allSatisfy({ $0.shape == $1.shape }) else { return nil }
        built.restore(network.map(\.values))
        self.settings = settings
        modelItemCount = itemCount
        self.translation = translation
        self.tensors = network
        model = Mutex(built)
    }

    /// `user`'s stored history (`interaction(_:user:)`); events on items the model does not know are dropped.
    func history(_ events: [SequenceEvent], user: Int32) -> [Interaction] {
        events.compactMap { e in
            guard e.item >= 0, Int(e.item) < itemCount, translation.map({ $0.toModel[Int(e.item)] >= 0 }) ?? true else { return nil }
            return Self.interaction(e, user: user)
        }
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
        var read = Self.reading(history, for: settings.kind)
        guard let translation else { return model.withLock { $0.scores(histories: [read]) } }
        for k in read.indices {
            read[k].item = translation.toModel[Int(read[k].item)]
            read[k].user = -1
        }
        let scores = model.withLock { $0.scores(histories: [read]) }
        // Items the network has no row for take the mean (they are never listed: `ServingEmbeddings.unlisted`),
        // so the per-user scale the trend and the lift use is the network's own.
        var out = [Float](repeating: scores.reduce(0, +) / Float(max(1, scores.count)), count: itemCount)
        for (row, local) in translation.toLocal.enumerated() { out[Int(local)] = scores[row] }
        return out
    }
}
