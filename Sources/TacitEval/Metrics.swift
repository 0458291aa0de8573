import Foundation

/// Ranking metrics for one user (models.md, "Metrics"). All take the ranked list the model
/// produced (best first, cut at K or longer) and the user's relevant items.
public enum Metrics {
    /// The metric names reported for cut-offs `ks`.
    public static func names(ks: [Int]) -> [String] {
        ks.flatMap { k in ["HR@\(k)", "NDCG@\(k)", "Recall@\(k)", "Precision@\(k)", "MAP@\(k)", "MRR@\(k)"] }
    }

    /// Values of `names(ks:)` for one ranked list, in the same order.
    /// NDCG@K: DCG with gain 1/log2(rank + 2) (rank 0-based), ideal DCG over min(K, |relevant|) hits.
    /// MAP@K: Σ over hits at rank r ≤ K of precision@r, divided by min(K, |relevant|) (RecBole's).
    public static func values(ranked: ArraySlice<Int32>, relevant: Set<Int32>, ks: [Int]) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(ks.count * 6)
        for k in ks {
            var hits = 0, dcg = 0.0, ap = 0.0, rr = 0.0
            for (r, item) in ranked.prefix(k).enumerated() where relevant.contains(item) {
                hits += 1
                dcg += 1 / Foundation.log2(Double(r) + 2)
                ap += Double(hits) / Double(r + 1)
                if rr == 0 { rr = 1 / Double(r + 1) }
            }
            let ideal = min(k, relevant.count)
            var idcg = 0.0
            for r in 0..<ideal { idcg += 1 / Foundation.log2(Double(r) + 2) }
            out.append(hits > 0 ? 1 : 0)
            out.append(idcg > 0 ? dcg / idcg : 0)
            out.append(relevant.isEmpty ? 0 : Double(hits) / Double(relevant.count))
            out.append(Double(hits) / Double(k))
            out.append(ideal > 0 ? ap / Double(ideal) : 0)
            out.append(rr)
        }
        return out
    }

    /// AUC of one user's candidates: P(score of a positive > score of a negative), ties count ½.
    /// nil when either side is empty.
    public static func auc(positives: [Float], negatives: [Float]) -> Double? {
        guard !positives.isEmpty, !negatives.isEmpty else { return nil }
        let sortedNeg = negatives.sorted()
        var total = 0.0
        for p in positives {
            let below = lowerBound(sortedNeg, p)
            let notAbove = upperBound(sortedNeg, p)
            total += Double(below) + 0.5 * Double(notAbove - below)
        }
        return total / Double(positives.count * negatives.count)
    }

    /// Pooled AUC over (score, isPositive) pairs from all users (rank-sum formula, ties averaged).
    public static func pooledAUC(_ pairs: [(score: Float, positive: Bool)]) -> Double? {
        let nPos = pairs.reduce(0) { $0 + ($1.positive ? 1 : 0) }
        let nNeg = pairs.count - nPos
        guard nPos > 0, nNeg > 0 else { return nil }
        let sorted = pairs.sorted { $0.score < $1.score }
        var rankSum = 0.0
        var i = 0
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count && sorted[j + 1].score == sorted[i].score { j += 1 }
            let avgRank = Double(i + j) / 2 + 1
            for k in i...j where sorted[k].positive { rankSum += avgRank }
            i = j + 1
        }
        return (rankSum - Double(nPos) * Double(nPos + 1) / 2) / (Double(nPos) * Double(nNeg))
    }

    static func lowerBound(_ a: [Float], _ x: Float) -> Int {
        var lo = 0, hi = a.count
        while lo < hi {
            let m = (lo + hi) / 2
            if a[m] < x { lo = m + 1 } else { hi = m }
        }
        return lo
    }

    static func upperBound(_ a: [Float], _ x: Float) -> Int {
        var lo = 0, hi = a.count
        while lo < hi {
            let m = (lo + hi) / 2
            if a[m] <= x { lo = m + 1 } else { hi = m }
        }
        return lo
    }

    /// Indices of the `k` largest scores, best first; ties go to the lower index.
    /// `excluded` positions are never returned.
    public static func topK(_ scores: UnsafeBufferPointer<Float>, k: Int, excluded: (Int) -> Bool) -> [Int32] {
        var best: [(Float, Int32)] = []
        best.reserveCapacity(k + 1)
        for i in 0..<scores.count {
            let s = scores[i]
            if best.count == k, let last = best.last, !(s > last.0) { continue }
            if excluded(i) { continue }
            var pos = best.count
            while pos > 0 && best[pos - 1].0 < s { pos -= 1 }
            best.insert((s, Int32(i)), at: pos)
            if best.count > k { best.removeLast() }
        }
        return best.map(\.1)
    }
}
