import TacitData
import TacitStore

/// Where a model becomes a list: which items a user may be shown, and the serving source's top K
/// among them. The publisher, `GET /recommendations/{user}` and `tacit backtest` all build lists
/// here, so what is measured is what is published.
public struct ListBuilder: Sendable {
    /// `[publisher]`'s exclusion rules.
    public struct Rules: Sendable, Equatable {
        public var topK: Int
        /// Leave out items the user consumed: those with an interaction of any behavior outside `reshown`.
        public var excludeConsumed: Bool
        /// Leave out items whose newest feedback (of any behavior) is an explicit negative.
        public var excludeDisliked: Bool
        /// Behaviors that do not consume an item (`taxonomy.auxiliary` under `publisher.reshow_auxiliary`):
        /// an item a shopper only viewed or carted stays eligible, since it is what they hesitate over
        /// and, on Retail Rocket, 95 % of purchases are of items the buyer had viewed or carted.
        public var reshown: Set<String>

        public init(topK: Int = 10, excludeConsumed: Bool = true, excludeDisliked: Bool = true, reshown: Set<String> = []) {
            self.topK = topK
            self.excludeConsumed = excludeConsumed
            self.excludeDisliked = excludeDisliked
            self.reshown = reshown
        }
    }

    public let store: EventStore
    public let source: any RecommendationSource
    public let rules: Rules

    public init(store: EventStore, source: any RecommendationSource, rules: Rules) {
        self.store = store
        self.source = source
        self.rules = rules
    }

    /// The items `user` must not be shown.
    public func excluded(user: Int32) throws -> Set<Int32> {
        guard rules.excludeConsumed || rules.excludeDisliked else { return [] }
        return excluded(from: try store.interactions(user: user))
    }

    /// The items not to show a user with these interactions (`EventStore.interactions(user:)`).
    public func excluded(from interactions: [(item: Int32, behavior: String, lastFeedback: Int?)]) -> Set<Int32> {
        var excluded = Set<Int32>()
        for i in interactions {
            if rules.excludeConsumed, !rules.reshown.contains(i.behavior) { excluded.insert(i.item) }
            if rules.excludeDisliked, i.lastFeedback == FeedbackKind.explicitNegative.rawValue { excluded.insert(i.item) }
        }
        return excluded
    }

    /// The user's list (nil when no model can serve yet); with `explain`, carrying the serving model's
    /// explanation of it.
    public func list(user: Int32, explain: Bool = false) throws -> Recommendations? {
        try source.recommend(user: user, k: rules.topK, excluding: try excluded(user: user), explain: explain)
    }

    /// The user's list, leaving out `excluded` (from `excluded(user:)` or `excluded(from:)`).
    public func list(user: Int32, excluding excluded: Set<Int32>, explain: Bool = false) throws -> Recommendations? {
        try source.recommend(user: user, k: rules.topK, excluding: excluded, explain: explain)
    }
}
