import TacitData
import TacitStore

/// Lifts a shopper's newest hesitations in their list: the `recent` items they took most lately with
/// auxiliary behaviors only (viewed, carted, never bought) get `boost` standard deviations of the user's
/// scores added, so the model still orders them and can leave out one it scores very low.
///
/// Why: in the Retail Rocket backtest (`--target buy`), 63 of the 360 buyers scored buy an item they
/// had viewed or carted in an earlier chunk, and the learned models, which rank every item by one
/// taste vector, put few of those in the top 10. Lifting the newest 5 by 3 σ raised LightGCN from
/// 0.1574 to 0.1750 HR@10 (seeds 1–3; README, "Backtesting"); new items pay for the slots. HNT's
/// conversion probabilities, used to weigh them, did worse than recency there, so the lift is the
/// same for every model.
/// `publisher.reshow_recent`, `publisher.reshow_boost`; only with `publisher.reshow_auxiliary`.
public struct HesitationLift: Sendable, Equatable {
    /// `taxonomy.auxiliary`: behaviors that do not take an item for good.
    public var auxiliary: Set<String>
    /// How many of the newest hesitations are lifted.
    public var recent: Int
    /// The lift, in standard deviations of the user's scores over all items.
    public var boost: Float

    public init(auxiliary: Set<String>, recent: Int, boost: Float) {
        self.auxiliary = auxiliary
        self.recent = recent
        self.boost = boost
    }

    /// The newest `recent` items the user took positively with auxiliary behaviors only (no positive event of
    /// another behavior, no explicit negative after the last positive), newest first.
    func items(_ events: [SequenceEvent]) -> [Int32] {
        var newest: [Int32: Int] = [:]
        var taken = Set<Int32>()
        for (k, e) in events.enumerated() {
            guard let raw = e.feedback, let kind = FeedbackKind(rawValue: raw) else { continue }
            if kind == .explicitNegative {
                newest[e.item] = nil
            } else if kind.isPositive {
                if auxiliary.contains(e.behavior) { newest[e.item] = k } else { taken.insert(e.item) }
            }
        }
        return newest.filter { !taken.contains($0.key) }.sorted { $0.value > $1.value }.prefix(recent).map(\.key)
    }

    /// `scores` (one per item) with each of `items` in range raised by `boost` standard deviations of the scores.
    func apply(_ scores: [Float], items: [Int32]) -> [Float] {
        guard !items.isEmpty, !scores.isEmpty else { return scores }
        let std = Float(TrendCounts.meanAndStandardDeviation(scores).std)
        let lift = boost * (std > 0 ? std : 1)
        var out = scores
        for i in items where i >= 0 && Int(i) < out.count { out[Int(i)] += lift }
        return out
    }
}
