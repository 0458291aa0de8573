/// A log of interactions with its id maps and taxonomy: what every loader produces and every
/// split consumes. `interactions` is sorted by user, then time (stable for equal times).
public struct Dataset: Sendable {
    public var name: String
    public var users: IDMap
    public var items: IDMap
    public var taxonomy: BehaviorTaxonomy
    public var interactions: [Interaction]
    /// Held-out (user, item) target pairs when the dataset ships its own test split.
    public var givenTest: [(user: Int32, item: Int32)]?
    /// Whether interactions carry ratings in `value`.
    public var hasRatings: Bool

    public init(
        name: String,
        users: IDMap,
        items: IDMap,
        taxonomy: BehaviorTaxonomy,
        interactions: [Interaction],
        givenTest: [(user: Int32, item: Int32)]? = nil,
        hasRatings: Bool = false
    ) {
        self.name = name
        self.users = users
        self.items = items
        self.taxonomy = taxonomy
        self.interactions = interactions
        self.givenTest = givenTest
        self.hasRatings = hasRatings
        sortByUserThenTime()
    }

    public var userCount: Int { users.count }
    public var itemCount: Int { items.count }

    /// Sorts by (user, timestamp), keeping the original order of ties.
    public mutating func sortByUserThenTime() {
        let sorted = interactions.enumerated().sorted {
            ($0.element.user, $0.element.timestamp, $0.offset) < ($1.element.user, $1.element.timestamp, $1.offset)
        }
        interactions = sorted.map(\.element)
    }

    /// `start[u] ..< start[u + 1]` are user u's interactions (requires the user-then-time order).
    public func userRanges() -> [Int] {
        var start = [Int](repeating: 0, count: userCount + 1)
        for e in interactions { start[Int(e.user) + 1] += 1 }
        for u in 0..<userCount { start[u + 1] += start[u] }
        return start
    }

    /// Counts of interactions per behavior name.
    public func behaviorCounts() -> [String: Int] {
        var counts = [Int](repeating: 0, count: taxonomy.behaviors.count)
        for e in interactions { counts[Int(e.behavior)] += 1 }
        return Dictionary(uniqueKeysWithValues: zip(taxonomy.behaviors, counts))
    }

    /// A one-line description: name, users × items, interactions per behavior.
    public var summary: String {
        let per = behaviorCounts().sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return "\(name): \(userCount) users × \(itemCount) items, \(interactions.count) interactions (\(per))"
    }
}
