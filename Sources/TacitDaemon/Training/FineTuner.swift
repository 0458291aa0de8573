import TacitData
import TacitEval
import TacitModels
import TacitTensor

/// Hyperparameters of one fine-tune, from `[trainer]`.
struct FineTuneSettings: Sendable {
    var model: String
    var epochs: Int
    var embedding: EmbeddingSettings
    var foldInWeight: Float
    var evalUsers: Int
    /// HNT's own settings (its `embedding` is replaced by `embedding` at training time).
    var hnt: HNT.Settings
    /// Behaviors HNT treats as auxiliary; every other positive counts as the target.
    var auxiliary: [String]
    /// The sequential models' architecture (`SequenceScorer`'s `arch.*` keys) and sequences per step.
    var architecture: [String: String]
    var sequencesPerStep: Int
    /// sasrec, sine: training windows end this many positions apart (nil: disjoint windows). Training
    /// only, so not part of the served architecture.
    var windowStride: Int?

    var isSequential: Bool { TacitConfiguration.sequentialModels.contains(model) }

    init(_ t: TacitConfiguration.Trainer, auxiliary: [String] = []) {
        model = t.model
        epochs = t.epochs
        embedding = EmbeddingSettings(
            dim: t.dim,
            learningRate: Float(t.effectiveLearningRate),
            batchSize: t.batchSize,
            l2: Float(t.l2),
            layers: t.layers,
            seed: UInt64(t.seed)
        )
        foldInWeight = Float(t.foldInWeight)
        evalUsers = t.evalUsers
        hnt = HNT.Settings()
        hnt.mu = Float(t.mu)
        hnt.beta = Float(t.beta)
        hnt.heads = t.heads
        if t.model == "hnt" {
            // Validated with the configuration (`trainer.ablation` names the model's variants).
            do { try hnt.apply(ablation: t.effectiveAblation) } catch { preconditionFailure("\(error)") }
        }
        self.auxiliary = auxiliary
        architecture = [
            "arch.dim": "\(t.dim)", "arch.heads": "\(t.heads)", "arch.blocks": "\(t.blocks)",
            "arch.inner": "\(t.model == "sine" ? t.dim : 4 * t.dim)", "arch.max_length": "\(t.maxLength)",
            "arch.dropout": "\(t.dropout)", "arch.loss": t.loss, "arch.skip_negatives": "false",
            "arch.prototypes": "\(t.prototypes)", "arch.ablation": t.model == "sine" ? t.effectiveAblation : "full",
            "arch.beta_attention": "true", "arch.beta1": "\(SINE.Settings().beta1)",
        ]
        if t.model == "emorec" {
            architecture.merge([
                "arch.variant": EmoRec.Variant(name: t.variant)?.rawValue ?? t.variant, "arch.graph_layers": "2",
                // Recommend what the user will like: skips and dislikes are not targets here
                // (they still shape the graph, the sequence and the polarity head).
                "arch.bpr_positives": EmoRec.Positives.positive.rawValue,
                "arch.decay_per_day": "\(HawkesEncoder.Settings().decayPerDay)",
                "arch.decay_window": "\(HawkesEncoder.Settings().window)",
            ]) { $1 }
        }
        sequencesPerStep = t.sequencesPerStep
        windowStride = t.windowStride > 0 ? t.windowStride : nil
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
        if settings.isSequential {
            return trainSequential(data, previous: previous, settings: settings, round: round, createdMs: createdMs, shouldStop: shouldStop)
        }
        let set = data.trainingSet(auxiliary: settings.model == "hnt" ? settings.auxiliary : [])
        var embedding = settings.embedding
        embedding.seed = settings.embedding.seed &+ round
        let d = embedding.dim
        let model: Recommender
        let userTable: Tensor, itemTable: Tensor
        switch settings.model {
        case "bpr":
            let m = BPRMF(train: set, settings: embedding)
            (model, userTable, itemTable) = (m, m.userEmbedding, m.itemEmbedding)
        case "hnt":
            var hnt = settings.hnt
            hnt.embedding = embedding
            // Few epochs per fine-tune: the hesitation set is chosen from the second epoch on.
            hnt.hesitationWarmup = min(hnt.hesitationWarmup, max(1, settings.epochs / 2))
            let m = HNT(train: set, settings: hnt)
            (model, userTable, itemTable) = (m, m.userEmbedding, m.itemEmbedding)
        default:
            let m = LightGCN(train: set, settings: embedding)
            (model, userTable, itemTable) = (m, m.userEmbedding, m.itemEmbedding)
        }
        if let previous, previous.dim == d, previous.model == settings.model {
            copyRows(previous.userBase, rows: min(previous.userCount, data.userCount), dim: d, into: userTable)
            copyRows(previous.itemBase, rows: min(previous.itemCount, data.itemCount), dim: d, into: itemTable)
            model.parametersChanged()
        }
        var rng = SeededRNG(seed: embedding.seed &+ 0x9E37_79B9)
        if set.target.nonZeros > 0 || settings.model == "hnt" {
            for _ in 0..<settings.epochs {
                if shouldStop() { return nil }
                _ = model.trainEpoch(rng: &rng)
            }
        }
        model.parametersChanged()
        let users: [Float], items: [Float], degree: [Float]
        var conversion: ConversionTable?
        if let g = model as? LightGCN {
            (users, items) = g.finalEmbeddings()
            degree = set.target.itemDegrees().map(Float.init)
        } else if let h = model as? HNT {
            (users, items) = h.finalEmbeddings()
            degree = set.anyBehavior().itemDegrees().map(Float.init)
            if h.settings.hesitation {
                let c = h.conversionProbabilities()
                conversion = ConversionTable(rowStart: c.rowStart, items: c.items, probabilities: c.probabilities)
            }
        } else {
            (users, items, degree) = (userTable.value, itemTable.value, [])
        }
        return ServingEmbeddings(
            model: settings.model,
            version: 0,
            dim: d,
            userCount: data.userCount,
            itemCount: data.itemCount,
            userBase: userTable.value,
            itemBase: itemTable.value,
            users: users,
            items: items,
            itemDegree: degree,
            eventsThroughSeq: data.throughSeq,
            metrics: [:],
            createdMs: createdMs,
            conversion: conversion
        )
    }

    /// `sasrec`, `sine`: trained on every user's sequence of positives and skips, warm-started from the
    /// previous network (all of it when the architecture is unchanged; the item table's old rows
    /// when only the catalogue grew). `emorec`: on the four feedback kinds; its graph is rebuilt and
    /// retrained from the current store each time (its node set changes), its Hawkes Transformer and
    /// polarity head warm-start the same way; it serves as `EmoRecServing`.
    static func trainSequential(
        _ data: TrainingData,
        previous: ServingEmbeddings?,
        settings: FineTuneSettings,
        round: UInt64,
        createdMs: Int64,
        shouldStop: () -> Bool
    ) -> ServingEmbeddings? {
        let set = data.sequenceSet(for: settings.model)
        let seed = settings.embedding.seed &+ round
        guard
            let model = SequenceScorer.build(
                settings.model,
                itemCount: data.itemCount,
                architecture: settings.architecture,
                seed: seed,
                train: set,
                learningRate: settings.embedding.learningRate,
                batchSize: settings.sequencesPerStep,
                windowStride: settings.windowStride
            )
        else { preconditionFailure("sequential architecture validated with the configuration: \(settings.architecture)") }
        if let old = previous?.sequence, previous?.model == settings.model, old.architecture == settings.architecture {
            // EmoRec's served tensors start with its two graph tables, which are not warm-started.
            let emorec = model as? EmoRec
            let warm = emorec?.sequenceParameters ?? model.parameters
            for (p, t) in zip(warm, old.tensors.dropFirst(emorec == nil ? 0 : 2)) {
                if p.shape == t.shape {
                    p.value = t.values
                } else if p.shape.count == 2, t.shape.count == 2, p.shape[1] == t.shape[1], t.shape[0] <= p.shape[0] {
                    // The catalogue grew: keep the known items' rows; new items and the padding row (the
                    // table's last) keep their fresh initialization.
                    let known = (t.shape[0] - 1) * t.shape[1]
                    p.value.replaceSubrange(0..<known, with: t.values[0..<known])
                }
            }
            model.parametersChanged()
        }
        var rng = SeededRNG(seed: seed &+ 0x9E37_79B9)
        for _ in 0..<settings.epochs {
            if shouldStop() { return nil }
            _ = model.trainEpoch(rng: &rng)
        }
        let d = settings.embedding.dim
        let served: any SequenceRecommender = (model as? EmoRec)?.serving ?? model
        let items = Array(served.parameters[0].value.prefix(data.itemCount * d))
        let scorer = SequenceScorer(trained: served, architecture: settings.architecture)
        return ServingEmbeddings(
            sequence: scorer,
            model: settings.model,
            version: 0,
            dim: d,
            userCount: data.userCount,
            items: items,
            eventsThroughSeq: data.throughSeq,
            metrics: [:],
            createdMs: createdMs
        )
    }

    private static func copyRows(_ source: [Float], rows: Int, dim: Int, into table: Tensor) {
        guard rows > 0 else { return }
        table.value.replaceSubrange(0..<rows * dim, with: source[0..<rows * dim])
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
                let top = served.withUnsafeBufferPointer { Metrics.topK($0, k: 10, excluded: { consumed.contains(Int32($0)) }) }
                let v = Metrics.values(ranked: top[...], relevant: relevant, ks: [10])
                hr[k] += v[0]
                ndcg[k] += v[1]
            }
        }
        let n = Double(users.count)
        return priors.indices.map { ["hr@10": hr[$0] / n, "ndcg@10": ndcg[$0] / n, "users": n] }
    }
}
