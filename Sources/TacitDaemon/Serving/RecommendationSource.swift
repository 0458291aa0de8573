import TacitStore

/// An item and its score in a recommendation list (dense item id).
public struct ScoredItem: Sendable, Equatable {
    public var item: Int32
    public var score: Float
    public init(item: Int32, score: Float) {
        self.item = item
        self.score = score
    }
}

/// Which model produced a list.
public struct ModelIdentity: Sendable, Equatable, Hashable {
    public var name: String
    /// The snapshot version (`ModelSnapshot.version`); 0 for models without snapshots.
    public var version: Int64
    public init(name: String, version: Int64) {
        self.name = name
        self.version = version
    }
}

/// A list ready to publish, with the model that made it.
public struct Recommendations: Sendable, Equatable {
    public var items: [ScoredItem]
    public var model: ModelIdentity
    /// Why (`ListBuilder.list(user:explain:)`); nil unless asked for, or when the model has nothing to say.
    public var explanation: Explanation?
    public init(items: [ScoredItem], model: ModelIdentity, explanation: Explanation? = nil) {
        self.items = items
        self.model = model
        self.explanation = explanation
    }
}

/// **Seam for the learning core.** Serves top-K lists to the publisher and to
/// `GET /recommendations/{user}`. `PopularityRecommender` is the baseline implementation; a
/// model host (LightGCN, BPR, the paper models) implements the same protocol and is passed to
/// `Daemon` in `DaemonComponents.recommender`.
///
/// Called from several tasks at once; implementations must be thread-safe and should swap
/// promoted models atomically (e.g. behind a lock holding an immutable model reference).
public protocol RecommendationSource: Sendable {
    /// The model currently serving. When it changes (a promotion), the publisher republishes the
    /// lists of all active users.
    var currentModel: ModelIdentity { get }

    /// The top `k` items for dense user id `user` (a user the store knows), skipping `excluded`
    /// items. Returns nil when no model can serve yet (HTTP answers 503). Users unknown to the
    /// model (new since the last fine-tune) should still get a list: fold in their events
    /// (`EventStore.sequence(user:)`) or fall back to popularity.
    ///
    /// With `explain`, the list carries the model's `Explanation` of itself, computed in the same pass (the
    /// history read once, its scores reused); sources with nothing to say leave it nil.
    func recommend(user: Int32, k: Int, excluding excluded: Set<Int32>, explain: Bool) throws -> Recommendations?
}

extension RecommendationSource {
    /// The list without an explanation.
    public func recommend(user: Int32, k: Int, excluding excluded: Set<Int32>) throws -> Recommendations? {
        try recommend(user: user, k: k, excluding: excluded, explain: false)
    }
}

/// **Seam for the trainer.** Told about every applied batch, after its transaction committed,
/// from the ingest task: keep it fast (record counts, wake a training task), never block.
public protocol IngestObserver: Sendable {
    func didApply(_ outcome: ApplyOutcome)
}
