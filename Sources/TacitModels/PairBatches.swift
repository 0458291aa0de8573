import TacitData
import TacitTensor

/// The BPR training stream: every (user, positive item) pair of the target behavior once per epoch,
/// shuffled, each with a fresh uniformly sampled negative (models.md: resample every epoch).
public struct PairBatches: Sendable {
    public let users: [Int32]
    public let items: [Int32]
    public let sampler: NegativeSampler

    public init(target: UserItemMatrix) {
        let p = target.pairs()
        users = p.users
        items = p.items
        sampler = NegativeSampler(positives: target)
    }

    public var pairCount: Int { users.count }

    /// One batch: users, positives, negatives.
    public struct Batch {
        public var users: [Int32]
        public var positives: [Int32]
        public var negatives: [Int32]
    }

    /// Calls `body` for each batch of an epoch; returns the mean of the losses it returns.
    public func forEachBatch(size: Int, rng: inout SeededRNG, _ body: (Batch) -> Float) -> Float {
        var order = Array(0..<users.count)
        rng.shuffle(&order)
        var total: Double = 0
        var batches = 0
        var batch = Batch(users: [], positives: [], negatives: [])
        var start = 0
        while start < order.count {
            let end = min(order.count, start + size)
            batch.users.removeAll(keepingCapacity: true)
            batch.positives.removeAll(keepingCapacity: true)
            batch.negatives.removeAll(keepingCapacity: true)
            Profiler.measure(.sampling) {
                for k in order[start..<end] {
                    let u = users[k]
                    batch.users.append(u)
                    batch.positives.append(items[k])
                    batch.negatives.append(sampler.sample(for: u, rng: &rng))
                }
            }
            total += Double(body(batch))
            batches += 1
            start = end
        }
        return batches == 0 ? 0 : Float(total / Double(batches))
    }
}
