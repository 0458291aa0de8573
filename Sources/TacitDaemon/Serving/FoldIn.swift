import Foundation
import TacitEval
import TacitTensor

/// User vectors between fine-tunes, from the items a user interacted with positively.
///
/// Fold-in vector f_u over the user's positive items N_u that the model knows (items new since the
/// snapshot are ignored until the next fine-tune), with e_i the item's final embedding:
/// - bpr:      f_u = (1/|N_u|) Σ_{i∈N_u} e_i                          (mean of the items)
/// - lightgcn: f_u = Σ_{i∈N_u} e_i / (√|N_u| · √max(1, d_i))           (one step of LightGCN eq. 7,
///   the symmetric-normalized neighbour sum, d_i the item's degree in the training graph)
///
/// Serving vector, for every user the model knows: v_u = (1 − w)·t_u + w·f_u·(‖t_u‖/‖f_u‖), t_u the
/// trained final vector; f_u is rescaled to t_u's norm so that w = `trainer.fold_in_weight` means the
/// same for every user. N_u is all of the user's positive items now, trained and new alike, so a new
/// event moves the list at once. The blend applies to users without new events too: in
/// `tacit backtest` on MovieLens-1M, lightgcn, it served better lists than t_u alone (NDCG@10 of
/// the next events 0.1951 at w = 0.5 vs 0.1707 at w = 0; README). A user new since the snapshot
/// gets v_u = f_u (its scale does not change their ranking), and so does a user whose trained row is zero
/// (left out of the fine-tune by `trainer.max_users`); w = 0 serves t_u.
enum FoldIn {
    /// The serving vector, or nil when the user is unknown and has no known positive items.
    static func vector(_ m: ServingEmbeddings, user: Int32, positives: [Int32], weight: Float) -> [Float]? {
        let d = m.dim
        // A zero row is a user the model has no vector for (outside its `TrainingWindow`): fold-in only.
        let row = Int(user) < m.userCount ? m.users[Int(user) * d..<(Int(user) + 1) * d] : []
        let trained: [Float]? = row.contains(where: { $0 != 0 }) ? Array(row) : nil
        if let trained, weight == 0 { return trained }
        let known = positives.filter { $0 >= 0 && Int($0) < m.itemCount && !m.unlisted.contains($0) }
        guard !known.isEmpty else { return trained }
        var f = [Float](repeating: 0, count: d)
        let lightgcn = !m.itemDegree.isEmpty
        let norm = lightgcn ? 1 / Float(known.count).squareRoot() : 1 / Float(known.count)
        m.items.withUnsafeBufferPointer { items in
            f.withUnsafeMutableBufferPointer { out in
                for i in known {
                    let scale = lightgcn ? norm / max(1, m.itemDegree[Int(i)]).squareRoot() : norm
                    BLAS.axpy(n: d, alpha: scale, x: items.baseAddress! + Int(i) * d, y: out.baseAddress!)
                }
            }
        }
        guard let trained else { return f }
        let tn = trained.reduce(0) { $0 + $1 * $1 }.squareRoot(), fn = f.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let s = fn > 0 ? weight * tn / fn : 0
        return zip(trained, f).map { (1 - weight) * $0 + s * $1 }
    }

    /// Top `k` items for user vector `u` over all items (`items · u` with BLAS sgemv), skipping
    /// `excluded`, best first, with scores.
    static func topK(_ m: ServingEmbeddings, vector u: [Float], k: Int, excluded: Set<Int32>) -> [ScoredItem] {
        topK(scores: scores(m, vector: u), k: k, excluded: excluded)
    }

    /// Every item's score for user vector `u` (`items · u`, BLAS sgemv); empty when the shapes do not fit.
    static func scores(_ m: ServingEmbeddings, vector u: [Float]) -> [Float] {
        guard m.itemCount > 0, m.dim > 0, u.count == m.dim else { return [] }
        var scores = [Float](repeating: 0, count: m.itemCount)
        m.items.withUnsafeBufferPointer { items in
            u.withUnsafeBufferPointer { x in
                scores.withUnsafeMutableBufferPointer { y in
                    BLAS.gemv(
                        trans: false,
                        m: m.itemCount,
                        n: m.dim,
                        alpha: 1,
                        a: items.baseAddress!,
                        lda: m.dim,
                        x: x.baseAddress!,
                        beta: 0,
                        y: y.baseAddress!
                    )
                }
            }
        }
        return scores
    }

    /// The `k` best of `scores` (one per item), skipping `excluded`, best first, with their scores.
    static func topK(scores: [Float], k: Int, excluded: Set<Int32>) -> [ScoredItem] {
        let top = scores.withUnsafeBufferPointer { Metrics.topK($0, k: k, excluded: { excluded.contains(Int32($0)) }) }
        return top.map { ScoredItem(item: $0, score: scores[Int($0)]) }
    }
}
