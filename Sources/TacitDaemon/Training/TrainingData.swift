import TacitData
import TacitModels
import TacitStore

/// The trainer's view of the store: every user's distinct positive items (events whose feedback is
/// explicit or implicit positive, any behavior) in time order, split into training items and a
/// held-out recent slice, as of one event sequence number.
///
/// The held-out slice is each user's newest `holdoutFraction` of positive items (at least one for
/// users with two or more), cut down to the items the serving model has never seen (`unseenAfter`):
/// candidate and serving model are then compared on items neither trained on, and everything the
/// serving model already knows is training data. An item stays held out only until a candidate is
/// promoted, and after a promotion the trainer retrains on everything (`withHeldOutInTraining`).
struct TrainingData: Sendable {
    struct Positive: Sendable, Equatable {
        var item: Int32
        /// The newest positive event on the item, and the first (since the last dislike).
        var seq: Int64
        var firstSeq: Int64
        var timestampMs: Int64
        /// The behaviors of the user's positive events on the item, first seen first.
        var behaviors: [String] = []
    }

    let userCount: Int
    let itemCount: Int
    /// Events with `seq ≤ throughSeq` were read.
    let throughSeq: Int64
    /// Per user: training positives, oldest first.
    let train: [[Positive]]
    /// Per user: held-out positives (empty for most users with a single positive).
    let heldOut: [[Positive]]
    /// Per user: the time-ordered feedback before their first held-out positive, behavior = feedback
    /// kind (`SequenceScorer.feedbackTaxonomy`), without the held-out items.
    let sequences: [[Interaction]]
    /// Per user: all of their time-ordered feedback (the sequences once nothing is held out).
    let fullSequences: [[Interaction]]

    /// Users with at least one training positive.
    var activeUsers: Int { train.reduce(0) { $0 + ($1.isEmpty ? 0 : 1) } }

    /// Reads the store (one read per user; sequences are bounded by `store.max_sequence_length`).
    /// `unseenAfter`: the serving model's `eventsThroughSeq`; only items whose first positive event
    /// came later are held out (nil: no serving model, the newest items are held out).
    static func load(store: EventStore, holdoutFraction: Double, unseenAfter: Int64? = nil) throws -> TrainingData {
        let counts = try store.counts()
        let through = counts.lastSeq
        var train: [[Positive]] = [], held: [[Positive]] = [], sequences: [[Interaction]] = [], full: [[Interaction]] = []
        train.reserveCapacity(counts.users)
        held.reserveCapacity(counts.users)
        sequences.reserveCapacity(counts.users)
        full.reserveCapacity(counts.users)
        for u in 0..<counts.users {
            var latest: [Int32: Positive] = [:]
            var disliked = Set<Int32>()
            var feedback: [(event: Interaction, seq: Int64, timestampMs: Int64)] = []
            let events = try store.sequence(user: Int32(u))
            let evicted = try evictedItems(store, user: Int32(u), kept: events)
            for e in events where e.seq <= through && e.item < Int32(counts.items) {
                guard let event = SequenceScorer.interaction(e, user: Int32(u)), let raw = e.feedback,
                    let kind = FeedbackKind(rawValue: raw)
                else { continue }
                feedback.append((event, e.seq, e.timestampMs))
                if kind.isPositive {
                    var behaviors = latest[e.item]?.behaviors ?? []
                    if !behaviors.contains(e.behavior) { behaviors.append(e.behavior) }
                    latest[e.item] = Positive(
                        item: e.item,
                        seq: e.seq,
                        firstSeq: latest[e.item]?.firstSeq ?? (evicted.contains(e.item) && !disliked.contains(e.item) ? 0 : e.seq),
                        timestampMs: e.timestampMs,
                        behaviors: behaviors
                    )
                    disliked.remove(e.item)
                } else if kind == .explicitNegative {
                    // A later dislike cancels an earlier positive.
                    latest[e.item] = nil
                    disliked.insert(e.item)
                }
            }
            let ordered = latest.values.sorted { ($0.timestampMs, $0.seq) < ($1.timestampMs, $1.seq) }
            var holdCount = ordered.count >= 2 ? max(1, Int(Double(ordered.count) * holdoutFraction)) : 0
            if let unseenAfter {
                // Only the newest run of items the serving model never saw.
                holdCount = ordered.suffix(holdCount).reversed().prefix { $0.firstSeq > unseenAfter }.count
            }
            train.append(Array(ordered.dropLast(holdCount)))
            held.append(Array(ordered.suffix(holdCount)))
            let all = feedback.map(\.event)
            full.append(all)
            if held[u].isEmpty {
                // The same array, so the two share one buffer: most users have nothing held out once a
                // model is serving, and copying their sequences would double the round's memory.
                sequences.append(all)
            } else {
                // The sequence stops where the held-out slice starts (the first held-out item's own newest
                // positive event) and never shows a held-out item.
                let heldItems = Set(held[u].map(\.item))
                let cut = held[u].map { ($0.timestampMs, $0.seq) }.min { $0 < $1 }
                sequences.append(
                    feedback.filter { f in
                        !heldItems.contains(f.event.item) && cut.map { (f.timestampMs, f.seq) < $0 } ?? true
                    }.map(\.event)
                )
            }
        }
        return TrainingData(
            userCount: counts.users,
            itemCount: counts.items,
            throughSeq: through,
            train: train,
            heldOut: held,
            sequences: sequences,
            fullSequences: full
        )
    }

    /// Items the user took before their kept sequence begins (`store.max_sequence_length` keeps the newest events
    /// only): taken again later, such an item looks new in the sequence, yet a model trained earlier may have
    /// learned it, so it must not be held out as unseen (`firstSeq` 0). Without that, every candidate was judged
    /// on items the serving model had trained on, and lost: a soak replaying MovieLens-1M stopped promoting once
    /// its users' histories outgrew the sequence.
    private static func evictedItems(_ store: EventStore, user: Int32, kept: [SequenceEvent]) throws -> Set<Int32> {
        guard kept.count >= store.configuration.maxSequenceLength else { return [] }
        var inSequence: [Int32: Int64] = [:]
        for e in kept { inSequence[e.item, default: 0] += 1 }
        var evicted = Set<Int32>()
        for (item, total) in try store.itemEventCounts(user: user) where total > inSequence[item, default: 0] { evicted.insert(item) }
        return evicted
    }

    /// The same data with every held-out item back in training, in time order: what a promoted
    /// candidate is retrained on.
    func withHeldOutInTraining() -> TrainingData {
        // The held-out slice is the newest suffix of the time-ordered positives.
        let merged = zip(train, heldOut).map { $0 + $1 }
        return TrainingData(
            userCount: userCount,
            itemCount: itemCount,
            throughSeq: throughSeq,
            train: merged,
            heldOut: Array(repeating: [], count: userCount),
            sequences: fullSequences,
            fullSequences: fullSequences
        )
    }

    /// The learning core's training set: each of `auxiliary` is a behavior of its own (HNT) and
    /// every other positive event counts as the target behavior, `target`. With no auxiliary
    /// behaviors (bpr, lightgcn) every positive is the target.
    func trainingSet(auxiliary: [String] = []) -> TrainingSet {
        let behaviors = auxiliary + ["target"]
        var interactions: [Interaction] = []
        for (u, items) in train.enumerated() {
            for p in items {
                var codes = Set<UInt8>()
                for b in p.behaviors { codes.insert(UInt8(auxiliary.firstIndex(of: b) ?? auxiliary.count)) }
                if codes.isEmpty { codes.insert(UInt8(auxiliary.count)) }
                for c in codes.sorted() {
                    interactions.append(Interaction(user: Int32(u), item: p.item, behavior: c, timestamp: p.timestampMs / 1000))
                }
            }
        }
        let taxonomy = BehaviorTaxonomy(behaviors: behaviors, target: "target", auxiliary: auxiliary, positive: ["target"])
        return TrainingSet(userCount: userCount, itemCount: itemCount, taxonomy: taxonomy, interactions: interactions)
    }

    /// The sequential models' training set: every user's `sequences`, as `model` reads them (EmoRec the
    /// four feedback kinds, SASRec and SINE positives and skips).
    func sequenceSet(for model: ModelKind) -> TrainingSet {
        TrainingSet(
            userCount: userCount,
            itemCount: itemCount,
            taxonomy: SequenceScorer.taxonomy(for: model),
            interactions: sequences.flatMap { SequenceScorer.reading($0, for: model) }
        )
    }

    /// Users evaluated: those with held-out items, the most recent `limit` (by newest held-out event).
    func evaluationUsers(limit: Int) -> [Int32] {
        let users = heldOut.indices.filter { !heldOut[$0].isEmpty }
        let recent = users.sorted { (heldOut[$0].last?.seq ?? 0) > (heldOut[$1].last?.seq ?? 0) }
        return recent.prefix(limit).map { Int32($0) }
    }
}
