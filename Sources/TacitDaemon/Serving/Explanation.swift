import TacitData

/// Why a list is what it is (`publisher.explain`, `GET /recommendations/{user}?explain=1`). Each part is
/// computed from the model that served the list, so it says what that model did, not a story told after it.
public struct Explanation: Sendable, Equatable {
    /// HNT: an item the user only took with auxiliary behaviors (viewed, carted, faved) and the model's
    /// probability that they convert on it, σ(y⁻_ui) of the hesitation module (eq. 7), as of the snapshot.
    public struct Hesitation: Sendable, Equatable {
        public var item: Int32
        public var probability: Float
    }

    /// Embedding models: a listed item and the user's positive item most similar to it (cosine of the
    /// item embeddings), the "because you took X" of the list.
    public struct Because: Sendable, Equatable {
        public var item: Int32
        public var because: Int32
    }

    /// Sequential models: one of the newest negative events the model read (a skip or a dislike).
    public struct Negative: Sendable, Equatable {
        public var item: Int32
        public var feedback: FeedbackKind
        public var timestampMs: Int64
    }

    /// Sequential models: an item that would be in the list if the user's negative events were left out of
    /// their history, with its rank and score there and its score now.
    public struct PushedDown: Sendable, Equatable {
        public var item: Int32
        public var rankWithout: Int
        public var scoreWithout: Float
        public var score: Float
    }

    public var hesitation: [Hesitation] = []
    public var because: [Because] = []
    public var negatives: [Negative] = []
    public var pushedDown: [PushedDown] = []

    public init(hesitation: [Hesitation] = [], because: [Because] = [], negatives: [Negative] = [], pushedDown: [PushedDown] = []) {
        self.hesitation = hesitation
        self.because = because
        self.negatives = negatives
        self.pushedDown = pushedDown
    }

    /// At most this many hesitation items and negatives are reported.
    public static let limit = 5

    /// Every item id the explanation names (to resolve external ids in one store read).
    public var items: [Int32] {
        hesitation.map(\.item) + because.flatMap { [$0.item, $0.because] } + negatives.map(\.item) + pushedDown.map(\.item)
    }

    /// The `"explanation":{...}` JSON object, with `name` giving an item's external id.
    func json(name: (Int32) -> String) -> String {
        var parts: [String] = []
        if !hesitation.isEmpty {
            parts.append(
                "\"hesitation\":["
                    + hesitation.map {
                        "{\"item\":" + JSON.quoted(name($0.item)) + ",\"conversion_probability\":" + JSON.number($0.probability) + "}"
                    }.joined(separator: ",") + "]"
            )
        }
        if !because.isEmpty {
            parts.append(
                "\"because\":["
                    + because.map {
                        "{\"item\":" + JSON.quoted(name($0.item)) + ",\"because\":" + JSON.quoted(name($0.because)) + "}"
                    }.joined(separator: ",") + "]"
            )
        }
        if !negatives.isEmpty {
            parts.append(
                "\"negatives\":["
                    + negatives.map {
                        "{\"item\":" + JSON.quoted(name($0.item)) + ",\"feedback\":" + JSON.quoted($0.feedback.wireName)
                            + ",\"ts\":" + JSON.quoted(JSON.rfc3339(ms: $0.timestampMs)) + "}"
                    }.joined(separator: ",") + "]"
            )
        }
        if !pushedDown.isEmpty {
            parts.append(
                "\"pushed_down\":["
                    + pushedDown.map {
                        "{\"item\":" + JSON.quoted(name($0.item)) + ",\"rank_without_negatives\":\($0.rankWithout)"
                            + ",\"score_without_negatives\":" + JSON.number($0.scoreWithout) + ",\"score\":" + JSON.number($0.score) + "}"
                    }.joined(separator: ",") + "]"
            )
        }
        return "{" + parts.joined(separator: ",") + "}"
    }
}

extension FeedbackKind {
    /// The kind as the explanation names it.
    var wireName: String {
        switch self {
        case .explicitPositive: "like"
        case .implicitPositive: "positive"
        case .implicitNegative: "skip"
        case .explicitNegative: "dislike"
        }
    }
}
