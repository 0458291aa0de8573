import Foundation
import Synchronization
import TacitStore

/// How much each item is being taken *now*: positive events counted with exponential decay, for a few
/// half-lives at once, measured in positive events (not seconds, so the window follows the traffic).
///
/// Why it exists: the lists a user meets are judged on what they take next, and what people take
/// drifts. In `tacit backtest`, popularity over the last few thousand positive events beats all-time
/// popularity by 50 % NDCG@10 on MovieLens-100k and 7 % on MovieLens-1M (README, "Backtesting"), while
/// every trained model learns the item prior of all its training data at once. `TrendPrior` adds the
/// current prior back to a model's scores, with a weight and half-life the trainer calibrates on the
/// newest held-out positives at each fine-tune.
struct TrendCounts: Sendable {
    /// The half-lives counted, in positive events.
    static let halfLives: [Double] = [1_000, 3_000, 10_000, 30_000, 100_000]
    /// Older events weigh less than 2⁻¹⁰ of the newest under the longest half-life: what a rebuild reads.
    static let horizon = 1_000_000

    /// Per half-life, per item: Σ 2^((n_e − base_h) / H_h) over the item's positive events, n_e the
    /// event's position in the stream of positive events; `base` is moved up to keep the sums finite.
    private var sums: [[Double]]
    private var base: [Double]
    /// Positive events counted.
    private(set) var clock: Double = 0
    /// Items counted so far: one past the highest item id seen (or the count it was made with).
    var itemCount: Int { sums[0].count }

    init(itemCount: Int = 0) {
        sums = Self.halfLives.map { _ in [Double](repeating: 0, count: itemCount) }
        base = Self.halfLives.map { _ in 0 }
    }

    /// Counts `events` (in stream order).
    init(events: some Sequence<Int32>, itemCount: Int) {
        self.init(itemCount: itemCount)
        for item in events { add(item) }
    }

    mutating func add(_ item: Int32) {
        guard item >= 0 else { return }
        clock += 1
        for h in sums.indices {
            if Int(item) >= sums[h].count { sums[h].append(contentsOf: repeatElement(0, count: Int(item) + 1 - sums[h].count)) }
            var exponent = (clock - base[h]) / Self.halfLives[h]
            if exponent > 500 {
                // Rescale before 2^exponent overflows a Double; ratios are unchanged.
                let scale = Foundation.exp2(-exponent)
                for i in sums[h].indices { sums[h][i] *= scale }
                base[h] = clock
                exponent = 0
            }
            sums[h][Int(item)] += Foundation.exp2(exponent)
        }
    }

    /// log(1 + decayed count) of items `0..<itemCount` under half-life `h` (an index into `halfLives`),
    /// standardized to mean 0 and standard deviation 1 over the items.
    func prior(halfLife h: Int, itemCount: Int) -> [Float] {
        let now = Foundation.exp2(-(clock - base[h]) / Self.halfLives[h])
        var values = [Float](repeating: 0, count: itemCount)
        for i in 0..<min(itemCount, sums[h].count) { values[i] = Float(Foundation.log1p(sums[h][i] * now)) }
        return Self.standardized(values)
    }

    /// The trend as the trainer judges candidates by it: the store's newest positive events without
    /// those of each user's held-out items, which the lists being judged must not have seen.
    static func excludingHeldOut(store: EventStore, heldOut: [[Int32]], itemCount: Int) throws -> TrendCounts {
        var held = Set<Int64>()
        for (u, items) in heldOut.enumerated() { for i in items { held.insert(Int64(u) << 32 | Int64(i)) } }
        let events = try store.positiveEvents(newest: horizon)
        return TrendCounts(
            events: events.lazy.filter { !held.contains(Int64($0.user) << 32 | Int64($0.item)) }.map(\.item),
            itemCount: itemCount
        )
    }

    static func standardized(_ v: [Float]) -> [Float] {
        let (mean, std) = meanAndStandardDeviation(v)
        guard std > 0 else { return [Float](repeating: 0, count: v.count) }
        return v.map { Float((Double($0) - mean) / std) }
    }

    /// Mean and (population) standard deviation of `v`, in Double; (0, 0) for an empty array.
    static func meanAndStandardDeviation(_ v: [Float]) -> (mean: Double, std: Double) {
        guard !v.isEmpty else { return (0, 0) }
        var mean = 0.0, squares = 0.0
        for x in v { mean += Double(x) }
        mean /= Double(v.count)
        for x in v { squares += (Double(x) - mean) * (Double(x) - mean) }
        return (mean, (squares / Double(v.count)).squareRoot())
    }
}

/// How a served model's scores take the trend in: `score / σ + weight · prior`, σ the standard deviation
/// of the user's scores over all items (so `weight` means the same for every model and user) and `prior`
/// the standardized log decayed count under `halfLife` (`TrendCounts.prior`). Weight 0 serves the model
/// alone. Chosen by the trainer at each fine-tune among `candidates` (`TrainerService`) and kept with the snapshot.
public struct TrendPrior: Sendable, Equatable, CustomStringConvertible {
    /// Index into `TrendCounts.halfLives`.
    public var halfLife: Int
    public var weight: Float

    /// The weights the trainer tries (with every half-life).
    static let weights: [Float] = [0.25, 0.5, 1, 2, 4]

    /// Every setting the trainer tries: the model alone first, then each half-life with each weight.
    static var candidates: [TrendPrior] {
        [TrendPrior(halfLife: 0, weight: 0)]
            + TrendCounts.halfLives.indices.flatMap { h in weights.map { TrendPrior(halfLife: h, weight: $0) } }
    }

    /// Snapshot metrics keys (`ServingEmbeddings.metrics`).
    static let halfLifeKey = "trend_half_life", weightKey = "trend_weight"

    init(halfLife: Int, weight: Float) {
        self.halfLife = halfLife
        self.weight = weight
    }

    /// The prior kept in a snapshot's metrics; nil when it has none (older snapshots, or the trend off).
    init?(metrics: [String: Double]) {
        guard let h = metrics[Self.halfLifeKey], let w = metrics[Self.weightKey], w > 0,
            let index = TrendCounts.halfLives.firstIndex(of: h)
        else { return nil }
        self.init(halfLife: index, weight: Float(w))
    }

    var metrics: [String: Double] { [Self.halfLifeKey: TrendCounts.halfLives[halfLife], Self.weightKey: Double(weight)] }

    public var description: String { "half-life \(Int(TrendCounts.halfLives[halfLife])) × \(weight)" }

    /// `scores` (one per item) with the prior added; `prior` from `TrendCounts.prior` under `halfLife`.
    func apply(_ scores: [Float], prior: [Float]) -> [Float] {
        guard weight > 0, !scores.isEmpty else { return scores }
        let std = Float(TrendCounts.meanAndStandardDeviation(scores).std)
        let scale: Float = std > 0 ? 1 / std : 1
        var out = scores
        for i in out.indices { out[i] = out[i] * scale + (i < prior.count ? weight * prior[i] : 0) }
        return out
    }
}

/// The live `TrendCounts` of a serving daemon: rebuilt from the store's newest positive events at start,
/// then told about every applied batch (reads the batch's positive events back by sequence number).
/// Thread-safe; each half-life's prior is computed at most once per batch.
public final class ItemTrend: IngestObserver, Sendable {
    let store: EventStore

    private struct State: Sendable {
        var counts: TrendCounts
        var throughSeq: Int64
        /// Per half-life: the prior as of the last batch (its length is the item count it covers).
        var cached: [Int: [Float]] = [:]
    }

    private let state: Mutex<State>

    public init(store: EventStore) throws {
        self.store = store
        let events = try store.positiveEvents(newest: TrendCounts.horizon)
        // The counts grow to the highest item seen; items without positive events get prior 0 either way.
        let counts = TrendCounts(events: events.lazy.map(\.item), itemCount: 0)
        state = Mutex(State(counts: counts, throughSeq: events.last?.seq ?? 0))
    }

    public func didApply(_ outcome: ApplyOutcome) {
        guard outcome.applied > 0 else { return }
        let after = state.withLock { $0.throughSeq }
        // Read outside the lock; a failed read is caught up with the next batch.
        guard let events = try? store.positiveEvents(afterSeq: after), let last = events.last else { return }
        state.withLock { s in
            guard s.throughSeq == after else { return }
            for e in events { s.counts.add(e.item) }
            s.throughSeq = last.seq
            s.cached.removeAll(keepingCapacity: true)
        }
    }

    /// The standardized prior of items `0..<itemCount` (nil: every item with a positive event so far)
    /// under `prior.halfLife`, as of the last applied batch.
    func prior(_ prior: TrendPrior, itemCount: Int? = nil) -> [Float] {
        state.withLock { s in
            let itemCount = itemCount ?? s.counts.itemCount
            if let p = s.cached[prior.halfLife], p.count == itemCount { return p }
            let p = s.counts.prior(halfLife: prior.halfLife, itemCount: itemCount)
            s.cached[prior.halfLife] = p
            return p
        }
    }
}
