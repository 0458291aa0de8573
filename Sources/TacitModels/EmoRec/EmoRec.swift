import Foundation
import TacitData
import TacitTensor

/// EmoRec (paper §3): a feedback-typed heterogeneous graph encoder (`FeedbackGraphEncoder`), optionally
/// with the Hawkes-inspired Transformer over the user's events (`HawkesEncoder`) and a head that predicts
/// the polarity of the next interaction. The seven variants of the paper's Table 1 are `Variant`s.
///
/// Score: s(u, i) = ⟨g_u, g_i⟩ + ⟨h_u, e_i⟩, the graph's user and item embeddings plus, with the THP, the
/// encoding of u's events at the newest position against the encoder's item table (the concatenation
/// [g_u; h_u] · [g_i; e_i]: "combining the static GNN-derived embedding with the last position").
///
/// Training (BPR, as the paper's Table 1; THP variants optionally softmax cross-entropy): graph-only variants take (u, i⁺, i⁻) pairs from the training
/// interactions; THP variants run every user's event sequence in windows, each position predicting the
/// next event (its graph user embedding being static), which trains the graph and the sequence together.
/// i⁻ is uniform over the items u never touched, or, with `+use_negatives`, one of the items u rated
/// negatively (implicit or explicit; uniform when u has none). `+extra_task` adds the cross-entropy of
/// the next event's polarity (positive kinds vs negative kinds, from its rating or event type),
/// logit = ⟨W_p h_u, e_{next}⟩ + b_p.
///
/// Which events are BPR positives is `bprPositives`: every kind by default, since the leave-10-last-out
/// test counts every held-out interaction; `explicit` is the paper's wording for EmoGAT (5-star only).
public final class EmoRec: SequenceRecommender, CachesEmbeddings {
    public enum Variant: String, Sendable, CaseIterable, Codable {
        case baseGAT = "basegat"
        case emoGAT = "emogat"
        case diffGAT = "diffgat"
        case emoSAGETHP = "emosage-thp"
        case emoSAGETHPNegatives = "emosage-thp+use_negatives"
        case emoGATTHPExtraTask = "emogat-thp+extra_task"
        case diffGATTHPExtraTask = "diffgat-thp+extra_task"

        /// The paper's spelling (Table 1).
        public var paperName: String {
            switch self {
            case .baseGAT: "BaseGAT"
            case .emoGAT: "EmoGAT"
            case .diffGAT: "diffGAT"
            case .emoSAGETHP: "EmoSAGE-THP"
            case .emoSAGETHPNegatives: "EmoSAGE-THP+use_negatives"
            case .emoGATTHPExtraTask: "EmoGAT-THP+extra_task"
            case .diffGATTHPExtraTask: "diffGAT-THP+extra_task"
            }
        }

        /// Either spelling, any case.
        public init?(name: String) {
            guard let v = Variant(rawValue: name.lowercased()) else { return nil }
            self = v
        }

        public var convolution: FeedbackGraphEncoder.Convolution {
            self == .emoSAGETHP || self == .emoSAGETHPNegatives ? .sage : .gat
        }
        public var heterogeneous: Bool { self != .baseGAT }
        public var signed: Bool { self == .diffGAT || self == .diffGATTHPExtraTask }
        public var sequence: Bool { ![.baseGAT, .emoGAT, .diffGAT].contains(self) }
        public var polarityHead: Bool { self == .emoGATTHPExtraTask || self == .diffGATTHPExtraTask }
        public var trueNegatives: Bool { self == .emoSAGETHPNegatives }
    }

    /// Which training events are BPR positives.
    public enum Positives: String, Sendable, CaseIterable, Codable {
        case all, positive, explicit
        func contains(_ kind: FeedbackKind) -> Bool {
            switch self {
            case .all: true
            case .positive: kind.isPositive
            case .explicit: kind == .explicitPositive
            }
        }
    }

    public struct Settings: Sendable, Equatable, Codable {
        public var variant: Variant = .diffGATTHPExtraTask
        public var dim = 64
        public var graphLayers = 2
        public var graphDropout: Float = 0.1
        public var hawkes = HawkesEncoder.Settings()
        public var bprPositives: Positives = .all
        /// THP variants' ranking loss: BPR (the paper's) or softmax cross-entropy over all items (SASRec's,
        /// RecBole's); `+use_negatives` needs BPR.
        public var loss: SASRec.Loss = .bpr
        /// Weight of the polarity cross-entropy (`+extra_task`).
        public var polarityWeight: Float = 1
        public var learningRate: Float = 1e-3
        /// Pairs per step (graph-only variants).
        public var pairBatch = 4096
        /// Windows per step (THP variants).
        public var windowBatch = 128
        public var weightDecay: Float = 0
        public var seed: UInt64 = 2024
        public init() {}
    }

    public var name: String { "emorec" }
    public let settings: Settings
    public let itemCount: Int
    public let userCount: Int
    public let graph: FeedbackGraphEncoder
    public let hawkes: HawkesEncoder?
    public let polarity: (weight: Tensor, bias: Tensor)?
    let optimizer: Adam
    /// Each user's training events, time-ordered, as the THP reads them.
    let events: [[HawkesEncoder.Event]]
    let windows: SequenceWindows
    let sampler: NegativeSampler
    /// Per user, the items they rated negatively in training (`+use_negatives`).
    let negatives: [[Int32]]
    let pairs: (users: [Int32], items: [Int32])
    let taxonomy: BehaviorTaxonomy
    /// The serving form at the current parameters (the graph encoded and its tables copied once per
    /// parameter state, not per scoring call).
    private var cache: EmoRecServing?
    public let parameters: [Tensor]

    /// The THP's and the polarity head's tensors (what a daemon fine-tune warm-starts).
    public var sequenceParameters: [Tensor] { TacitModels.sequenceParameters(hawkes, polarity) }

    public init(train: TrainingSet, settings: Settings = Settings()) {
        self.settings = settings
        itemCount = train.itemCount
        userCount = train.userCount
        taxonomy = train.taxonomy
        var rng = SeededRNG(seed: settings.seed)
        let variant = settings.variant
        let kinds = FeedbackGraph.latestKinds(train)
        let feedbackGraph =
            variant.heterogeneous
            ? FeedbackGraph.heterogeneous(train, signed: variant.signed, pairs: kinds)
            : FeedbackGraph.bipartite(train, pairs: kinds)
        graph = FeedbackGraphEncoder(
            graph: feedbackGraph,
            convolution: variant.convolution,
            dim: settings.dim,
            layers: settings.graphLayers,
            dropout: settings.graphDropout,
            rng: &rng
        )
        var hawkesSettings = settings.hawkes
        hawkesSettings.transformer.dim = settings.dim
        hawkes = variant.sequence ? HawkesEncoder(itemCount: train.itemCount, settings: hawkesSettings, rng: &rng) : nil
        polarity =
            variant.polarityHead
            ? (Initializer.xavierUniform([settings.dim, settings.dim], rng: &rng), Initializer.constant([1], 0)) : nil
        let taxonomy = train.taxonomy
        events = train.histories().map { h in h.map { HawkesEncoder.Event($0, taxonomy: taxonomy) } }
        // Windows over every event (not only positives): SequenceWindows reads items only.
        windows = SequenceWindows(
            sequences: events.map { PositiveSequence(items: $0.map(\.item), recentSkips: $0.map { _ in -1 }) },
            maxLength: settings.hawkes.transformer.maxLength - 1,
            padding: -1
        )
        sampler = NegativeSampler(positives: train.anyBehavior())
        negatives = events.map { Array(Set($0.filter { !$0.kind.isPositive }.map(\.item))).sorted() }
        var users: [Int32] = [], items: [Int32] = []
        for (u, i, kind) in kinds where settings.bprPositives.contains(kind) {
            users.append(u)
            items.append(i)
        }
        pairs = (users, items)
        parameters = graph.parameters + TacitModels.sequenceParameters(hawkes, polarity)
        optimizer = Adam(parameters, settings: .init(learningRate: settings.learningRate, weightDecay: settings.weightDecay))
    }

    public func invalidateCache() { cache = nil }

    // MARK: - Training

    public func trainEpoch(rng: inout SeededRNG) -> Float {
        cache = nil
        return hawkes == nil ? trainPairs(rng: &rng) : trainSequences(rng: &rng)
    }

    func negative(for user: Int32, rng: inout SeededRNG) -> Int32 {
        if settings.variant.trueNegatives, !negatives[Int(user)].isEmpty {
            return negatives[Int(user)][rng.nextInt(below: negatives[Int(user)].count)]
        }
        return sampler.sample(for: user, rng: &rng)
    }

    func trainPairs(rng: inout SeededRNG) -> Float {
        var order = Array(pairs.users.indices)
        rng.shuffle(&order)
        var total = 0.0, steps = 0
        for start in stride(from: 0, to: order.count, by: settings.pairBatch) {
            let chosen = order[start..<min(order.count, start + settings.pairBatch)]
            let users = chosen.map { pairs.users[$0] }, positives = chosen.map { pairs.items[$0] }
            let negatives = users.map { negative(for: $0, rng: &rng) }
            let h = graph.encode(training: true, rng: &rng)
            let u = Tensor.gather(h[FeedbackGraph.user], users)
            let loss = Tensor.bprLoss(
                positive: Tensor.rowDot(u, Tensor.gather(h[FeedbackGraph.item], positives)),
                negative: Tensor.rowDot(u, Tensor.gather(h[FeedbackGraph.item], negatives))
            )
            loss.backward()
            optimizer.step()
            total += Double(loss.item)
            steps += 1
        }
        return steps == 0 ? 0 : Float(total / Double(steps))
    }

    func trainSequences(rng: inout SeededRNG) -> Float {
        guard let hawkes else { return 0 }
        let d = settings.dim
        return windows.forEachBatch(size: settings.windowBatch, rng: &rng) { batch, rng in
            let slices = batch.windows.map { events[Int($0.user)][$0.start..<($0.end - 1)] }
            let (hidden, length) = hawkes.encode(slices, training: true, rng: &rng)
            // Each input event at position p of its user's events predicts event p + 1.
            var cells: [Int32] = [], users: [Int32] = [], targets: [Int32] = [], bprCells: [Int32] = [], labels: [Float] = []
            for (b, w) in batch.windows.enumerated() {
                let n = w.end - 1 - w.start
                for k in 0..<n where w.start + k + 1 >= w.firstTarget {
                    let next = events[Int(w.user)][w.start + k + 1]
                    if settings.bprPositives.contains(next.kind) { bprCells.append(Int32(cells.count)) }
                    cells.append(Int32(b * length + length - n + k))
                    users.append(w.user)
                    targets.append(next.item)
                    labels.append(next.kind.isPositive ? 1 : 0)
                }
            }
            guard !cells.isEmpty else { return 0 }
            let h = Tensor.gather(hidden.reshaped([batch.count * length, d]), cells)  // (N, d)
            let g = self.graph.encode(training: true, rng: &rng)
            var loss = Tensor(scalar: 0)
            if !bprCells.isEmpty {
                let bprUsers = bprCells.map { users[Int($0)] }, positives = bprCells.map { targets[Int($0)] }
                let hb = Tensor.gather(h, bprCells), gu = Tensor.gather(g[FeedbackGraph.user], bprUsers)
                if settings.loss == .crossEntropy && !settings.variant.trueNegatives {
                    // [g_u; h_u] against every item's [g_i; e_i].
                    let logits = Tensor.matmul(
                        Tensor.concat([gu, hb], axis: 1),
                        Tensor.concat([g[FeedbackGraph.item], hawkes.itemTable], axis: 1),
                        transB: true
                    )
                    loss = Tensor.softmaxCrossEntropy(logits: logits, targets: positives)
                } else {
                    let negatives = bprUsers.map { negative(for: $0, rng: &rng) }
                    func score(_ items: [Int32]) -> Tensor {
                        Tensor.rowDot(gu, Tensor.gather(g[FeedbackGraph.item], items)) + Tensor.rowDot(hb, Tensor.gather(hawkes.itemTable, items))
                    }
                    loss = Tensor.bprLoss(positive: score(positives), negative: score(negatives))
                }
            }
            if let polarity {
                let logits = Tensor.rowDot(Tensor.matmul(h, polarity.weight), Tensor.gather(hawkes.itemTable, targets)) + polarity.bias
                loss = loss + Tensor.binaryCrossEntropy(logits: logits, targets: labels).scaled(by: settings.polarityWeight)
            }
            loss.backward()
            optimizer.step()
            return loss.item
        }
    }

    // MARK: - Scoring

    /// The graph's final user and item embeddings at the current parameters.
    public func graphEmbeddings() -> (users: Tensor, items: Tensor) { (serving.graphUsers, serving.graphItems) }

    /// Encodes the graph at inference (what `EmoRecServing` freezes).
    func encodeGraph() -> (users: Tensor, items: Tensor) {
        var rng = SeededRNG(seed: 0)  // unused: no dropout at inference
        let h = Tensor.withoutGrad { graph.encode(training: false, rng: &rng) }
        return (h[FeedbackGraph.user], h[FeedbackGraph.item])
    }

    /// Every scoring call goes through the serving form, built once per parameter state.
    public var serving: EmoRecServing {
        if let cache { return cache }
        let form = EmoRecServing(self)
        cache = form
        return form
    }

    /// Each user's training events after their graph embedding (graph-only variants: the graph term).
    public func scores(users: [Int32]) -> [Float] {
        serving.scores(events: users.map { hawkes == nil ? [] : events[Int($0)] }, users: users)
    }

    /// Histories carry their user (a user the graph has not seen gets no graph term).
    public func scores(histories: [[Interaction]]) -> [Float] { serving.scores(histories: histories) }

    /// Scores after each user's events; `users[b]` < 0 or unknown to the graph scores on the sequence alone.
    public func scores(histories: [[HawkesEncoder.Event]], users: [Int32]) -> [Float] {
        serving.scores(events: histories, users: users)
    }

    /// Probability that the next interaction after each history, if it is with `items[b]`, is positive
    /// (`+extra_task` variants).
    public func polarity(histories: [[HawkesEncoder.Event]], items: [Int32]) -> [Float]? {
        serving.polarity(events: histories, items: items)
    }
}
