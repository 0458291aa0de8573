import TacitData
import TacitEval
import TacitModels
import TacitStore
import TacitTensor

/// What one fine-tune trains, from `[trainer]` and the served model's section.
struct FineTuneSettings: Sendable {
    /// The model and its settings; a round's seed is `model.seed + round`.
    var model: ModelSettings
    var epochs: Int
    var foldInWeight: Float
    var evalUsers: Int
    /// Behaviors HNT treats as auxiliary; every other positive counts as the target.
    var auxiliary: [String]
    /// `trainer.max_users` (0: every user).
    var maxUsers: Int

    /// `t.model` must be a learned model (`Trainer.modelSettings` not nil).
    init(_ t: TacitConfiguration.Trainer, auxiliary: [String] = []) {
        guard let model = t.modelSettings else { preconditionFailure("no training for trainer.model \(t.model)") }
        self.model = model
        epochs = t.epochs
        foldInWeight = Float(t.foldInWeight)
        evalUsers = t.evalUsers
        maxUsers = t.maxUsers
        self.auxiliary = auxiliary
    }

    /// The settings of round `round`.
    func model(round: UInt64) -> ModelSettings {
        var m = model
        m.seed = model.seed &+ round
        if case .hnt(var h) = m {
            // Few epochs per fine-tune: the hesitation set is chosen from the second epoch on. With μ = 1 it is
            // every auxiliary-only pair whatever the conversion scorer says, so it joins from the first epoch:
            // waiting trained the warm-started tables on purchases alone for the first epochs of every round.
            h.hesitationWarmup = h.hesitatesOnEveryAuxiliaryPair ? 0 : min(h.hesitationWarmup, max(1, epochs / 2))
            m = .hnt(h)
        }
        return m
    }
}

/// Trains a candidate (synchronous, CPU-heavy: call it off the cooperative pool) and scores
/// models on the held-out slice.
enum FineTuner {
    /// Builds the configured model over `data`, warm-started from `previous` (its layer-0 rows
    /// are copied for users and items it knows; rows for new users/items keep their fresh seeded
    /// Xavier initialization), and trains `epochs` epochs. `round` varies the training seed.
    /// `shouldStop` is polled between epochs: when it holds, training is abandoned (nil).
    static func train(
        _ data: TrainingData,
        previous: ServingEmbeddings?,
        settings: FineTuneSettings,
        round: UInt64,
        createdMs: Int64,
        shouldStop: () -> Bool = { false }
    ) -> ServingEmbeddings? {
        let model = settings.model(round: round)
        if model.kind.isSequential {
            return trainSequential(data, previous: previous, model: model, settings: settings, createdMs: createdMs, shouldStop: shouldStop)
        }
        if let window = TrainingWindow(data, maxUsers: settings.maxUsers) {
            let warm = previous.flatMap { $0.sequence == nil ? window.local($0) : nil }
            guard
                let trained = train(
                    window.data,
                    previous: warm,
                    settings: settings,
                    round: round,
                    createdMs: createdMs,
                    shouldStop: shouldStop
                )
            else { return nil }
            return window.global(trained, previous: previous, userCount: data.userCount)
        }
        let kind = model.kind
        let set = data.trainingSet(auxiliary: kind == .hnt ? settings.auxiliary : [])
        guard let m = model.build(train: set) as? any EmbeddingModel else {
            preconditionFailure("\(kind) is neither sequential nor an embedding model")
        }
        let d = model.dim
        // The tables are snapshotted as such; the rest of the parameters (HNT's networks) by position.
        let others = m.parameters.filter { $0 !== m.userEmbedding && $0 !== m.itemEmbedding }
        if let previous, previous.dim == d, previous.model == model.name {
            copyRows(previous.userBase, rows: min(previous.userCount, data.userCount), dim: d, into: m.userEmbedding)
            copyRows(previous.itemBase, rows: min(previous.itemCount, data.itemCount), dim: d, into: m.itemEmbedding)
            // HNT's networks start fresh: carrying them over (they are in the snapshot) did not help in the
            // Retail Rocket backtest (seeds 1-3, --target buy: NDCG@10 0.0595 ± 0.0074 against 0.0646 ± 0.0080).
            m.parametersChanged()
        }
        var rng = SeededRNG(seed: model.seed &+ 0x9E37_79B9)
        if set.target.nonZeros > 0 || kind == .hnt {
            for _ in 0..<settings.epochs {
                if shouldStop() { return nil }
                _ = m.trainEpoch(rng: &rng)
            }
        }
        m.parametersChanged()
        let (users, items) = m.finalEmbeddings()
        let degree: [Float]
        var conversion: ConversionTable?
        switch kind {
        case .lightgcn: degree = set.target.itemDegrees().map(Float.init)
        case .hnt:
            degree = set.anyBehavior().itemDegrees().map(Float.init)
            if let h = m as? HNT, h.settings.hesitation {
                let c = h.conversionProbabilities()
                conversion = ConversionTable(rowStart: c.rowStart, items: c.items, probabilities: c.probabilities)
            }
        default: degree = []
        }
        return ServingEmbeddings(
            model: model.name,
            version: 0,
            dim: d,
            userCount: data.userCount,
            itemCount: data.itemCount,
            userBase: m.userEmbedding.value,
            itemBase: m.itemEmbedding.value,
            users: users,
            items: items,
            itemDegree: degree,
            eventsThroughSeq: data.throughSeq,
            metrics: [:],
            createdMs: createdMs,
            conversion: conversion,
            settings: model,
            parameters: ServingEmbeddings.parameterTensors(others)
        )
    }

    /// `sasrec`, `sine`: trained on every user's sequence of positives and skips, warm-started from the
    /// previous network (all of it when the architecture is unchanged; the item table's old rows
    /// when only the catalogue grew). `emorec`: on the four feedback kinds; its graph is rebuilt from the
    /// current store each time (its edges change), its encoder warm-started from the previous one's rows
    /// (`warmStart`), its Hawkes Transformer and polarity head as the others'; it serves as `EmoRecServing`.
    static func trainSequential(
        _ data: TrainingData,
        previous: ServingEmbeddings?,
        model settings: ModelSettings,
        settings fineTune: FineTuneSettings,
        createdMs: Int64,
        shouldStop: () -> Bool
    ) -> ServingEmbeddings? {
        let set = data.sequenceSet(for: settings.kind)
        guard let model = settings.build(train: set) as? any SequenceRecommender else { preconditionFailure("\(settings.kind) is not sequential") }
        if let old = previous?.sequence, previous?.model == settings.name, old.settings.architecture == settings.architecture {
            // EmoRec's served tensors start with its graph's two final tables; its encoder, which the next
            // fine-tune starts from, is in `previous.parameters`. Without it every fine-tune trained the graph
            // from scratch for `epochs` epochs while the THP beside it was warm.
            let emorec = model as? EmoRec
            warmStart(emorec?.sequenceParameters ?? model.parameters, from: old.tensors.dropFirst(emorec == nil ? 0 : 2), paddingRow: true)
            if let emorec, let previous, previous.parameters.count == emorec.graph.parameters.count {
                warmStart(emorec.graph.parameters, from: previous.parameters, paddingRow: false)
            }
            model.parametersChanged()
        }
        var rng = SeededRNG(seed: settings.seed &+ 0x9E37_79B9)
        for _ in 0..<fineTune.epochs {
            if shouldStop() { return nil }
            _ = model.trainEpoch(rng: &rng)
        }
        let d = settings.dim
        let served: any SequenceRecommender = (model as? EmoRec)?.serving ?? model
        let items = Array(served.parameters[0].value.prefix(data.itemCount * d))
        let scorer = SequenceScorer(trained: served, settings: settings)
        return ServingEmbeddings(
            sequence: scorer,
            model: settings.name,
            version: 0,
            dim: d,
            userCount: data.userCount,
            items: items,
            eventsThroughSeq: data.throughSeq,
            metrics: [:],
            createdMs: createdMs,
            parameters: ServingEmbeddings.parameterTensors((model as? EmoRec)?.graph.parameters ?? [])
        )
    }

    /// Copies a previous network's values into `tensors`, in order: a tensor of the same shape whole; a table
    /// that grew (2-D, same width, more rows: the catalogue, or EmoRec's users and feedback nodes, rows by
    /// store id) keeps its known rows, new rows keep their fresh initialization. `paddingRow`: the saved
    /// tables end with a padding row (the sequence models' item tables), which is not carried over.
    private static func warmStart(_ tensors: [Tensor], from saved: some Sequence<SnapshotTensor>, paddingRow: Bool) {
        for (p, t) in zip(tensors, saved) {
            if p.shape == t.shape {
                p.value = t.values
            } else if p.shape.count == 2, t.shape.count == 2, p.shape[1] == t.shape[1], t.shape[0] <= p.shape[0] {
                let known = (t.shape[0] - (paddingRow ? 1 : 0)) * t.shape[1]
                p.value.replaceSubrange(0..<known, with: t.values[0..<known])
            }
        }
    }

    /// Copies the first `rows` rows of `source` into `table`, except all-zero rows: a row the model never
    /// trained (a user outside its `TrainingWindow`, an item it never saw) keeps the fresh initialization.
    private static func copyRows(_ source: [Float], rows: Int, dim: Int, into table: Tensor) {
        guard rows > 0 else { return }
        for r in 0..<rows where source[r * dim..<(r + 1) * dim].contains(where: { $0 != 0 }) {
            table.value.replaceSubrange(r * dim..<(r + 1) * dim, with: source[r * dim..<(r + 1) * dim])
        }
    }

    /// HR@10 and NDCG@10 of the top 10 of `scores` (one per item), the user's training items `consumed` left out.
    private static func heldOutValues(_ scores: [Float], consumed: Set<Int32>, relevant: Set<Int32>) -> (hr: Double, ndcg: Double) {
        let top = scores.withUnsafeBufferPointer { Metrics.topK($0, k: 10, excluded: { consumed.contains(Int32($0)) }) }
        let v = Metrics.values(ranked: top[...], relevant: relevant, ks: [10])
        return (v[0], v[1])
    }

    /// Popularity's HR@10 and NDCG@10 on the held-out slice, as `evaluate` scores a model: every item ranked by
    /// how many users took it in training (the held-out positives left out), the user's training items
    /// excluded. What a first candidate must beat, since popularity serves until a model is promoted.
    static func evaluatePopularity(on data: TrainingData, users: [Int32]) -> [String: Double] {
        guard !users.isEmpty else { return ["hr@10": 0, "ndcg@10": 0, "users": 0] }
        var counts = [Float](repeating: 0, count: data.itemCount)
        for positives in data.train {
            for p in positives where Int(p.item) < counts.count { counts[Int(p.item)] += 1 }
        }
        var hr = 0.0, ndcg = 0.0
        for u in users {
            let consumed = Set(data.train[Int(u)].map(\.item))
            let relevant = Set(data.heldOut[Int(u)].map(\.item))
            let v = heldOutValues(counts, consumed: consumed, relevant: relevant)
            hr += v.hr
            ndcg += v.ndcg
        }
        let n = Double(users.count)
        return ["hr@10": hr / n, "ndcg@10": ndcg / n, "users": n]
    }

    /// HR@10 and NDCG@10 on the held-out slice, full ranking over all items with the user's
    /// training items excluded, using the scores the model would serve: the vector `FoldIn.vector`
    /// blends (the trained row and a fold-in of the user's training items), or the sequential model's
    /// re-encoded history, plus each of `priors` over `trend` (one result per prior, in order; nil: the
    /// model alone). Users the model cannot place score 0.
    static func evaluate(
        _ m: ServingEmbeddings,
        on data: TrainingData,
        users: [Int32],
        foldInWeight: Float,
        trend: TrendCounts? = nil,
        priors: [TrendPrior?] = [nil]
    ) -> [[String: Double]] {
        guard !users.isEmpty else { return priors.map { _ in ["hr@10": 0, "ndcg@10": 0, "users": 0] } }
        var priorByHalfLife: [Int: [Float]] = [:]
        for case let p? in priors where priorByHalfLife[p.halfLife] == nil {
            priorByHalfLife[p.halfLife] = trend?.prior(halfLife: p.halfLife, itemCount: m.itemCount)
        }
        var hr = [Double](repeating: 0, count: priors.count), ndcg = hr
        for u in users {
            let train = data.train[Int(u)]
            let scores: [Float]
            if let sequence = m.sequence {
                // What serving does: re-encode the history before the held-out slice.
                guard let s = sequence.scores(history: data.sequences[Int(u)]) else { continue }
                scores = s
            } else {
                guard let v = FoldIn.vector(m, user: u, positives: train.map(\.item), weight: foldInWeight) else { continue }
                scores = FoldIn.scores(m, vector: v)
            }
            let consumed = Set(train.map(\.item))
            let relevant = Set(data.heldOut[Int(u)].map(\.item))
            for (k, prior) in priors.enumerated() {
                var served = scores
                if let prior, let values = priorByHalfLife[prior.halfLife] { served = prior.apply(scores, prior: values) }
                let v = heldOutValues(served, consumed: consumed, relevant: relevant)
                hr[k] += v.hr
                ndcg[k] += v.ndcg
            }
        }
        let n = Double(users.count)
        return priors.indices.map { ["hr@10": hr[$0] / n, "ndcg@10": ndcg[$0] / n, "users": n] }
    }
}
