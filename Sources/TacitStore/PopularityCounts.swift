/// Positive events per item, in memory: the popularity ranking.
///
/// Loaded from `items.positive_count` at open and moved by each committed batch, so ranking items does not
/// need an index on that column, which SQLite would rewrite for every positive event. The ranking is
/// recomputed lazily, at most once per batch, and only its head (the longest prefix asked for so far, at
/// least `minimumHead`) is kept: O(items · log head) per batch when popularity is served, nothing otherwise.
struct PopularityCounts {
    static let minimumHead = 256

    /// By dense item id.
    private var counts: [Int64] = []
    /// Items with positive counts, most first, ties by id; valid while `head != nil`.
    private var head: [Int32]?
    private var headLength = minimumHead

    /// Adds per-item deltas of a committed batch.
    mutating func add(_ deltas: [Int32: Int64]) {
        guard !deltas.isEmpty else { return }
        for (item, d) in deltas {
            let i = Int(item)
            if i >= counts.count { counts.append(contentsOf: repeatElement(0, count: i + 1 - counts.count)) }
            counts[i] += d
        }
        head = nil
    }

    /// The `limit` most popular items with their counts (fewer if fewer items have positive events).
    mutating func top(_ limit: Int) -> [(item: Int32, positives: Int64)] {
        guard limit > 0 else { return [] }
        if head == nil || limit > headLength {
            headLength = max(headLength, limit)
            head = Self.rank(counts, keep: headLength)
        }
        return head!.prefix(limit).map { ($0, counts[Int($0)]) }
    }

    /// The `keep` items with the largest positive counts, ordered; one pass with a sorted buffer.
    private static func rank(_ counts: [Int64], keep: Int) -> [Int32] {
        func before(_ a: Int32, _ b: Int32) -> Bool {
            let ca = counts[Int(a)], cb = counts[Int(b)]
            return ca != cb ? ca > cb : a < b
        }
        var best: [Int32] = []
        best.reserveCapacity(min(keep, counts.count) + 1)
        for (i, c) in counts.enumerated() where c > 0 {
            let item = Int32(i)
            if best.count == keep, !before(item, best[keep - 1]) { continue }
            // Binary search for the insertion point.
            var lo = 0, hi = best.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if before(best[mid], item) { lo = mid + 1 } else { hi = mid }
            }
            best.insert(item, at: lo)
            if best.count > keep { best.removeLast() }
        }
        return best
    }
}
