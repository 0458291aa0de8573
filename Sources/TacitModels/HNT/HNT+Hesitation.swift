import TacitData
import TacitTensor

// MARK: - User hesitation modeling (eqs. 1–9)

extension HNT {
    /// `w_b = f(‖_k e_{b_k})` (eq. 4), one d-vector per behavior: (behaviors, d), `2σ(·)` so that
    /// every weight starts near 1.
    func behaviorWeights() -> Tensor {
        let d = settings.embedding.dim
        return featureNetwork(behaviorEmbedding.reshaped([1, behaviorCount * d])).sigmoid().scaled(by: 2)
            .reshaped([behaviorCount, d])
    }

    /// LightGCN over a multi-behavior graph with each behavior's messages scaled by its `w_b`
    /// (eq. 3): `E^{l+1} = Σ_b (A_b E^l) ⊙ w_b` (one fused pass over the edges), final = mean over
    /// layers 0…L. → (U + I, d).
    func propagate(_ x0: Tensor, over graph: HNTGraphs.Multigraph, weights w: Tensor) -> Tensor {
        var layer = x0, sum = x0
        for _ in 0..<settings.embedding.layers {
            layer = Tensor.multiRelationMatmul(graph.matrix, layer, weights: w)
            sum = sum + layer
        }
        return sum.scaled(by: 1 / Float(settings.embedding.layers + 1))
    }

    /// `e_u ‖ e_i` for each pair: (pairs, 2d).
    func pairFeatures(_ nodes: Tensor, users: [Int32], items: [Int32]) -> Tensor {
        Tensor.concat([Tensor.gather(nodes, users), Tensor.gather(nodes, items.map { $0 + Int32(userCount) })], axis: 1)
    }

    /// The hesitation module's loss for one step, `L_score` (eq. 8) plus the generator side of
    /// eq. 5, on `batch` sampled pairs of G⁺_aux and of G⁻_aux; also returns the pair features the
    /// discriminator then trains on (e⁺ real, e⁺_aux fake). The scorer reads both kinds of pair off
    /// the all-auxiliary graph (see `HNT`).
    func hesitationLosses(_ x0: Tensor, batch: Int, rng: inout SeededRNG) -> (loss: Tensor, real: Tensor, fake: Tensor) {
        let w = behaviorWeights()
        func sample(_ p: (users: [Int32], items: [Int32])) -> (users: [Int32], items: [Int32]) {
            let n = min(batch, p.users.count)
            let picks = (0..<n).map { _ in rng.nextInt(below: p.users.count) }
            return (picks.map { p.users[$0] }, picks.map { p.items[$0] })
        }
        let plusPairs = sample(graphs.auxPlusPairs), minusPairs = sample(graphs.auxMinusPairs)
        let real = pairFeatures(propagate(x0, over: graphs.plus, weights: w), users: plusPairs.users, items: plusPairs.items)
        let fake = pairFeatures(propagate(x0, over: graphs.auxPlus, weights: w), users: plusPairs.users, items: plusPairs.items)
        let aux = propagate(x0, over: graphs.auxAll, weights: w)
        let converted = pairFeatures(aux, users: plusPairs.users, items: plusPairs.items)
        let unbought = pairFeatures(aux, users: minusPairs.users, items: minusPairs.items)
        let ones = [Float](repeating: 1, count: fake.shape[0])
        let scoreLoss =
            Tensor.binaryCrossEntropy(logits: scorer(converted), targets: ones)
            + Tensor.binaryCrossEntropy(logits: scorer(unbought), targets: [Float](repeating: 0, count: unbought.shape[0]))
        let generatorLoss = Tensor.binaryCrossEntropy(logits: discriminator(fake), targets: ones)
        return (scoreLoss + generatorLoss, real, fake)
    }

    /// Conversion logits `MLP(e_aux)` (eq. 7) of every auxiliary-only pair, in `graphs.auxMinusPairs` order.
    func conversionLogits() -> [Float] {
        let pairs = graphs.auxMinusPairs
        guard !pairs.users.isEmpty else { return [] }
        return Tensor.withoutGrad {
            let nodes = propagate(layer0, over: graphs.auxAll, weights: behaviorWeights())
            var out: [Float] = []
            out.reserveCapacity(pairs.users.count)
            let chunk = 65_536
            for start in stride(from: 0, to: pairs.users.count, by: chunk) {
                let r = start..<min(pairs.users.count, start + chunk)
                out += scorer(pairFeatures(nodes, users: Array(pairs.users[r]), items: Array(pairs.items[r]))).value
            }
            return out
        }
    }

    /// The logit at or above which an auxiliary-only pair is hesitant: the μ top fraction (eq. 9).
    func hesitationThreshold(_ logits: [Float]) -> Float {
        let keep = Int((Double(settings.mu) * Double(logits.count)).rounded())
        guard keep > 0 else { return .infinity }
        return logits.sorted(by: >)[keep - 1]
    }

    /// Chooses the hesitation set 𝓔_hes from the current scorer (eq. 9).
    func refreshHesitationSet() {
        let pairs = graphs.auxMinusPairs
        var users: [Int32] = [], items: [Int32] = []
        if settings.hesitatesOnEveryAuxiliaryPair {
            // Every auxiliary-only pair is hesitant whatever the scorer says (the default, μ = 1):
            // the same set, in the same order, without scoring them all each epoch.
            (users, items) = pairs
        } else {
            let logits = conversionLogits()
            let threshold = hesitationThreshold(logits)
            for k in logits.indices where logits[k] >= threshold {
                users.append(pairs.users[k])
                items.append(pairs.items[k])
            }
        }
        hesitationSet = (users, items)
        if settings.hesitationEdges {
            let buys = graphs.targetPairs
            targetGraph = SparseMatrix.normalizedBipartite(
                users: userCount,
                items: itemCount,
                edgeUsers: buys.users + users,
                edgeItems: buys.items + items,
                weights: [Float](repeating: 1, count: buys.users.count) + [Float](repeating: settings.beta, count: users.count)
            )
        }
    }

    /// Every user's auxiliary-only items with their conversion probability σ(y⁻_ui), as CSR rows
    /// (`rowStart[u] ..< rowStart[u + 1]` index `items` and `probabilities`), for serving to explain lists
    /// without the hesitation networks.
    public func conversionProbabilities() -> (rowStart: [Int], items: [Int32], probabilities: [Float]) {
        let m = graphs.auxMinus
        return (m.rowStart, m.items, conversionLogits().map(stableSigmoid))
    }

    /// One user's auxiliary-only items with their conversion probability σ(y⁻_ui), most likely first,
    /// and whether each is in the hesitation set the current parameters choose (`tacit inspect hesitation`).
    public func hesitation(user: Int32) -> [(item: Int32, probability: Float, hesitant: Bool)] {
        let logits = conversionLogits()
        let threshold = hesitationThreshold(logits)
        let m = graphs.auxMinus
        guard user >= 0, Int(user) < m.userCount else { return [] }
        let run = m.rowStart[Int(user)]..<m.rowStart[Int(user) + 1]
        return run.map { k in (m.items[k], stableSigmoid(logits[k]), logits[k] >= threshold) }
            .sorted { $0.probability > $1.probability }
    }
}
