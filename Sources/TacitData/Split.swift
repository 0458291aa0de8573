import TacitTensor

/// A train / validation / test division of a dataset. Validation and test hold, per user, the
/// relevant (held-out) items; `candidates` fix the items ranked against them when a protocol
/// samples its negatives (HNT's 99), else ranking is over all items with history masked.
public struct Split: Sendable {
    /// The dataset after the protocol's filtering (ids are the split's index space).
    public let dataset: Dataset
    public let train: TrainingSet
    /// Per user: held-out validation items (empty when the user has none).
    public let validation: [[Int32]]
    /// Per user: held-out test items.
    public let test: [[Int32]]
    /// Per user, when the protocol samples negatives: the items ranked against validation/test items.
    public var validationNegatives: [[Int32]]?
    public var testNegatives: [[Int32]]?
    /// The held-out interactions themselves (with behavior, time and value), for protocols and
    /// measures that need them (polarity of the test window, skips).
    public let validationEvents: [[Interaction]]
    public let testEvents: [[Interaction]]
    /// Interactions kept out of training only because they share a (user, item) pair with a
    /// validation event (leave-one-out drops a held-out pair under every behavior): they return to
    /// training with the validation events in `withValidationInTraining()`.
    public let validationCompanions: [Interaction]

    public init(
        dataset: Dataset,
        train: [Interaction],
        validation: [[Interaction]],
        test: [[Interaction]],
        validationCompanions: [Interaction] = []
    ) {
        self.dataset = dataset
        self.train = TrainingSet(
            userCount: dataset.userCount,
            itemCount: dataset.itemCount,
            taxonomy: dataset.taxonomy,
            interactions: train
        )
        self.validationEvents = validation
        self.testEvents = test
        self.validationCompanions = validationCompanions
        self.validation = validation.map { Split.uniqueItems($0) }
        self.test = test.map { Split.uniqueItems($0) }
    }

    /// The items of `events` in first-seen order, each once, leaving out `excluding`.
    public static func uniqueItems(_ events: [Interaction], excluding: Set<Int32> = []) -> [Int32] {
        var seen = excluding
        return events.compactMap { seen.insert($0.item).inserted ? $0.item : nil }
    }

    /// The same test (events and sampled candidates) with the validation events, and what left
    /// training with them, back in training and no validation: for refitting the selected
    /// configuration on all the data it may see before testing.
    public func withValidationInTraining() -> Split {
        let restored = validationEvents.joined() + validationCompanions
        // Back into user-then-time order; ties keep training rows first, as they came before.
        let rows = (train.interactions + restored).enumerated().sorted {
            ($0.element.user, $0.element.timestamp, $0.offset) < ($1.element.user, $1.element.timestamp, $1.offset)
        }.map(\.element)
        var refit = Split(
            dataset: dataset,
            train: rows,
            validation: [[Interaction]](repeating: [], count: validationEvents.count),
            test: testEvents
        )
        refit.testNegatives = testNegatives
        return refit
    }

    public var testUsers: [Int32] { test.indices.filter { !test[$0].isEmpty }.map(Int32.init) }
    public var validationUsers: [Int32] { validation.indices.filter { !validation[$0].isEmpty }.map(Int32.init) }

    // MARK: - Splitting strategies

    /// RecBole's `RS` split: each user's interactions shuffled (seeded) and cut by `ratios`
    /// (e.g. 8:1:1), with RecBole's rounding (`_calcu_split_ids`).
    public static func randomRatio(_ dataset: Dataset, ratios: [Double] = [0.8, 0.1, 0.1], seed: UInt64) -> Split {
        precondition(ratios.count == 3)
        var rng = SeededRNG(seed: seed)
        let start = dataset.userRanges()
        var train: [Interaction] = [], valid = [[Interaction]](repeating: [], count: dataset.userCount)
        var test = valid
        for u in 0..<dataset.userCount {
            var rows = Array(dataset.interactions[start[u]..<start[u + 1]])
            rng.shuffle(&rows)
            let total = rows.count
            var cnt = ratios.map { Int($0 * Double(total)) }
            cnt[0] = total - cnt[1] - cnt[2]
            for i in 1..<3 {
                if cnt[0] <= 1 { break }
                if 0 < ratios[3 - i] * Double(total) && ratios[3 - i] * Double(total) < 1 {
                    cnt[3 - i] += 1
                    cnt[0] -= 1
                }
            }
            train.append(contentsOf: rows[0..<cnt[0]])
            valid[u] = Array(rows[cnt[0]..<(cnt[0] + cnt[1])])
            test[u] = Array(rows[(cnt[0] + cnt[1])...])
        }
        train.sort { ($0.user, $0.timestamp) < ($1.user, $1.timestamp) }
        return Split(dataset: dataset, train: train, validation: valid, test: test)
    }

    /// Leave-one-out on the target behavior in time order: each user's last target event is the test,
    /// the one before it the validation (both removed from training); users with fewer than three target
    /// events keep them all in training for the validation/test they cannot supply.
    /// When the dataset ships its own test pairs, those are the test and the user's last training target
    /// event (if the user has two or more) is the validation. Every interaction of a held-out
    /// (user, item) pair, whatever its behavior, leaves training.
    public static func leaveOneOut(_ dataset: Dataset) -> Split {
        let target = dataset.taxonomy.targetCode
        let start = dataset.userRanges()
        var keep = [Bool](repeating: true, count: dataset.interactions.count)
        var valid = [[Interaction]](repeating: [], count: dataset.userCount)
        var test = valid
        if let given = dataset.givenTest {
            for p in given {
                test[Int(p.user)].append(Interaction(user: p.user, item: p.item, behavior: target, timestamp: .max))
            }
        }
        for u in 0..<dataset.userCount {
            let targetRows = (start[u]..<start[u + 1]).filter { dataset.interactions[$0].behavior == target }
            if dataset.givenTest != nil {
                if !test[u].isEmpty, targetRows.count >= 2, let last = targetRows.last {
                    valid[u] = [dataset.interactions[last]]
                    keep[last] = false
                }
            } else if targetRows.count >= 3 {
                let t = targetRows[targetRows.count - 1], v = targetRows[targetRows.count - 2]
                test[u] = [dataset.interactions[t]]
                valid[u] = [dataset.interactions[v]]
                keep[t] = false
                keep[v] = false
            }
        }
        // A held-out pair leaves training under every behavior, not only the target: the shipped test
        // splits (CML's preprocessing) never show a test pair in training, and a validation pair whose
        // view or cart stayed behind would flatter exactly the multi-behavior models being selected.
        var companions: [Interaction] = []
        for u in 0..<dataset.userCount where !valid[u].isEmpty || !test[u].isEmpty {
            let tested = Set(test[u].map(\.item)), validated = Set(valid[u].map(\.item))
            for r in start[u]..<start[u + 1] where keep[r] {
                let item = dataset.interactions[r].item
                if tested.contains(item) {
                    keep[r] = false
                } else if validated.contains(item) {
                    keep[r] = false
                    companions.append(dataset.interactions[r])
                }
            }
        }
        let train = zip(dataset.interactions, keep).filter(\.1).map(\.0)
        return Split(dataset: dataset, train: train, validation: valid, test: test, validationCompanions: companions)
    }

    /// Leave-N-last-out in time order (EmoRec: N = 10): each user's last N interactions are the test,
    /// the N before them the validation; a user keeps at least N interactions for training.
    public static func leaveLastN(_ dataset: Dataset, n: Int) -> Split {
        let start = dataset.userRanges()
        var train: [Interaction] = []
        var valid = [[Interaction]](repeating: [], count: dataset.userCount)
        var test = valid
        for u in 0..<dataset.userCount {
            let rows = Array(dataset.interactions[start[u]..<start[u + 1]])
            var cut = rows.count
            if rows.count >= 2 * n {
                test[u] = Array(rows[(cut - n)...])
                cut -= n
            }
            if rows.count >= 3 * n {
                valid[u] = Array(rows[(cut - n)..<cut])
                cut -= n
            }
            train.append(contentsOf: rows[..<cut])
        }
        return Split(dataset: dataset, train: train, validation: valid, test: test)
    }

    /// Global temporal split: interactions before the `trainFraction` time quantile train, the next
    /// `validFraction` validate, the rest test.
    public static func temporal(_ dataset: Dataset, trainFraction: Double = 0.8, validFraction: Double = 0.1) -> Split {
        let times = dataset.interactions.map(\.timestamp).sorted()
        guard !times.isEmpty else { return Split(dataset: dataset, train: [], validation: [], test: []) }
        let t1 = times[min(times.count - 1, Int(Double(times.count) * trainFraction))]
        let t2 = times[min(times.count - 1, Int(Double(times.count) * (trainFraction + validFraction)))]
        var train: [Interaction] = []
        var valid = [[Interaction]](repeating: [], count: dataset.userCount)
        var test = valid
        for e in dataset.interactions {
            if e.timestamp < t1 { train.append(e) } else if e.timestamp < t2 { valid[Int(e.user)].append(e) } else { test[Int(e.user)].append(e) }
        }
        return Split(dataset: dataset, train: train, validation: valid, test: test)
    }

    // MARK: - Sampled candidates

    /// Fixes, per user, `count` negatives drawn uniformly (seeded) from items the user has no
    /// target-behavior interaction with in training, validation or test.
    public mutating func sampleNegatives(_ count: Int, seed: UInt64) {
        var rng = SeededRNG(seed: seed)
        let sampler = NegativeSampler(positives: train.target)
        func draw(_ heldOut: [[Int32]], others: [[Int32]]) -> [[Int32]] {
            heldOut.indices.map { u in
                guard !heldOut[u].isEmpty else { return [] }
                return sampler.sampleDistinct(count, for: Int32(u), excluding: Set(heldOut[u] + others[u]), rng: &rng)
            }
        }
        validationNegatives = draw(validation, others: test)
        testNegatives = draw(test, others: validation)
    }
}
