import TacitStore

/// The items taken most *lately*: positive events counted with exponential decay (`ItemTrend`) under
/// `trainer.trend_half_life`. The second baseline every learned model must clear, next to all-time
/// popularity: in `tacit backtest` on MovieLens it beats all-time popularity by far (README,
/// "Backtesting"), because what people take drifts.
public struct TrendingRecommender: RecommendationSource {
    let trend: ItemTrend
    let prior: TrendPrior

    /// `halfLife` must be one of `TrendCounts.halfLives` (the configuration checks it).
    public init(trend: ItemTrend, halfLife: Double) {
        self.trend = trend
        prior = TrendPrior(halfLife: TrendCounts.halfLives.firstIndex(of: halfLife) ?? 0, weight: 1)
    }

    public var currentModel: ModelIdentity { ModelIdentity(name: "trending", version: 0) }

    public func recommend(user: Int32, k: Int, excluding excluded: Set<Int32>, explain: Bool) throws -> Recommendations? {
        let scores = trend.prior(prior)
        return Recommendations(items: FoldIn.topK(scores: scores, k: k, excluded: excluded), model: currentModel)
    }
}
