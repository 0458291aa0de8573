import TacitData
import TacitTensor

/// The BPR training stream: every (user, positive item) pair of the target behavior once per epoch,
/// shuffled, each with a fresh uniformly sampled negative (models.md: resample every epoch).
/// Pairs may carry weights (HNT's hesitation pairs count β).
public struct PairBatches: Sendable {
    public let users: [Int32]
    public let items: [Int32]
    /// Per-pair loss weights; nil when every pair counts 1.
    public let weights: [Float]?
    public let sampler: NegativeSampler

    public init(target: UserItemMatrix) {
        let p = target.pairs()
        self.init(users: p.users, items: p.items, sampler: NegativeSampler(positives: target))
    }

    public init(users: [Int32], items: [Int32], weights: [Float]? = nil, sampler: NegativeSampler) {
        precondition(users.count == items.count && (weights?.count ?? users.count) == users.count)
        self.users = users
        self.items = items
        self.weights = weights
        self.sampler = sampler
    }

    public var pairCount: Int { users.count }

    /// One batch: users, positives, negatives.
    public struct Batch {
        public var users: [Int32]
        public var positives: [Int32]
        public var negatives: [Int32]
        /// The pairs' weights, when the stream has them (else empty).
        public var weights: [Float]
    }

    /// Calls `body` for each batch of an epoch (with the generator, for models that draw more);
    /// returns the mean of the losses it returns.
    public func forEachBatch(size: Int, rng: inout SeededRNG, _ body: (Batch, inout SeededRNG) -> Float) -> Float {
        var order = Array(0..<users.count)
        rng.shuffle(&order)
        var total: Double = 0
        var batches = 0
        var batch = Batch(users: [], positives: [], negatives: [], weights: [])
        var start = 0
        while start < order.count {
            let end = min(order.count, start + size)
            batch.users.removeAll(keepingCapacity: true)
            batch.positives.removeAll(keepingCapacity: true)
            batch.negatives.removeAll(keepingCapacity: true)
            batch.weights.removeAll(keepingCapacity: true)
            Profiler.measure(.sampling) {
                for k in order[start..<end] {
                    let u = users[k]
                    batch.users.append(u)
                    batch.positives.append(items[k])
                    batch.negatives.append(sampler.sample(for: u, rng: &rng))
                    if let weights { batch.weights.append(weights[k]) }
                }
            }
            total += Double(body(batch, &rng))
            batches += 1
            start = end
        }
        return batches == 0 ? 0 : Float(total / Double(batches))
    }
}
