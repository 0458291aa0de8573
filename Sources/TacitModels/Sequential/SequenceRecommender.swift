import TacitData
import TacitTensor

/// A model that ranks items from a user's recent history rather than from a learned user vector:
/// the sequential models (SASRec, SINE). Evaluation hands it each user's history up to the held-out
/// point, and the daemon re-encodes a user's current history on each new event, so a list changes
/// as soon as the user acts, without waiting for a fine-tune.
public protocol SequenceRecommender: Recommender {
    /// Scores of all items after each history (one user's time-ordered interactions, behaviors coded
    /// in the training taxonomy): `histories.count × itemCount`, row-major.
    func scores(histories: [[Interaction]]) -> [Float]
}

/// What the sequential models read from a time-ordered history: the positives (the encoder's input)
/// and, for each positive, the skip just before it, if the event just before it was a skip (SINE's
/// "recent passive-negative feedback", eq. 4; the reference code pairs them the same way).
public struct PositiveSequence: Sendable, Equatable {
    public var items: [Int32] = []
    /// Per positive: the skipped item immediately before it, or −1.
    public var recentSkips: [Int32] = []

    public init(items: [Int32] = [], recentSkips: [Int32] = []) {
        self.items = items
        self.recentSkips = recentSkips
    }

    /// Reads `history` with `kinds`: target-behavior events are positives, passive/explicit-negative
    /// behaviors are skips, anything else (views in a multi-behavior log) is ignored.
    public init(_ history: some Collection<Interaction>, kinds: SequenceKinds) {
        var lastSkip: Int32 = -1
        for e in history {
            if e.behavior == kinds.positive {
                items.append(e.item)
                recentSkips.append(lastSkip)
                lastSkip = -1
            } else if kinds.isSkip(e.behavior) {
                lastSkip = e.item
            } else {
                lastSkip = -1
            }
        }
    }

    public var count: Int { items.count }
}

/// Which behavior codes are positives and which are skips, from a taxonomy.
public struct SequenceKinds: Sendable {
    public let positive: UInt8
    private let skip: [Bool]

    public init(_ taxonomy: BehaviorTaxonomy) {
        positive = taxonomy.targetCode
        let negatives = Set(taxonomy.passiveNegative + taxonomy.explicitNegative)
        skip = taxonomy.behaviors.map { negatives.contains($0) }
    }

    public func isSkip(_ behavior: UInt8) -> Bool { Int(behavior) < skip.count && skip[Int(behavior)] }
}

extension TrainingSet {
    /// Each user's training interactions as a positive sequence.
    public func positiveSequences() -> [PositiveSequence] {
        let kinds = SequenceKinds(taxonomy)
        return histories().map { PositiveSequence($0, kinds: kinds) }
    }

    /// Each user's training interactions, time-ordered.
    public func histories() -> [[Interaction]] {
        var out = [[Interaction]](repeating: [], count: userCount)
        for e in interactions { out[Int(e.user)].append(e) }
        return out
    }
}
