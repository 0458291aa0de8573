import Foundation
import TacitData
import TacitModels
import TacitTensor

/// Scores a model on a split's validation or test side under a protocol, returning metric → value
/// averaged over the users that have held-out items.
public struct Evaluator: Sendable {
    public enum Side: String, Sendable { case validation, test }

    public let split: Split
    public let evaluationProtocol: EvaluationProtocol
    /// Cut-offs reported.
    public let ks: [Int]
    /// Users scored per batch in full ranking (bounds memory at users × items floats).
    public var userBatch = 512
    /// Each user's training interactions in time order: what a sequential model encodes.
    let trainHistories: [[Interaction]]

    public init(split: Split, protocol evaluationProtocol: EvaluationProtocol, ks: [Int] = [5, 10, 20]) {
        self.split = split
        self.evaluationProtocol = evaluationProtocol
        self.ks = ks
        trainHistories = split.train.histories()
    }

    /// Scores of all items for `users` on `side`. A sequential model encodes each user's history up to
    /// the held-out point: training, plus at test the validation events, which come before the test's.
    func scores(_ model: Recommender, users: [Int32], side: Side) -> [Float] {
        guard let sequential = model as? SequenceRecommender else { return model.scores(users: users) }
        return sequential.scores(
            histories: users.map { u in
                let train = trainHistories[Int(u)]
                guard side == .test, !split.validationEvents[Int(u)].isEmpty else { return train }
                return (train + split.validationEvents[Int(u)]).enumerated()
                    .sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }.map(\.element)
            }
        )
    }

    public func evaluate(_ model: Recommender, on side: Side) -> [String: Double] {
        switch evaluationProtocol.candidates {
        case .allItems(let mask): return fullRanking(model, side: side, maskHistory: mask)
        case .sampled: return sampled(model, side: side)
        case .heldOutWindow: return window(model, side: side)
        }
    }

    // MARK: - Full ranking

    /// Ranks all items for every user with held-out items; `relevant` overrides which held-out items
    /// count (SINE's windows: the positive, not the skips).
    func fullRanking(_ model: Recommender, side: Side, maskHistory: Bool, relevant: [[Int32]]? = nil) -> [String: Double] {
        let heldOut = relevant ?? (side == .test ? split.test : split.validation)
        let users = side == .test ? split.testUsers : split.validationUsers
        // EmoRec's polarity measure: the share of the top K that the user rated negatively (implicit or
        // explicit negative) in the held-out window; lower is better.
        let negatives = evaluationProtocol == .leaveLast10 ? heldOutNegatives(side) : nil
        let names = Metrics.names(ks: ks) + (negatives == nil ? [] : ks.map { "NegShare@\($0)" })
        let maxK = ks.max() ?? 10
        let itemCount = model.itemCount
        let history = split.train.target
        var totals = [Double](repeating: 0, count: names.count)
        var start = 0
        while start < users.count {
            let chunk = Array(users[start..<min(users.count, start + userBatch)])
            let scores = self.scores(model, users: chunk, side: side)
            var perUser = [[Double]](repeating: [], count: chunk.count)
            scores.withUnsafeBufferPointer { all in
                perUser.withUnsafeMutableBufferPointer { out in
                    Compute.parallelFor(chunk.count, minChunk: 16) { range in
                        for r in range {
                            let u = chunk[r]
                            let row = UnsafeBufferPointer(rebasing: all[(r * itemCount)..<((r + 1) * itemCount)])
                            // At test time the validation items are history too.
                            let extra = side == .test && maskHistory ? Set(split.validation[Int(u)]) : []
                            let top = Metrics.topK(row, k: maxK) { i in
                                maskHistory && (history.contains(u, Int32(i)) || extra.contains(Int32(i)))
                            }
                            out[r] = Metrics.values(ranked: top[...], relevant: Set(heldOut[Int(u)]), ks: ks)
                            if let negatives {
                                let bad = negatives[Int(u)]
                                for k in ks { out[r].append(Double(top.prefix(k).filter { bad.contains($0) }.count) / Double(k)) }
                            }
                        }
                    }
                }
            }
            for v in perUser { for k in v.indices { totals[k] += v[k] } }
            start += chunk.count
        }
        var result: [String: Double] = [:]
        for (k, name) in names.enumerated() { result[name] = users.isEmpty ? 0 : totals[k] / Double(users.count) }
        result["users"] = Double(users.count)
        return result
    }

    /// Per user, the held-out items of `side` whose feedback is negative.
    func heldOutNegatives(_ side: Side) -> [Set<Int32>] {
        let taxonomy = split.dataset.taxonomy
        return (side == .test ? split.testEvents : split.validationEvents).map { events in
            Set(events.filter { !taxonomy.feedback(of: $0).isPositive }.map(\.item))
        }
    }

    // MARK: - Sampled candidates (HNT/CML)

    func sampled(_ model: Recommender, side: Side) -> [String: Double] {
        let heldOut = side == .test ? split.test : split.validation
        guard let negatives = side == .test ? split.testNegatives : split.validationNegatives else {
            preconditionFailure("sampled protocol without sampled negatives")
        }
        let users = side == .test ? split.testUsers : split.validationUsers
        return rankCandidates(model, side: side, users: users, positives: { heldOut[Int($0)] }, negatives: { negatives[Int($0)] })
    }

    /// Ranks each user's positives among their negatives. Ties rank the positive below the
    /// negative (pessimistic), so a model that scores everything equal earns nothing.
    func rankCandidates(
        _ model: Recommender,
        side: Side,
        users: [Int32],
        positives: (Int32) -> [Int32],
        negatives: (Int32) -> [Int32],
        untruncatedNDCG: Bool = false
    ) -> [String: Double] {
        let names = Metrics.names(ks: ks)
        var totals = [Double](repeating: 0, count: names.count)
        var aucSum = 0.0, aucUsers = 0, gaucSum = 0.0, gaucUsers = 0, ndcgFull = 0.0
        var pooled: [(score: Float, positive: Bool)] = []
        var start = 0
        while start < users.count {
            let chunk = Array(users[start..<min(users.count, start + userBatch)])
            let scores = self.scores(model, users: chunk, side: side)
            let n = model.itemCount
            for (r, u) in chunk.enumerated() {
                let pos = positives(u), neg = negatives(u)
                let ps = pos.map { scores[r * n + Int($0)] }, ns = neg.map { scores[r * n + Int($0)] }
                var cands = zip(pos, ps).map { ($0, $1, true) } + zip(neg, ns).map { ($0, $1, false) }
                cands.sort { $0.1 != $1.1 ? $0.1 > $1.1 : (!$0.2 && $1.2) }
                let ranked = cands.map(\.0)
                let values = Metrics.values(ranked: ranked[...], relevant: Set(pos), ks: ks)
                for k in values.indices { totals[k] += values[k] }
                if let a = Metrics.auc(positives: ps, negatives: ns) {
                    aucSum += a
                    aucUsers += 1
                    if neg.count >= 2 {
                        gaucSum += a
                        gaucUsers += 1
                    }
                }
                if untruncatedNDCG, let firstHit = cands.firstIndex(where: \.2) {
                    ndcgFull += 1 / log2(Double(firstHit) + 2)
                }
                for k in ps.indices { pooled.append((ps[k], true)) }
                for k in ns.indices { pooled.append((ns[k], false)) }
            }
            start += chunk.count
        }
        var result: [String: Double] = [:]
        for (k, name) in names.enumerated() { result[name] = users.isEmpty ? 0 : totals[k] / Double(users.count) }
        result["AUC"] = Metrics.pooledAUC(pooled) ?? 0
        result["GAUC"] = gaucUsers == 0 ? 0 : gaucSum / Double(gaucUsers)
        result["users"] = Double(users.count)
        if untruncatedNDCG { result["NDCG(untruncated)"] = users.isEmpty ? 0 : ndcgFull / Double(users.count) }
        return result
    }

    // MARK: - SINE's windows

    func window(_ model: Recommender, side: Side) -> [String: Double] {
        let events = side == .test ? split.testEvents : split.validationEvents
        let positive = split.dataset.taxonomy.targetCode
        let users = side == .test ? split.testUsers : split.validationUsers
        // Per user: the held-out positive(s), and the skips of the window that are not also positives.
        let positives = events.map { Split.uniqueItems($0.filter { $0.behavior == positive }) }
        let skips = events.indices.map { u in
            Split.uniqueItems(events[u].filter { $0.behavior != positive }, excluding: Set(positives[u]))
        }
        // AUC, GAUC and untruncated NDCG within the windows (the reference code's measures); HR/NDCG/…@K
        // from ranking the held-out positive among all items with history masked.
        let windowed = rankCandidates(
            model,
            side: side,
            users: users,
            positives: { positives[Int($0)] },
            negatives: { skips[Int($0)] },
            untruncatedNDCG: true
        )
        var result = fullRanking(model, side: side, maskHistory: true, relevant: positives)
        for key in ["AUC", "GAUC", "NDCG(untruncated)"] { result[key] = windowed[key] }
        return result
    }
}
