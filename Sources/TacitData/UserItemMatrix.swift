/// Which items each user touched, as sorted unique lists in CSR form: the membership test behind
/// negative sampling and masking, and the edge list behind graph propagation.
public struct UserItemMatrix: Sendable {
    public let userCount: Int
    public let itemCount: Int
    /// `rowStart[u] ..< rowStart[u + 1]` indexes user u's items in `items`.
    public let rowStart: [Int]
    /// Item indices, sorted within each user.
    public let items: [Int32]

    /// Builds from (user, item) pairs; duplicates collapse.
    public init(userCount: Int, itemCount: Int, users: [Int32], items: [Int32]) {
        precondition(users.count == items.count)
        self.userCount = userCount
        self.itemCount = itemCount
        var counts = [Int](repeating: 0, count: userCount + 1)
        for u in users { counts[Int(u) + 1] += 1 }
        for u in 0..<userCount { counts[u + 1] += counts[u] }
        var fill = counts
        var flat = [Int32](repeating: 0, count: items.count)
        for k in 0..<users.count {
            let u = Int(users[k])
            flat[fill[u]] = items[k]
            fill[u] += 1
        }
        var start = [Int](repeating: 0, count: userCount + 1)
        var out: [Int32] = []
        out.reserveCapacity(flat.count)
        for u in 0..<userCount {
            let row = flat[counts[u]..<counts[u + 1]].sorted()
            var last: Int32 = -1
            for i in row where i != last {
                out.append(i)
                last = i
            }
            start[u + 1] = out.count
        }
        rowStart = start
        self.items = out
    }

    /// User u's items (sorted).
    @inlinable
    public func items(of u: Int32) -> ArraySlice<Int32> { items[rowStart[Int(u)]..<rowStart[Int(u) + 1]] }

    public var nonZeros: Int { items.count }

    /// Whether user u touched item i (binary search).
    @inlinable
    public func contains(_ u: Int32, _ i: Int32) -> Bool {
        var lo = rowStart[Int(u)], hi = rowStart[Int(u) + 1]
        while lo < hi {
            let mid = (lo + hi) >> 1
            let v = items[mid]
            if v == i { return true }
            if v < i { lo = mid + 1 } else { hi = mid }
        }
        return false
    }

    /// (users, items) of every pair, user-major.
    public func pairs() -> (users: [Int32], items: [Int32]) {
        var us = [Int32](repeating: 0, count: items.count)
        for u in 0..<userCount { for k in rowStart[u]..<rowStart[u + 1] { us[k] = Int32(u) } }
        return (us, items)
    }

    /// Number of users touching each item.
    public func itemDegrees() -> [Int] {
        var d = [Int](repeating: 0, count: itemCount)
        for i in items { d[Int(i)] += 1 }
        return d
    }
}
