import TacitStore

/// Recommends the items with the most positive events, straight from the store's counts.
/// A real baseline (the floor every learned model must clear), live: a new positive event moves
/// an item at once.
public struct PopularityRecommender: RecommendationSource {
    let store: EventStore

    public init(store: EventStore) {
        self.store = store
    }

    public static let name = "popularity"
    public var currentModel: ModelIdentity { ModelIdentity(name: Self.name, version: 0) }

    /// Popularity has nothing to explain: `explain` is ignored.
    public func recommend(user: Int32, k: Int, excluding excluded: Set<Int32>, explain: Bool) throws -> Recommendations? {
        let candidates = try store.popularItems(limit: k + excluded.count)
        let items = candidates.lazy.filter { !excluded.contains($0.item) }.prefix(k)
            .map { ScoredItem(item: $0.item, score: Float($0.positives)) }
        return Recommendations(items: Array(items), model: currentModel)
    }
}
