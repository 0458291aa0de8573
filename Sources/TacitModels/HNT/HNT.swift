import TacitData
import TacitTensor

/// HNT (Li et al., "User Hesitation and Negative Transfer in Multi-Behavior Recommendation"): a
/// target-behavior LightGCN into which auxiliary behaviors (view, fav, cart) transfer through
/// multi-head attention, minus an estimated negative-transfer vector (eqs. 10–17), trained with a
/// BPR loss whose positives include a learned *hesitation set* of auxiliary-only pairs (eqs. 1–9, 18).
///
/// What the paper leaves open and we chose (models.md asks each choice to be written down):
/// - All modules start from one pair of layer-0 user/item tables; each graph propagates them its own way.
/// - `w_b = f(‖ e_b)` (eq. 4): f is an MLP from the concatenated behavior embeddings to one d-vector
///   per behavior, `w_b = 2σ(·)`, so every w_b starts near 1 and the hesitation graphs start as LightGCN.
/// - Eq. 11 as printed (H divided by a sum) is a typesetting loss of the usual multi-head form; we
///   read α as the concatenation over heads of `β^h · W_V^h e^k`, a d-vector, and m (eq. 10) as
///   `α ⊙ σ(W_{k→k*}(e^k ⊙ e^{k*}))`. Q comes from the auxiliary behavior, K from the target layer
///   being propagated, the softmax runs over auxiliary behaviors (eq. 12). Users and items alike.
/// - δ (eqs. 14–15) is recomputed from the current embeddings in every step (its mean difference
///   carries gradient); the similarity factor is a constant refreshed once per epoch, over at most
///   4,096 sampled auxiliary items, and kept in the parameters so a restored snapshot scores the same.
/// - The adversarial game (eq. 5): D is trained on detached embeddings with its own Adam; f and the
///   embeddings get the non-saturating generator loss `−log D(e⁺_aux)`.
/// - The conversion scorer (eqs. 7–8) scores pairs with and without a buy on embeddings from one
///   graph, all auxiliary edges (G⁺_aux ∪ G⁻_aux). Read literally, positives come from G⁺_aux and
///   negatives from G⁻_aux: the scorer then learns which graph a pair came from, every auxiliary-only
///   pair scores ≈ 0, and "similar to pairs that converted" (eq. 9) loses its meaning. The adversarial
///   game of eq. 5 keeps its two graphs, G⁺ and G⁺_aux.
/// - μ (eq. 9) is a top fraction: the μ share of auxiliary-only pairs with the highest conversion
///   score form the hesitation set, refreshed every epoch after `hesitationWarmup` epochs.
/// - λ3 (eq. 19) penalizes the layer-0 embeddings the batch touches, as in our LightGCN.
/// - The hesitation set also joins the target graph that eq. 16 propagates over (edges of weight β),
///   as it joins the target's positives: `O⁺ = O⁺_true ∪ O⁺_hes` are the target interactions the
///   model learns from. The paper propagates over observed buys only; `hesitationEdges = false`
///   does that. On Retail Rocket, where 58% of test items were never bought in training, the
///   difference is large (see docs/hnt.md).
public final class HNT: Recommender, CachesEmbeddings {
    public struct Settings: Sendable, Equatable, Codable {
        public var embedding = EmbeddingSettings(l2: 1e-4)
        /// Attention heads H (eqs. 11–12); must divide d.
        public var heads = 2
        /// Share of auxiliary-only pairs that join the hesitation set (μ as a top fraction).
        /// 1 (all of them) and β = 1 were best on Retail Rocket's validation split (docs/hnt.md).
        public var mu: Float = 1
        /// μ ≥ 1: the hesitation set is every auxiliary-only pair, whatever the conversion scorer says.
        public var hesitatesOnEveryAuxiliaryPair: Bool { mu >= 1 }
        /// Weight β of a hesitation pair in the BPR loss (eq. 18).
        public var beta: Float = 1
        /// λ1 (hesitation module), λ2 (contrastive alignment), eq. 19.
        public var lambda1: Float = 0.1
        /// The paper's 0.05 with our per-anchor mean InfoNCE (≈ log 1024 per term at the start)
        /// outweighed BPR tenfold and cost validation NDCG; 0.005 is the validation choice.
        public var lambda2: Float = 0.005
        /// InfoNCE temperature τ (eq. 13).
        public var temperature: Float = 0.2
        /// Epochs before the first hesitation set is chosen (the scorer needs to have learned something).
        public var hesitationWarmup = 3
        /// The hesitation module's losses (eqs. 5 and 8) are computed on every `hesitationEvery`-th step only,
        /// weighted `hesitationEvery · λ1`, so their weight per epoch is unchanged. They cost three of a step's
        /// four full-graph propagations; 1 (every step) is the paper's.
        public var hesitationEvery = 1
        /// Whether hesitation pairs also become (β-weighted) edges of the target graph.
        public var hesitationEdges = true
        /// The final embeddings are the mean of layers 0…L, as LightGCN's; false: their sum (eq. 17). A sum
        /// is L + 1 times the mean, so every BPR logit is (L + 1)² times larger and saturates that much sooner.
        public var averageLayers = false
        /// Module switches, for the paper's ablations (`transfer` off leaves no path from the
        /// auxiliary behaviors into the target embeddings but the hesitation set: a diagnostic).
        public var transfer = true
        public var hesitation = true
        public var negativeTransfer = true
        public var contrastive = true

        public init() {}

        /// The paper's ablations: `base` keeps the attention fusion only; `no-hesitation` drops the
        /// hesitation module; `no-negative-transfer` drops δ. Ours: `hesitation-only` drops the
        /// attention transfer, δ and the contrastive loss, keeping the hesitation module alone.
        public static let ablations = ["full", "base", "no-hesitation", "no-negative-transfer", "hesitation-only"]

        public mutating func apply(ablation: String) throws {
            switch ablation {
            case "full": break
            case "base":
                hesitation = false
                negativeTransfer = false
                contrastive = false
            case "no-hesitation": hesitation = false
            case "no-negative-transfer": negativeTransfer = false
            case "hesitation-only":
                transfer = false
                negativeTransfer = false
                contrastive = false
            default: throw UnknownAblation(name: ablation)
            }
        }

        private enum CodingKeys: String, CodingKey {
            case embedding, heads, mu, beta, lambda1, lambda2, temperature, hesitationWarmup, hesitationEvery, hesitationEdges
            case averageLayers, transfer, hesitation, negativeTransfer, contrastive
        }

        /// Snapshots record their settings; those saved before `hesitationEvery` and `averageLayers` existed trained
        /// on every step and summed their layers.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            embedding = try c.decode(EmbeddingSettings.self, forKey: .embedding)
            heads = try c.decode(Int.self, forKey: .heads)
            mu = try c.decode(Float.self, forKey: .mu)
            beta = try c.decode(Float.self, forKey: .beta)
            lambda1 = try c.decode(Float.self, forKey: .lambda1)
            lambda2 = try c.decode(Float.self, forKey: .lambda2)
            temperature = try c.decode(Float.self, forKey: .temperature)
            hesitationWarmup = try c.decode(Int.self, forKey: .hesitationWarmup)
            hesitationEvery = try c.decodeIfPresent(Int.self, forKey: .hesitationEvery) ?? 1
            hesitationEdges = try c.decode(Bool.self, forKey: .hesitationEdges)
            averageLayers = try c.decodeIfPresent(Bool.self, forKey: .averageLayers) ?? false
            transfer = try c.decode(Bool.self, forKey: .transfer)
            hesitation = try c.decode(Bool.self, forKey: .hesitation)
            negativeTransfer = try c.decode(Bool.self, forKey: .negativeTransfer)
            contrastive = try c.decode(Bool.self, forKey: .contrastive)
        }
    }

    public struct UnknownAblation: Error, CustomStringConvertible {
        public let name: String
        public var description: String { "unknown ablation '\(name)': choose one of \(Settings.ablations.joined(separator: ", "))" }
    }

    public let name = "hnt"
    public let settings: Settings
    public let userCount: Int
    public let itemCount: Int
    let graphs: HNTGraphs
    let behaviorCount: Int

    // Layer-0 embeddings, shared by every module.
    public let userEmbedding: Tensor, itemEmbedding: Tensor
    // Hesitation module: behavior embeddings e_b, feature network f, discriminator D, conversion scorer.
    let behaviorEmbedding: Tensor
    let featureNetwork: MLP
    let discriminator: MLP
    let scorer: MLP
    // Negative-transfer module: W_Q, W_K, W_V (all heads side by side), W_{k→k*} per auxiliary behavior.
    let query: Tensor, key: Tensor, value: Tensor
    let transfer: [Tensor]
    /// Per auxiliary behavior, the similarity factor of eq. 15 (not trained; refreshed each epoch).
    let deltaScale: Tensor
    /// Constants of the transfer, built once: the (H, d) head-membership matrix, and each node's
    /// row of the δ table (0 users, 1 items).
    let headExpansion: Tensor
    let nodeSide: [Int32]

    private let optimizer: Adam
    private let discriminatorOptimizer: Adam
    private let trueUsers: [Int32], trueItems: [Int32]
    private let sampler: NegativeSampler
    /// The current hesitation set (eq. 9), as (user, item) pairs.
    public internal(set) var hesitationSet: (users: [Int32], items: [Int32]) = ([], [])
    /// The normalized target graph of eq. 16: observed buys, plus the hesitation set when
    /// `hesitationEdges` is on.
    var targetGraph: SparseMatrix
    private var epochsTrained = 0
    private var stepsTrained = 0
    private var cache: (users: [Float], items: [Float])?

    public var parameters: [Tensor] {
        [userEmbedding, itemEmbedding, behaviorEmbedding] + featureNetwork.parameters + discriminator.parameters
            + scorer.parameters + [query, key, value] + transfer + [deltaScale]
    }

    public init(train: TrainingSet, settings: Settings = Settings()) {
        precondition(settings.embedding.dim % settings.heads == 0, "heads (\(settings.heads)) must divide d (\(settings.embedding.dim))")
        self.settings = settings
        userCount = train.userCount
        itemCount = train.itemCount
        graphs = HNTGraphs(train: train)
        behaviorCount = train.taxonomy.behaviors.count
        let d = settings.embedding.dim
        var rng = SeededRNG(seed: settings.embedding.seed)
        userEmbedding = Initializer.xavierNormal([userCount, d], rng: &rng)
        itemEmbedding = Initializer.xavierNormal([itemCount, d], rng: &rng)
        behaviorEmbedding = Initializer.xavierNormal([behaviorCount, d], rng: &rng)
        featureNetwork = MLP(inputs: behaviorCount * d, hidden: d, outputs: behaviorCount * d, rng: &rng)
        discriminator = MLP(inputs: 2 * d, hidden: d, outputs: 1, rng: &rng)
        scorer = MLP(inputs: 2 * d, hidden: d, outputs: 1, rng: &rng)
        query = Initializer.xavierNormal([d, d], rng: &rng)
        key = Initializer.xavierNormal([d, d], rng: &rng)
        // W_V starts at zero, so the transfer (α ∝ W_V e^k) starts at zero and the target branch
        // starts as LightGCN; the attention earns its contribution. Xavier-initialized, the transfer
        // added noise to every layer and cost 0.04 validation NDCG@10 on Retail Rocket (docs/hnt.md).
        value = Tensor(zeros: [d, d], requiresGrad: true)
        transfer = graphs.auxiliary.map { _ in Initializer.xavierNormal([d, d], rng: &rng) }
        deltaScale = Tensor(zeros: [max(1, graphs.auxiliary.count)], fill: 1)
        headExpansion = HNT.headExpansion(dim: d, heads: settings.heads)
        nodeSide = [Int32](repeating: 0, count: userCount) + [Int32](repeating: 1, count: itemCount)
        targetGraph = graphs.target
        let t = train.target.pairs()
        trueUsers = t.users
        trueItems = t.items
        sampler = NegativeSampler(positives: train.target)
        let trained =
            [userEmbedding, itemEmbedding, behaviorEmbedding] + featureNetwork.parameters + scorer.parameters
            + [query, key, value] + transfer
        optimizer = Adam(trained, settings: .init(learningRate: settings.embedding.learningRate))
        discriminatorOptimizer = Adam(discriminator.parameters, settings: .init(learningRate: settings.embedding.learningRate))
    }

    var layer0: Tensor { Tensor.concat([userEmbedding, itemEmbedding], axis: 0) }

    // MARK: - Training

    public func trainEpoch(rng: inout SeededRNG) -> Float {
        cache = nil
        if settings.negativeTransfer { refreshDeltaScale(rng: &rng) }
        if settings.hesitation && epochsTrained >= settings.hesitationWarmup { refreshHesitationSet() }
        epochsTrained += 1

        // O⁺: true buys (weight 1) and hesitation pairs (weight β), shuffled together.
        let pairs = PairBatches(
            users: trueUsers + hesitationSet.users,
            items: trueItems + hesitationSet.items,
            weights: [Float](repeating: 1, count: trueUsers.count)
                + [Float](repeating: settings.beta, count: hesitationSet.users.count),
            sampler: sampler
        )
        return pairs.forEachBatch(size: settings.embedding.batchSize, rng: &rng) { b, rng in
            step(users: b.users, positives: b.positives, negatives: b.negatives, weights: b.weights, rng: &rng)
        }
    }

    /// One optimization step on a batch; returns the total loss (eq. 19).
    private func step(users: [Int32], positives: [Int32], negatives: [Int32], weights: [Float], rng: inout SeededRNG) -> Float {
        let x0 = layer0
        let auxiliary = auxiliaryEmbeddings(x0)
        let target = targetEmbeddings(x0, auxiliary: auxiliary)
        let offset = Int32(userCount)
        let u = Tensor.gather(target, users)
        let i = Tensor.gather(target, positives.map { $0 + offset })
        let j = Tensor.gather(target, negatives.map { $0 + offset })
        var loss = Tensor.bprLoss(positive: Tensor.rowDot(u, i), negative: Tensor.rowDot(u, j), weights: weights)
        if settings.embedding.l2 > 0 {
            let reg =
                Tensor.gather(userEmbedding, users).squaredNorm() + Tensor.gather(itemEmbedding, positives).squaredNorm()
                + Tensor.gather(itemEmbedding, negatives).squaredNorm()
            loss = loss + reg.scaled(by: settings.embedding.l2 / Float(users.count))
        }
        if settings.contrastive && !auxiliary.isEmpty {
            loss =
                loss
                + contrastiveLoss(auxiliary: auxiliary, target: target, users: users, items: positives, rng: &rng)
                .scaled(by: settings.lambda2)
        }
        var adversarial: (real: Tensor, fake: Tensor)?
        stepsTrained += 1
        let every = max(1, settings.hesitationEvery)
        if settings.hesitation, stepsTrained % every == 0, !graphs.auxPlusPairs.users.isEmpty, !graphs.auxMinusPairs.users.isEmpty {
            let h = hesitationLosses(x0, batch: users.count, rng: &rng)
            loss = loss + h.loss.scaled(by: settings.lambda1 * Float(every))
            adversarial = (h.real, h.fake)
        }
        loss.backward()
        discriminatorOptimizer.zeroGrad()  // D's gradient from the generator loss is not D's to follow
        optimizer.step()
        if let adversarial {
            // D learns to tell e⁺ (real) from e⁺_aux (fake), eq. 5, on detached embeddings.
            let dLoss =
                Tensor.binaryCrossEntropy(
                    logits: discriminator(adversarial.real.detached()),
                    targets: [Float](repeating: 1, count: adversarial.real.shape[0])
                )
                + Tensor.binaryCrossEntropy(
                    logits: discriminator(adversarial.fake.detached()),
                    targets: [Float](repeating: 0, count: adversarial.fake.shape[0])
                )
            dLoss.backward()
            discriminatorOptimizer.step()
        }
        return loss.item
    }

    // MARK: - Scoring

    /// Parameters changed from outside (a restored snapshot): drop the cached embeddings and
    /// re-choose the hesitation set (and with it the target graph) from the new parameters.
    public func invalidateCache() {
        cache = nil
        if !hesitationSet.users.isEmpty { refreshHesitationSet() }
    }

    /// Final target-behavior embeddings (eq. 17), computed once per parameter state.
    public func finalEmbeddings() -> (users: [Float], items: [Float]) {
        if let cache { return cache }
        let all = Tensor.withoutGrad { () -> Tensor in
            let x0 = layer0
            return targetEmbeddings(x0, auxiliary: auxiliaryEmbeddings(x0))
        }.value
        let result = splitNodeRows(all, userCount: userCount, dim: settings.embedding.dim)
        cache = result
        return result
    }

    public func scores(users: [Int32]) -> [Float] {
        let (u, i) = finalEmbeddings()
        return dotProductScores(users: users, userTable: u, itemTable: i, dim: settings.embedding.dim)
    }
}
