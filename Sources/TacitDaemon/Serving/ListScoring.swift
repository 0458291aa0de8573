import TacitData
import TacitEval

/// How a served list fared against what its user did next: the one rule `tacit backtest` and the
/// daemon's online metrics share, so the two can be compared.
public enum ListScoring {
    /// What a list is judged on.
    public enum Target: Sendable, Equatable, Codable, CustomStringConvertible {
        /// Items the user takes positively next and had never interacted with: discovery.
        case any
        /// Items the user takes with this behavior next and had not taken with it before (on
        /// multi-behavior data, `buy`: purchases, including of items the buyer had only viewed).
        case behavior(String)

        public init(_ text: String) { self = text == "any" ? .any : .behavior(text) }
        public var description: String {
            switch self {
            case .any: "any"
            case .behavior(let b): b
            }
        }
    }

    /// One event after the list. `item` is the dense id; items the store did not know when the list
    /// was made may carry any id the list cannot contain (they count as relevant and are never hit).
    public struct NextEvent: Sendable, Equatable {
        public var item: Int32
        public var behavior: String
        public var feedback: FeedbackKind?
        public init(item: Int32, behavior: String, feedback: FeedbackKind?) {
            self.item = item
            self.behavior = behavior
            self.feedback = feedback
        }
    }

    public struct Outcome: Sendable, Equatable {
        /// HR@10 and NDCG@10 (nil when nothing the user did next is relevant: the list is not scored on them).
        public var hit: (hr: Double, ndcg: Double)?
        /// Share of the list the user then skipped, rated negatively or disliked (nil for an empty list).
        public var negShare: Double?

        public static func == (a: Outcome, b: Outcome) -> Bool {
            a.hit?.hr == b.hit?.hr && a.hit?.ndcg == b.hit?.ndcg && a.negShare == b.negShare
        }
    }

    /// Scores `list` (best first), made when the user had `before` interactions (item, behavior),
    /// against the events that followed it.
    public static func score(
        list: [Int32],
        target: Target,
        before: [(item: Int32, behavior: String)],
        next: [NextEvent]
    ) -> Outcome {
        let seen: Set<Int32> =
            switch target {
            case .any: Set(before.map(\.item))
            case .behavior(let b): Set(before.lazy.filter { $0.behavior == b }.map(\.item))
            }
        var relevant = Set<Int32>(), negative = Set<Int32>()
        for e in next {
            guard let feedback = e.feedback else { continue }
            let taken =
                switch target {
                case .any: feedback.isPositive
                case .behavior(let b): e.behavior == b
                }
            if taken, !seen.contains(e.item) { relevant.insert(e.item) }
            if feedback == .implicitNegative || feedback == .explicitNegative { negative.insert(e.item) }
        }
        let negShare = list.isEmpty ? nil : Double(list.filter(negative.contains).count) / Double(list.count)
        guard !relevant.isEmpty else { return Outcome(hit: nil, negShare: negShare) }
        let values = Metrics.values(ranked: list[...], relevant: relevant, ks: [10])
        return Outcome(hit: (values[0], values[1]), negShare: negShare)
    }
}
