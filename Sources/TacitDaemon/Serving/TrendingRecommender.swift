import TacitStore

/// The items taken most *lately*: positive events counted with exponential decay (`ItemTrend`) under
/// `trainer.trend_half_life`. The second baseline every learned model must clear, next to all-time
/// popularity: in `tacit backtest` on MovieLens it beats all-time popularity by far (README,
/// "Backtesting"), because what people take drifts.
public struct TrendingRecommender: RecommendationSource {
    let trend: ItemTrend
    let prior: TrendPrior
    /// The user's newest hesitations lifted in the list, as for the learned models (nil: off).
    let lift: HesitationLift?

    /// `halfLife` must be one of `TrendCounts.halfLives` (the configuration checks it).
    public init(trend: ItemTrend, halfLife: Double, lift: HesitationLift? = nil) {
        self.trend = trend
        self.lift = lift
        prior = TrendPrior(halfLife: TrendCounts.halfLives.firstIndex(of: halfLife) ?? 0, weight: 1)
    }

    public var currentModel: ModelIdentity { ModelIdentity(name: "trending", version: 0) }

    public func recommend(user: Int32, k: Int, excluding excluded: Set<Int32>, explain: Bool) throws -> Recommendations? {
        var scores = trend.prior(prior)
        if let lift { scores = lift.apply(scores, items: lift.items(try trend.store.sequence(user: user))) }
        return Recommendations(items: FoldIn.topK(scores: scores, k: k, excluded: excluded), model: currentModel)
    }
}
