import TacitData

/// What each event type means, from the `[taxonomy]` section of the configuration.
///
/// A type belongs to exactly one group. Ratings map through `FeedbackKind(rating:)` (by default
/// 5 → explicit positive, 4 → implicit positive, 3 → implicit negative, ≤ 2 → explicit negative);
/// watch events become a skip below `skipBelowMs`, implicit positive at or above
/// `positiveWatchFraction` of `duration_ms`, and neutral in between.
public struct EventTaxonomy: Sendable, Equatable {
    /// The behavior models predict (e.g. `buy`). Positive feedback.
    public var target: [String] = ["buy"]
    /// Behaviors that inform the target (`view`, `fav`, `cart`). Implicit positive.
    public var auxiliary: [String] = ["view", "fav", "cart"]
    public var explicitPositive: [String] = ["like"]
    public var implicitPositive: [String] = ["play"]
    /// Passive negative feedback (`skip`).
    public var passiveNegative: [String] = ["skip"]
    /// Explicit negative feedback (`dislike`).
    public var explicitNegative: [String] = ["dislike"]
    /// Types whose `value` is a rating.
    public var rating: [String] = ["rating"]
    /// Types carrying `watch_ms` (and usually `duration_ms`).
    public var watch: [String] = ["watch"]
    /// Ratings ≥ this are implicit positive, ≥ this + 1 explicit positive, ≥ this − 1 implicit negative.
    public var positiveRatingThreshold: Double = 4
    /// Ratings must lie in `0...ratingMax`.
    public var ratingMax: Double = 5
    /// A watch of at least this fraction of `duration_ms` is positive.
    public var positiveWatchFraction: Double = 0.5
    /// A watch shorter than this is a skip (passive negative).
    public var skipBelowMs: Int64 = 3000

    public init() {}

    /// Every configured type, in group order.
    public var allTypes: [String] {
        target + auxiliary + explicitPositive + implicitPositive + passiveNegative + explicitNegative + rating + watch
    }

    /// The group of `type`, or nil when the type is not configured.
    public func group(of type: String) -> Group? {
        // Small lists: linear scans beat hashing here and keep the struct trivially Equatable.
        if target.contains(type) { return .target }
        if auxiliary.contains(type) { return .auxiliary }
        if explicitPositive.contains(type) { return .explicitPositive }
        if implicitPositive.contains(type) { return .implicitPositive }
        if passiveNegative.contains(type) { return .passiveNegative }
        if explicitNegative.contains(type) { return .explicitNegative }
        if rating.contains(type) { return .rating }
        if watch.contains(type) { return .watch }
        return nil
    }

    public enum Group: String, Sendable, CaseIterable {
        case target, auxiliary, explicitPositive, implicitPositive, passiveNegative, explicitNegative, rating, watch
    }

    /// The same taxonomy in the learning core's terms, for training on stored events.
    public var behaviorTaxonomy: BehaviorTaxonomy {
        BehaviorTaxonomy(
            behaviors: allTypes,
            target: target.first ?? "buy",
            auxiliary: auxiliary,
            positive: target + explicitPositive + implicitPositive,
            passiveNegative: passiveNegative,
            explicitNegative: explicitNegative,
            positiveRatingThreshold: Float(positiveRatingThreshold)
        )
    }
}

/// Limits that make an event "absurd" rather than merely unusual: `[events]` in the configuration.
public struct EventLimits: Sendable, Equatable {
    /// Larger records are dead-lettered unparsed.
    public var maxPayloadBytes: Int = 16 * 1024
    /// Longest `user`, `item` or `id`, in UTF-8 bytes.
    public var maxIDLength: Int = 256
    /// Earliest accepted event time (epoch ms); default 2000-01-01T00:00:00Z.
    public var earliestTimestampMs: Int64 = 946_684_800_000
    /// How far in the future of the daemon's clock an event time may lie.
    public var maxFutureSkewMs: Int64 = 24 * 3600 * 1000

    public init() {}
}
