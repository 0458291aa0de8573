import TacitData
import TacitTensor

/// EmoRec's heterogeneous graph (paper §3.1): user and item nodes, and per feedback kind r a family of
/// feedback nodes f_r(u), one per user, standing for "what u gave kind r". Relations (all directed,
/// each with its own convolution):
/// - item → f_r(u) and f_r(u) → item for every training pair (u, i) of kind r,
/// - f_r(u) → user u and user u → f_r(u) for every user with kind-r feedback,
/// so two layers carry user → feedback → item → feedback → user paths. BaseGAT's graph is the plain
/// bipartite one (user → item, item → user over every pair).
///
/// A pair rated twice counts once, with its latest kind.
public struct FeedbackGraph {
    /// Node types: 0 users, 1 items, 2 + r the feedback nodes of kind r.
    public static let user = 0, item = 1
    public static func feedback(_ kind: FeedbackKind) -> Int { 2 + kind.rawValue }

    public struct Relation {
        public let name: String
        public let source: Int
        public let target: Int
        public let edges: GraphEdges
        /// −1 for diffGAT's repelling relations (negative feedback into users and items), else 1.
        public let sign: Float
        /// 1 / in-degree of each edge's target: the mean aggregation of SAGE.
        public let meanWeights: Tensor
    }

    public let nodeCounts: [Int]
    public let relations: [Relation]

    /// Relations into node type `t`.
    public func relations(into t: Int) -> [Int] { relations.indices.filter { relations[$0].target == t } }

    /// The feedback graph of `train`; `signed` makes negative kinds repel (diffGAT). `pairs` are
    /// `latestKinds(train)`, when the caller has them already.
    public static func heterogeneous(
        _ train: TrainingSet,
        signed: Bool,
        pairs kinds: [(user: Int32, item: Int32, kind: FeedbackKind)]? = nil
    ) -> FeedbackGraph {
        let users = train.userCount, items = train.itemCount
        let kinds = kinds ?? latestKinds(train)
        var relations: [Relation] = []
        for kind in FeedbackKind.allCases {
            let pairs = kinds.filter { $0.kind == kind }
            let owners = Array(Set(pairs.map(\.user))).sorted()
            let f = feedback(kind), sign: Float = signed && !kind.isPositive ? -1 : 1
            let name = "\(kind)"
            relations.append(
                relation(
                    "item→\(name)",
                    source: item,
                    target: f,
                    rows: users,
                    cols: items,
                    targets: pairs.map(\.user),
                    sources: pairs.map(\.item),
                    sign: 1
                )
            )
            relations.append(
                relation(
                    "\(name)→item",
                    source: f,
                    target: item,
                    rows: items,
                    cols: users,
                    targets: pairs.map(\.item),
                    sources: pairs.map(\.user),
                    sign: sign
                )
            )
            relations.append(
                relation(
                    "\(name)→user",
                    source: f,
                    target: user,
                    rows: users,
                    cols: users,
                    targets: owners,
                    sources: owners,
                    sign: sign
                )
            )
            relations.append(
                relation(
                    "user→\(name)",
                    source: user,
                    target: f,
                    rows: users,
                    cols: users,
                    targets: owners,
                    sources: owners,
                    sign: 1
                )
            )
        }
        return FeedbackGraph(nodeCounts: [users, items] + FeedbackKind.allCases.map { _ in users }, relations: relations)
    }

    /// BaseGAT's graph: users and items only, one relation each way over every training pair.
    public static func bipartite(_ train: TrainingSet, pairs: [(user: Int32, item: Int32, kind: FeedbackKind)]? = nil) -> FeedbackGraph {
        let pairs = pairs ?? latestKinds(train)
        let users = train.userCount, items = train.itemCount
        return FeedbackGraph(
            nodeCounts: [users, items],
            relations: [
                relation(
                    "item→user",
                    source: item,
                    target: user,
                    rows: users,
                    cols: items,
                    targets: pairs.map(\.user),
                    sources: pairs.map(\.item),
                    sign: 1
                ),
                relation(
                    "user→item",
                    source: user,
                    target: item,
                    rows: items,
                    cols: users,
                    targets: pairs.map(\.item),
                    sources: pairs.map(\.user),
                    sign: 1
                ),
            ]
        )
    }

    /// Each distinct training pair with the kind of its latest event.
    static func latestKinds(_ train: TrainingSet) -> [(user: Int32, item: Int32, kind: FeedbackKind)] {
        var latest: [Int64: (Int64, FeedbackKind)] = [:]
        for e in train.interactions {
            let key = Int64(e.user) << 32 | Int64(e.item)
            if let seen = latest[key], seen.0 > e.timestamp { continue }
            latest[key] = (e.timestamp, train.taxonomy.feedback(of: e))
        }
        return latest.map { (Int32($0.key >> 32), Int32(truncatingIfNeeded: $0.key & 0xFFFF_FFFF), $0.value.1) }
            .sorted { ($0.0, $0.1) < ($1.0, $1.1) }
    }

    static func relation(
        _ name: String,
        source: Int,
        target: Int,
        rows: Int,
        cols: Int,
        targets: [Int32],
        sources: [Int32],
        sign: Float
    ) -> Relation {
        let edges = GraphEdges(rows: rows, cols: cols, targets: targets, sources: sources)
        let degree = edges.inDegrees()
        let mean = edges.target.map { 1 / Float(degree[Int($0)]) }
        return Relation(
            name: name,
            source: source,
            target: target,
            edges: edges,
            sign: sign,
            meanWeights: Tensor(shape: [edges.count], value: mean)
        )
    }
}
