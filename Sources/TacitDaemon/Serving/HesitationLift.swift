import TacitData
import TacitStore

/// Lifts a shopper's newest hesitations in their list: the `recent` items they took most lately with
/// auxiliary behaviors only (viewed, carted, never bought) get `boost` standard deviations of the user's
/// scores added (`unit`: more when a trend stretches the top of the scores), so the model still orders
/// them and can leave out one it scores very low.
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

    /// `scores` (one per item) with each of `items` in range raised by `boost` times `unit(scores)`.
    func apply(_ scores: [Float], items: [Int32]) -> [Float] {
        guard !items.isEmpty, !scores.isEmpty else { return scores }
        let lift = boost * Self.unit(scores)
        var out = scores
        for i in items where i >= 0 && Int(i) < out.count { out[Int(i)] += lift }
        return out
    }

    /// The lift's unit: the standard deviation of the user's scores, or a quarter of the gap between their
    /// best and median score when that is larger (1 when both are 0).
    ///
    /// Why the second: the item trend a snapshot serves with (`TrendPrior`, weights up to 4) is heavy-tailed,
    /// a few trending items standing far above the rest, and a lift of a few σ then no longer reaches the
    /// top of the list. On Tmall (`tacit backtest --data tmall --target buy`, LightGCN, seed 1) the rounds
    /// served with trend weight 2.0 fell to 0.0225 HR@10 against 0.13 with weight 0.5, and HNT at weight 4.0
    /// to 0.02. For scores spread like a normal over 10⁴–10⁵ items the best lies about 4 σ above the median,
    /// so there the two units agree and the lift is what it was.
    static func unit(_ scores: [Float]) -> Float {
        let std = Float(TrendCounts.meanAndStandardDeviation(scores).std)
        var copy = scores
        let median = Self.select(&copy, rank: copy.count / 2)
        let best = scores.max() ?? median
        let unit = max(std, (best - median) / 4)
        return unit > 0 && unit.isFinite ? unit : 1
    }

    /// The value of rank `rank` (0-based, ascending) of `v`, reordering `v` (quickselect, O(n) on average).
    static func select(_ v: inout [Float], rank: Int) -> Float {
        var lo = 0, hi = v.count - 1
        while lo < hi {
            let pivot = v[(lo + hi) / 2]
            var i = lo, j = hi
            while i <= j {
                while v[i] < pivot { i += 1 }
                while v[j] > pivot { j -= 1 }
                if i <= j {
                    v.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if rank <= j {
                hi = j
            } else if rank >= i {
                lo = i
            } else {
                break
            }
        }
        return v[rank]
    }
}
