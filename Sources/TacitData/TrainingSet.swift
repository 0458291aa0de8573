/// The training side of a split, indexed for models: per-behavior user–item matrices, the target
/// pairs that BPR iterates over, and time-ordered per-user sequences.
public struct TrainingSet: Sendable {
    public let userCount: Int
    public let itemCount: Int
    public let taxonomy: BehaviorTaxonomy
    /// Training interactions, sorted by user then time.
    public let interactions: [Interaction]
    /// One matrix per behavior code.
    public let byBehavior: [UserItemMatrix]

    public init(userCount: Int, itemCount: Int, taxonomy: BehaviorTaxonomy, interactions: [Interaction]) {
        self.userCount = userCount
        self.itemCount = itemCount
        self.taxonomy = taxonomy
        self.interactions = interactions
        byBehavior = taxonomy.behaviors.indices.map { b in
            var us: [Int32] = [], its: [Int32] = []
            for e in interactions where Int(e.behavior) == b {
                us.append(e.user)
                its.append(e.item)
            }
            return UserItemMatrix(userCount: userCount, itemCount: itemCount, users: us, items: its)
        }
    }

    /// The target behavior's user–item matrix (what BPR learns and what evaluation masks).
    public var target: UserItemMatrix { byBehavior[Int(taxonomy.targetCode)] }

    /// Users' item sets over all behaviors together.
    public func anyBehavior() -> UserItemMatrix {
        UserItemMatrix(
            userCount: userCount,
            itemCount: itemCount,
            users: interactions.map(\.user),
            items: interactions.map(\.item)
        )
    }

    /// Popularity of each item under the target behavior (number of distinct users).
    public func targetPopularity() -> [Int] { target.itemDegrees() }
}
