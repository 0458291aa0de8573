import TacitData

/// A named evaluation protocol: it fixes the filtering, the split and the candidate set, so
/// that a number can be quoted with its protocol (issue 3, "Evaluation").
public enum EvaluationProtocol: String, CaseIterable, Sendable, Codable {
    /// RecBole's general protocol: ratings ≥ 3 (rating data), 10-core, random 8:1:1 per user,
    /// full ranking with the user's training (and, at test, validation) items masked.
    case full
    /// HNT's (after CML): leave-one-out on the target behavior (the dataset's own test split when
    /// it has one), the held-out item ranked with 99 items sampled uniformly (fixed seed) from those
    /// the user has no target interaction with.
    case sampled99
    /// EmoRec's: the last 10 interactions per user in time order held out (the 10 before them
    /// validate), full ranking with training items masked.
    case leaveLast10 = "leave-last-10"
    /// RecBole's sequential: ratings ≥ 3, 10-core, leave-one-out in time order (last = test,
    /// second-to-last = validation), full ranking without masking (RecBole does not mask history
    /// for sequential evaluation).
    case sequential
    /// SINE reference code's: ratings become positives (≥ 4) and skips (≤ 3); each user's last
    /// positive is the test and the one before it the validation; candidates are the held-out
    /// positive plus the skips in its window (between the previous positive and it). AUC (pooled),
    /// GAUC (unweighted mean over users with ≥ 2 skips in the window), and untruncated NDCG.
    case skips

    /// How candidates are formed.
    public enum Candidates: Sendable {
        case allItems(maskHistory: Bool)
        case sampled
        case heldOutWindow
    }

    public var candidates: Candidates {
        switch self {
        case .full, .leaveLast10: return .allItems(maskHistory: true)
        case .sequential: return .allItems(maskHistory: false)
        case .sampled99: return .sampled
        case .skips: return .heldOutWindow
        }
    }

    /// The metric that picks the best epoch on validation.
    public var selectionMetric: String {
        switch self {
        case .skips: return "GAUC"
        case .leaveLast10: return "NDCG@10"
        default: return "NDCG@10"
        }
    }

    /// Filters and splits `dataset` as the protocol prescribes. `seed` fixes the random split and
    /// the sampled negatives.
    public func split(_ dataset: Dataset, seed: UInt64) -> Split {
        switch self {
        case .full:
            let d = dataset.keepingRatings(atLeast: 3).kCore(minUser: 10, minItem: 10)
            return .randomRatio(d, ratios: [0.8, 0.1, 0.1], seed: seed)
        case .sampled99:
            var s = Split.leaveOneOut(dataset)
            s.sampleNegatives(99, seed: seed)
            return s
        case .leaveLast10:
            return .leaveLastN(dataset, n: 10)
        case .sequential:
            let d = dataset.keepingRatings(atLeast: 3).kCore(minUser: 10, minItem: 10)
            return .leaveOneOut(d)
        case .skips:
            return SkipsSplit.make(dataset)
        }
    }
}

/// The split behind `EvaluationProtocol.skips`.
enum SkipsSplit {
    static func make(_ dataset: Dataset) -> Split {
        let d = dataset.asPositivesAndSkips()
        let positive = d.taxonomy.targetCode
        let start = d.userRanges()
        var train: [Interaction] = []
        var valid = [[Interaction]](repeating: [], count: d.userCount), test = valid
        for u in 0..<d.userCount {
            let rows = Array(d.interactions[start[u]..<start[u + 1]])
            let positives = rows.indices.filter { rows[$0].behavior == positive }
            guard positives.count >= 3 else {
                train.append(contentsOf: rows)
                continue
            }
            let t = positives[positives.count - 1], v = positives[positives.count - 2]
            // held-out window = the skips before the held-out positive, back to the previous positive
            let prevOfV = positives[positives.count - 3]
            valid[u] = Array(rows[(prevOfV + 1)...v])
            test[u] = Array(rows[(v + 1)...t])
            train.append(contentsOf: rows[...prevOfV])
        }
        return Split(dataset: d, train: train, validation: valid, test: test)
    }
}

extension Dataset {
    /// The log as SINE's two feedback kinds: "positive" (the target or a positive behavior; a `rating`
    /// ≥ the taxonomy's positive threshold) and "skip" (passive or explicit negative behaviors; a
    /// `rating` below the threshold). Anything else (views, partial watches) is dropped.
    public func asPositivesAndSkips() -> Dataset {
        let threshold = taxonomy.positiveRatingThreshold
        let negatives = Set(taxonomy.passiveNegative + taxonomy.explicitNegative)
        let positives = Set(taxonomy.positive + [taxonomy.target])
        let rows = interactions.compactMap { e -> Interaction? in
            let name = taxonomy.behaviors[Int(e.behavior)]
            var out = e
            if negatives.contains(name) {
                out.behavior = 1
            } else if name == "rating" {
                out.behavior = e.hasValue && e.value < threshold ? 1 : 0
            } else if positives.contains(name) {
                out.behavior = 0
            } else {
                return nil
            }
            return out
        }
        let tax = BehaviorTaxonomy(
            behaviors: ["positive", "skip"],
            target: "positive",
            positive: ["positive"],
            passiveNegative: ["skip"],
            positiveRatingThreshold: threshold
        )
        return Dataset(name: name, users: users, items: items, taxonomy: tax, interactions: rows, hasRatings: hasRatings)
    }
}
