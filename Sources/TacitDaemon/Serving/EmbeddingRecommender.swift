import Synchronization
import TacitData
import TacitStore

/// Serves top-K lists from the promoted embedding model (`bpr`, `lightgcn`): scores are dot
/// products of the user's serving vector with every item's final embedding (BLAS sgemv), plus the
/// trend (`TrendPrior`) and the lift of the user's newest hesitations (`HesitationLift`).
///
/// Freshness between fine-tunes: as an `IngestObserver` it drops the cached vectors of users
/// touched by a batch; their next list recomputes the vector from their stored events with
/// `FoldIn.vector`, so new events show at once. The cache holds at most `cacheCapacity` users
/// (oldest inserted evicted first). Until a model is promoted, and for users it cannot place
/// (new, without positive events on known items), lists come from the popularity baseline.
///
/// Thread-safe: the model is an immutable `ServingEmbeddings` swapped under a mutex.
public final class EmbeddingRecommender: RecommendationSource, IngestObserver {
    public let modelName: String
    let store: EventStore
    let foldInWeight: Float
    let cacheCapacity: Int
    let fallback: PopularityRecommender
    /// The current item prior a promoted model's `TrendPrior` adds to its scores (nil: trend off).
    public let trend: ItemTrend?
    /// The user's newest hesitations lifted in the list (nil: off, or no auxiliary behaviors).
    public let lift: HesitationLift?

    /// What a list needs of a user besides the model: kept per user until their next event.
    private struct UserState {
        var vector: [Float]
        /// `lift`'s items for the user (empty without a lift).
        var lifted: [Int32]
    }

    private struct State: ~Copyable {
        var model: ServingEmbeddings?
        var cache: [Int32: UserState] = [:]
        /// Insertion order of `cache` keys (may hold keys already removed), for FIFO eviction.
        var order: [Int32] = []
        var orderHead = 0
        /// Bumped by every batch and swap: a vector computed before a bump is not cached.
        var generation: UInt64 = 0
    }

    private let state: Mutex<State>

    /// Loads the newest promoted snapshot of `model` from the store, if any, so a restarted
    /// daemon serves it before the first fine-tune.
    public init(
        model: String,
        store: EventStore,
        foldInWeight: Double,
        cacheCapacity: Int,
        trend: Bool = false,
        lift: HesitationLift? = nil
    ) throws {
        modelName = model
        self.lift = lift
        self.trend = trend ? try ItemTrend(store: store) : nil
        self.store = store
        self.foldInWeight = Float(foldInWeight)
        self.cacheCapacity = max(1, cacheCapacity)
        fallback = PopularityRecommender(store: store)
        let loaded = try store.latestPromotedSnapshot(model: model).flatMap(ServingEmbeddings.init(snapshot:))
        state = Mutex(State(model: loaded))
    }

    /// The promoted model, if any.
    public var model: ServingEmbeddings? { state.withLock { $0.model } }

    /// Swaps in a promoted model (atomically; cached vectors are dropped).
    public func install(_ model: ServingEmbeddings) {
        state.withLock { s in
            s.model = model
            s.cache.removeAll(keepingCapacity: true)
            s.order.removeAll(keepingCapacity: true)
            s.orderHead = 0
            s.generation &+= 1
        }
    }

    public var currentModel: ModelIdentity { model?.identity ?? fallback.currentModel }

    /// Number of cached user vectors (for tests and metrics).
    public var cachedUsers: Int { state.withLock { $0.cache.count } }

    public func didApply(_ outcome: ApplyOutcome) {
        trend?.didApply(outcome)
        guard !outcome.touchedUsers.isEmpty else { return }
        state.withLock { s in
            s.generation &+= 1
            for u in outcome.touchedUsers { s.cache[u.id] = nil }
        }
    }

    public func recommend(user: Int32, k: Int, excluding excluded: Set<Int32>, explain: Bool) throws -> Recommendations? {
        let (model, cached, generation) = state.withLock { s in (s.model, s.model == nil ? nil : s.cache[user], s.generation) }
        guard let model else { return try fallback.recommend(user: user, k: k, excluding: excluded) }
        // Items the model has no embedding for (one laid out over this store's items) are never listed.
        let hidden = model.unlisted.isEmpty ? excluded : excluded.union(model.unlisted)
        if let sequence = model.sequence {
            // Sequential models: the user's current history, re-encoded now (nothing to cache).
            let events = try store.sequence(user: user)
            let history = sequence.history(events, user: user)
            let lifted = lift?.items(events) ?? []
            let trended = withTrend(model)
            let adjust = { (scores: [Float]) in self.lift?.apply(trended(scores), items: lifted) ?? trended(scores) }
            guard let scores = sequence.scores(history: history).map(adjust) else {
                return try fallback.recommend(user: user, k: k, excluding: excluded)
            }
            let items = FoldIn.topK(scores: scores, k: k, excluded: hidden)
            let explanation =
                explain
                ? Self.explainSequence(sequence, history: history, scores: scores, adjust: adjust, listed: items, excluded: hidden) : nil
            return Recommendations(items: items, model: model.identity, explanation: explanation)
        }
        // The user's positive items, read from the store at most once per list.
        var positives: [Int32]?
        var known = cached
        if known == nil {
            let events = try store.sequence(user: user)
            positives = Self.positives(events)
            if let v = FoldIn.vector(model, user: user, positives: positives ?? [], weight: foldInWeight) {
                let fresh = UserState(vector: v, lifted: lift?.items(events) ?? [])
                remember(user, fresh, generation: generation, model: model)
                known = fresh
            }
        }
        guard let known else { return try fallback.recommend(user: user, k: k, excluding: excluded) }
        var scores = withTrend(model)(FoldIn.scores(model, vector: known.vector))
        if let lift { scores = lift.apply(scores, items: known.lifted) }
        let items = FoldIn.topK(scores: scores, k: k, excluded: hidden)
        guard explain else { return Recommendations(items: items, model: model.identity) }
        let taken = try positives ?? Self.positives(try store.sequence(user: user))
        return Recommendations(
            items: items,
            model: model.identity,
            explanation: Self.explainEmbedding(model, user: user, positives: taken, listed: items)
        )
    }

    /// What turns `model`'s scores into served scores: its `TrendPrior` over the current trend, if it has one.
    func withTrend(_ model: ServingEmbeddings) -> ([Float]) -> [Float] {
        guard let prior = model.trendPrior, let trend else { return { $0 } }
        let values = trend.prior(prior, itemCount: model.itemCount)
        return { prior.apply($0, prior: values) }
    }

    /// The items a user took positively, newest first, leaving out those whose newest feedback is an explicit
    /// negative: what fold-in (`FoldIn.vector`) and "because" read.
    static func positives(_ events: [SequenceEvent]) -> [Int32] {
        var newest: [Int32: Int] = [:]
        for (k, e) in events.enumerated() {
            guard let raw = e.feedback, let kind = FeedbackKind(rawValue: raw) else { continue }
            if kind.isPositive { newest[e.item] = k } else if kind == .explicitNegative { newest[e.item] = nil }
        }
        return newest.sorted { $0.value > $1.value }.map(\.key)
    }

    /// HNT: the user's auxiliary-only items with their conversion probabilities. For each listed item, the
    /// user's positive item most similar to it (cosine), among their newest 200 (`positives`, newest first).
    static func explainEmbedding(_ model: ServingEmbeddings, user: Int32, positives all: [Int32], listed: [ScoredItem]) -> Explanation {
        var explanation = Explanation()
        if let conversion = model.conversion {
            explanation.hesitation = conversion.row(user: user).prefix(Explanation.limit)
                .map { Explanation.Hesitation(item: $0.item, probability: $0.probability) }
        }
        // The newest positives are the likeliest reasons; the cap bounds the cost for long histories.
        let positives = Array(all.lazy.filter { $0 >= 0 && Int($0) < model.itemCount }.prefix(200))
        guard !positives.isEmpty else { return explanation }
        let d = model.dim
        // Cosine, not the dot product: with dot products a few popular items of large norm would be the
        // reason for every list (seen in the demo: one item for 8 of 10).
        model.items.withUnsafeBufferPointer { table in
            func norm(_ row: Int32) -> Float {
                var s: Float = 0
                for j in 0..<d { s += table[Int(row) * d + j] * table[Int(row) * d + j] }
                return s.squareRoot()
            }
            let positiveNorms = positives.map(norm)
            for item in listed.map(\.item) {
                var best = positives[0], bestScore = -Float.infinity
                let a = Int(item) * d, itemNorm = norm(item)
                for (p, pNorm) in zip(positives, positiveNorms) where p != item {
                    let b = Int(p) * d
                    var dot: Float = 0
                    for j in 0..<d { dot += table[a + j] * table[b + j] }
                    let cosine = dot / max(itemNorm * pNorm, .leastNormalMagnitude)
                    if cosine > bestScore { (best, bestScore) = (p, cosine) }
                }
                if bestScore > -.infinity { explanation.because.append(Explanation.Because(item: item, because: best)) }
            }
        }
        return explanation
    }

    /// A sequential model's list (`listed`, from `scores` of `history`) explained by counterfactual: the newest
    /// negatives it read, and the history without its negative events scored again; the items in that list
    /// and not in the served one are what the negatives pushed down.
    static func explainSequence(
        _ sequence: SequenceScorer,
        history: [Interaction],
        scores: [Float],
        adjust: ([Float]) -> [Float] = { $0 },
        listed: [ScoredItem],
        excluded: Set<Int32>
    ) -> Explanation {
        let isNegative = { (e: Interaction) in FeedbackKind(rawValue: Int(e.behavior)).map { !$0.isPositive } ?? false }
        var explanation = Explanation()
        explanation.negatives = history.filter(isNegative).suffix(Explanation.limit).reversed().map {
            Explanation.Negative(
                item: $0.item,
                feedback: FeedbackKind(rawValue: Int($0.behavior)) ?? .implicitNegative,
                timestampMs: $0.timestamp * 1000
            )
        }
        guard !explanation.negatives.isEmpty, let without = sequence.scores(history: history.filter { !isNegative($0) }).map(adjust)
        else { return explanation }
        let shown = Set(listed.map(\.item))
        let counterfactual = FoldIn.topK(scores: without, k: listed.count, excluded: excluded)
        for (rank, s) in counterfactual.enumerated() where !shown.contains(s.item) {
            explanation.pushedDown.append(
                Explanation.PushedDown(
                    item: s.item,
                    rankWithout: rank + 1,
                    scoreWithout: s.score,
                    score: scores[Int(s.item)]
                )
            )
        }
        return explanation
    }

    private func remember(_ user: Int32, _ userState: UserState, generation: UInt64, model: ServingEmbeddings) {
        state.withLock { s in
            guard s.generation == generation, s.model === model else { return }
            if s.cache.count >= cacheCapacity {
                while s.orderHead < s.order.count {
                    let old = s.order[s.orderHead]
                    s.orderHead += 1
                    if s.cache.removeValue(forKey: old) != nil { break }
                }
            }
            if s.order.count - s.orderHead > 2 * cacheCapacity + 64 {
                // Re-inserted users leave stale entries behind: compact, keeping each cached
                // user's newest position, so the order stays bounded by the capacity.
                var seen = Set<Int32>(), kept: [Int32] = []
                for u in s.order[s.orderHead...].reversed() where s.cache[u] != nil && seen.insert(u).inserted { kept.append(u) }
                s.order = kept.reversed()
                s.orderHead = 0
            } else if s.orderHead > cacheCapacity + 64 {
                s.order.removeFirst(s.orderHead)
                s.orderHead = 0
            }
            s.cache[user] = userState
            s.order.append(user)
        }
    }
}
