import TacitData
import TacitTensor

/// The training stream of the sequential models: every user's positive sequence cut, from its end,
/// into windows of up to `maxLength` inputs, each input predicting the positive after it (SASRec's
/// all-positions training). Consecutive windows end `stride` positions apart and a window trains only
/// its last `stride` targets (the user's oldest window trains all of its own), so an epoch predicts every
/// positive but the first exactly once, and with `stride` < `maxLength` every target sees at least
/// `maxLength − stride` earlier items as context when the user has them — closer to what scoring sees
/// (a full window) than disjoint windows, whose first targets see almost none. RecBole's prefix
/// augmentation gives every target a full context at `maxLength` times the cost.
struct SequenceWindows {
    /// One window: `sequences[user]` positions `start ..< end` (inputs `start ..< end − 1`); it trains
    /// the targets at positions `firstTarget ..< end`.
    struct Window { var user: Int32, start: Int, end: Int, firstTarget: Int }

    /// A batch of windows, left-padded to `length`: all arrays are `windows × length`, row-major.
    struct Batch {
        var users: [Int32] = []
        var length = 0
        var inputs: [Int32] = []
        /// The positive each input position predicts, −1 at padding.
        var targets: [Int32] = []
        /// The skip just before each target, −1 when there is none (SINE's observed negative).
        var targetSkips: [Int32] = []
        /// The skip just before each input item, −1 when none (its sub-interest assignment, eq. 4).
        var inputSkips: [Int32] = []
        /// The windows themselves (EmoRec reads its events' kinds and times through them).
        var windows: [Window] = []
        var count: Int { users.count }
    }

    let sequences: [PositiveSequence]
    let windows: [Window]
    let padding: Int32

    init(sequences: [PositiveSequence], maxLength: Int, stride: Int? = nil, padding: Int32) {
        let stride = min(maxLength, max(1, stride ?? maxLength))
        self.sequences = sequences
        self.padding = padding
        var windows: [Window] = []
        for (u, s) in sequences.enumerated() {
            var end = s.count
            while end >= 2 {
                let start = max(0, end - maxLength - 1)
                windows.append(
                    Window(
                        user: Int32(u),
                        start: start,
                        end: end,
                        firstTarget: start == 0 || end - stride - 1 <= start ? start + 1 : end - stride
                    )
                )
                if start == 0 { break }
                end -= stride
            }
        }
        self.windows = windows
    }

    /// Number of positives predicted per epoch.
    var targetCount: Int { windows.reduce(0) { $0 + $1.end - $1.firstTarget } }

    /// Calls `body` for each batch of `size` windows of a shuffled epoch; returns the mean of its losses.
    func forEachBatch(size: Int, rng: inout SeededRNG, _ body: (Batch, inout SeededRNG) -> Float) -> Float {
        var order = Array(windows.indices)
        rng.shuffle(&order)
        // A batch is as long as its longest window, so windows of like length batch together: each run
        // of 16 batches' worth of shuffled windows is sorted by length, and the batches are then shuffled.
        // (On MovieLens-100k with up to 200 positions this halves the padded positions.)
        let group = size * 16
        for g in stride(from: 0, to: order.count, by: group) {
            order[g..<min(order.count, g + group)].sort { length($0) > length($1) }
        }
        var starts = Array(stride(from: 0, to: order.count, by: size))
        rng.shuffle(&starts)
        var total: Double = 0
        var batch = Batch()
        for start in starts {
            let chosen = order[start..<min(order.count, start + size)]
            Profiler.measure(.sampling) { fill(&batch, with: chosen) }
            total += Double(body(batch, &rng))
        }
        return starts.isEmpty ? 0 : Float(total / Double(starts.count))
    }

    /// Input positions of window `w`.
    private func length(_ w: Int) -> Int { windows[w].end - windows[w].start - 1 }

    private func fill(_ batch: inout Batch, with chosen: ArraySlice<Int>) {
        let length = chosen.map(length).max() ?? 1
        let cells = chosen.count * length
        batch.length = length
        batch.users = chosen.map { windows[$0].user }
        batch.windows = chosen.map { windows[$0] }
        batch.inputs = [Int32](repeating: padding, count: cells)
        batch.targets = [Int32](repeating: -1, count: cells)
        batch.targetSkips = [Int32](repeating: -1, count: cells)
        batch.inputSkips = [Int32](repeating: -1, count: cells)
        for (b, w) in chosen.map({ windows[$0] }).enumerated() {
            let s = sequences[Int(w.user)]
            let n = w.end - w.start - 1
            let offset = b * length + length - n
            for k in 0..<n {
                batch.inputs[offset + k] = s.items[w.start + k]
                batch.inputSkips[offset + k] = s.recentSkips[w.start + k]
                guard w.start + k + 1 >= w.firstTarget else { continue }  // context only
                batch.targets[offset + k] = s.items[w.start + k + 1]
                batch.targetSkips[offset + k] = s.recentSkips[w.start + k + 1]
            }
        }
    }
}

/// What the sequential models keep of their training set: how to read a history, each user's
/// history (what `scores(users:)` encodes), the training windows and the negative sampler.
struct SequenceTraining {
    let kinds: SequenceKinds
    let histories: [[Interaction]]
    let windows: SequenceWindows
    let sampler: NegativeSampler

    init(_ train: TrainingSet, maxLength: Int, stride: Int?, padding: Int32) {
        let kinds = SequenceKinds(train.taxonomy)
        self.kinds = kinds
        histories = train.histories()
        windows = SequenceWindows(
            sequences: histories.map { PositiveSequence($0, kinds: kinds) },
            maxLength: maxLength,
            stride: stride,
            padding: padding
        )
        sampler = NegativeSampler(positives: train.target)
    }
}
