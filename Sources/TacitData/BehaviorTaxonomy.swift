/// What each behavior means to a model: which is the target to predict, which are auxiliary
/// signals, and which carry positive or negative feedback. Configurable per dataset and in the
/// daemon's TOML.
public struct BehaviorTaxonomy: Sendable, Equatable, Codable {
    /// Behavior names; an `Interaction.behavior` is an index into this list.
    public var behaviors: [String]
    /// The behavior models are trained and evaluated to predict (e.g. "buy").
    public var target: String
    /// Behaviors that inform the target (view, fav, cart).
    public var auxiliary: [String]
    /// Behaviors that are positive feedback on their own (like, long watch, purchase).
    public var positive: [String]
    /// Passive negative feedback (skip).
    public var passiveNegative: [String]
    /// Explicit negative feedback (dislike).
    public var explicitNegative: [String]
    /// For rating behaviors: ratings ≥ this are positive feedback (EmoRec, SINE: 4).
    public var positiveRatingThreshold: Float

    public init(
        behaviors: [String],
        target: String,
        auxiliary: [String] = [],
        positive: [String] = [],
        passiveNegative: [String] = [],
        explicitNegative: [String] = [],
        positiveRatingThreshold: Float = 4
    ) {
        self.behaviors = behaviors
        self.target = target
        self.auxiliary = auxiliary
        self.positive = positive
        self.passiveNegative = passiveNegative
        self.explicitNegative = explicitNegative
        self.positiveRatingThreshold = positiveRatingThreshold
    }

    /// Index of `name`, if it is one of the behaviors.
    public func code(of name: String) -> UInt8? { behaviors.firstIndex(of: name).map { UInt8($0) } }

    /// Index of the target behavior.
    public var targetCode: UInt8 {
        guard let c = code(of: target) else { preconditionFailure("target behavior \(target) is not in \(behaviors)") }
        return c
    }

    /// Indices of the auxiliary behaviors, in configuration order.
    public var auxiliaryCodes: [UInt8] { auxiliary.compactMap { code(of: $0) } }

    /// The feedback kind of one interaction (EmoRec's four kinds, SINE's positive/skip split).
    public func feedback(of e: Interaction) -> FeedbackKind {
        let name = behaviors[Int(e.behavior)]
        if explicitNegative.contains(name) { return .explicitNegative }
        if passiveNegative.contains(name) { return .implicitNegative }
        if e.hasValue, name == target || positive.contains(name) {
            return FeedbackKind(rating: e.value, positiveThreshold: positiveRatingThreshold)
        }
        if positive.contains(name) || name == target { return .explicitPositive }
        return .implicitPositive
    }

    /// The multi-behavior e-commerce taxonomy (Retail Rocket, Tmall): target buy, the rest auxiliary.
    public static func ecommerce(behaviors: [String]) -> BehaviorTaxonomy {
        BehaviorTaxonomy(
            behaviors: behaviors,
            target: "buy",
            auxiliary: behaviors.filter { $0 != "buy" },
            positive: ["buy"]
        )
    }

    /// A single rating behavior (MovieLens): target "rating", feedback kind from the value.
    public static let ratings = BehaviorTaxonomy(behaviors: ["rating"], target: "rating", positive: ["rating"])
}

/// Feedback polarity, EmoRec's four kinds (paper §3): from ratings 5 / 4 / 3 / ≤ 2, or from event types.
public enum FeedbackKind: Int, Sendable, CaseIterable, Codable {
    case explicitPositive = 0
    case implicitPositive, implicitNegative, explicitNegative

    public var isPositive: Bool { self == .explicitPositive || self == .implicitPositive }

    /// 5 → explicit positive, [threshold, 5) → implicit positive, [threshold − 1, threshold) → implicit
    /// negative, below → explicit negative (threshold 4 gives the paper's 5/4/3/≤2 mapping).
    public init(rating: Float, positiveThreshold: Float = 4) {
        if rating >= positiveThreshold + 1 {
            self = .explicitPositive
        } else if rating >= positiveThreshold {
            self = .implicitPositive
        } else if rating >= positiveThreshold - 1 {
            self = .implicitNegative
        } else {
            self = .explicitNegative
        }
    }
}
