import TacitData
import TacitTensor

/// SINE (sub-interest sequential recommendation from passive negative feedback;
/// seeds/sine-passive-negative-feedback.txt). The choices the paper leaves open, and where we part
/// from its reference code (models.md):
///
/// - The encoder is SASRec's over the user's positives (eqs. 6–10; `TransformerEncoder`), with the
///   reference command's shape: d = 50, one head, two blocks, dropout 0.5, up to 200 positions, and the
///   key-padding mask the reference code forgot.
/// - Sub-interest assignment (eq. 4): a positive p with a skip n just before it goes to
///   argmaxₖ ⟨e_p − e_n, z_k⟩, one without to argmaxₖ ⟨e_p, z_k⟩. Not differentiated (an argmax).
/// - β-attention (eqs. 8–9): the attention of query t on key j is multiplied by β₁ when ẑ_j equals the
///   sub-interest of the *query's own item* (the most recent positive the query has seen), else by
///   β₂ = 1 − β₁. The reference code compares with the assignment of the item being predicted, which
///   uses the label; ours reads only the input. `betaAttention = false` turns it off (as the reference's
///   published command has it).
/// - Sub-interests (eq. 11): õ_k = o + σ(o ⊙ z_k) ⊙ o.
/// - Fusion (eqs. 12–14): r_k = σ(w_eᵀ e_i + w_oᵀ õ_k + b), Y_k = r_k / Σ r, s = Σ Y_k ⟨õ_k, e_i⟩; the
///   weights depend on the candidate item. Without adaptive fusion (w/o AF) Y_k = 1/K.
/// - Losses (eqs. 15–16): L1 = BPR of each next positive against a uniform negative, L2 = BPR of it
///   against the skip just before it (positions without one add nothing), L_dis = Σ_{k<l} dCor(z_k, z_l);
///   L = L1 + λ₂ L2 + λ₃ L_dis, each a mean (the paper's λ₁+λ₂+λ₃ = 1 only rescales the step size under
///   Adam). Without negative feedback (w/o NF): no L2, and eq. 4 without its skip term.
public final class SINE: SequenceRecommender {
    public enum Ablation: String, Sendable, CaseIterable, Codable {
        case full
        /// w/o AF: sub-interests averaged instead of fused by item-dependent weights.
        case noAdaptiveFusion = "no-af"
        /// w/o NF: skips neither assign sub-interests nor enter the loss.
        case noNegativeFeedback = "no-nf"
    }

    public struct Settings: Sendable, Equatable, Codable {
        public var transformer = TransformerEncoder.Settings(dim: 50, heads: 1, blocks: 2, innerSize: 50, dropout: 0.5, maxLength: 200)
        /// Number of sub-interest prototypes K.
        public var prototypes = 3
        public var ablation: Ablation = .full
        public var betaAttention = true
        /// Attention weight between items of the same sub-interest (β₁; others get 1 − β₁).
        public var beta1: Float = 0.6
        /// λ₂: weight of the observed-skip pairs.
        public var skipWeight: Float = 1
        /// λ₃: weight of the prototypes' distance correlation.
        public var dcorWeight: Float = 1
        public var learningRate: Float = 1e-3
        public var batchSize = 128
        public var weightDecay: Float = 0
        /// Training windows end this many positions apart (nil: disjoint windows); see `SequenceWindows`.
        public var windowStride: Int?
        public var seed: UInt64 = 2024

        public init() {}
    }

    public let name = "sine"
    public let settings: Settings
    public let encoder: TransformerEncoder
    /// Sub-interest prototypes Z: (K, d).
    public let prototypes: Tensor
    /// Fusion weights of eq. 12: w_e (d, 1), w_o (d, 1), b (1).
    let fusionItem: Tensor, fusionInterest: Tensor, fusionBias: Tensor
    public var parameters: [Tensor] { encoder.parameters + [prototypes, fusionItem, fusionInterest, fusionBias] }
    public let itemCount: Int
    let training: SequenceTraining
    var windows: SequenceWindows { training.windows }
    var sampler: NegativeSampler { training.sampler }
    let optimizer: Adam

    var usesSkips: Bool { settings.ablation != .noNegativeFeedback }
    var dim: Int { settings.transformer.dim }

    public init(train: TrainingSet, settings: Settings = Settings()) {
        self.settings = settings
        itemCount = train.itemCount
        var rng = SeededRNG(seed: settings.seed)
        encoder = TransformerEncoder(itemCount: train.itemCount, settings: settings.transformer, rng: &rng)
        let d = settings.transformer.dim
        prototypes = Initializer.xavierNormal([settings.prototypes, d], rng: &rng)
        fusionItem = Initializer.xavierNormal([d, 1], rng: &rng)
        fusionInterest = Initializer.xavierNormal([d, 1], rng: &rng)
        fusionBias = Initializer.constant([1], 0)
        training = SequenceTraining(
            train,
            maxLength: settings.transformer.maxLength,
            stride: settings.windowStride,
            padding: encoder.padding
        )
        optimizer = Adam(
            encoder.parameters + [prototypes, fusionItem, fusionInterest, fusionBias],
            settings: .init(learningRate: settings.learningRate, weightDecay: settings.weightDecay)
        )
    }

    public func trainEpoch(rng: inout SeededRNG) -> Float {
        windows.forEachBatch(size: settings.batchSize, rng: &rng) { batch, rng in
            let loss = self.loss(batch, rng: &rng)
            loss.backward()
            optimizer.step()
            return loss.item
        }
    }

    /// L1 + λ₂ L2 + λ₃ L_dis of one batch.
    func loss(_ batch: SequenceWindows.Batch, rng: inout SeededRNG) -> Tensor {
        let interests = encode(
            batch.inputs,
            skips: batch.inputSkips,
            batch: batch.count,
            length: batch.length,
            training: true,
            rng: &rng
        )  // (B·L, K, d)
        let cells = batch.targets.indices.filter { batch.targets[$0] >= 0 }
        let o = Tensor.gather(interests, cells.map { Int32($0) })  // (N, K, d)
        let targets = cells.map { batch.targets[$0] }
        let negatives = cells.map { sampler.sample(for: batch.users[$0 / batch.length], rng: &rng) }
        let positive = score(o, items: targets)
        var loss = Tensor.bprLoss(positive: positive, negative: score(o, items: negatives))
        if usesSkips && settings.skipWeight > 0 {
            let withSkip = cells.indices.filter { batch.targetSkips[cells[$0]] >= 0 }
            if !withSkip.isEmpty {
                let rows = withSkip.map { Int32($0) }
                let skipScores = score(Tensor.gather(o, rows), items: withSkip.map { batch.targetSkips[cells[$0]] })
                loss =
                    loss
                    + Tensor.bprLoss(positive: Tensor.gather(positive, rows), negative: skipScores)
                    .scaled(by: settings.skipWeight)
            }
        }
        if settings.dcorWeight > 0 && settings.prototypes > 1 {
            loss = loss + prototypeCorrelation().scaled(by: settings.dcorWeight)
        }
        return loss
    }

    /// Σ_{k<l} dCor(z_k, z_l).
    func prototypeCorrelation() -> Tensor {
        let rows = (0..<settings.prototypes).map { prototypes.slice(axis: 0, $0..<($0 + 1)).reshaped([dim]) }
        var total: Tensor?
        for k in rows.indices {
            for l in (k + 1)..<rows.count {
                let c = Tensor.distanceCorrelation(rows[k], rows[l])
                total = total.map { $0 + c } ?? c
            }
        }
        return total!
    }

    /// Sub-interest embeddings õ_k (eq. 11) at every position: (B·L, K, d).
    func encode(
        _ inputs: [Int32],
        skips: [Int32],
        batch: Int,
        length: Int,
        training: Bool,
        rng: inout SeededRNG
    ) -> Tensor {
        let scale =
            settings.betaAttention
            ? betaScale(assignments(inputs, skips: skips), batch: batch, length: length) : nil
        let o = encoder.encode(inputs, batch: batch, length: length, training: training, rng: &rng, attentionScale: scale)
            .reshaped([batch * length, 1, dim])
        let z = prototypes.reshaped([1, settings.prototypes, dim])
        return o + (o * z).sigmoid() * o
    }

    /// Eq. 4 for every input item: the prototype its (positive − recent skip) embedding matches best;
    /// −1 at padding.
    func assignments(_ inputs: [Int32], skips: [Int32]) -> [Int] {
        let d = dim, k = settings.prototypes, pad = encoder.padding
        let e = encoder.itemEmbedding.value, z = prototypes.value
        return inputs.indices.map { c in
            let item = Int(inputs[c])
            guard inputs[c] != pad else { return -1 }
            let skip = usesSkips && skips[c] >= 0 ? Int(skips[c]) : -1
            var best = 0, bestValue = -Float.infinity
            for p in 0..<k {
                var v: Float = 0
                for j in 0..<d {
                    let diff = e[item * d + j] - (skip >= 0 ? e[skip * d + j] : 0)
                    v += diff * z[p * d + j]
                }
                if v > bestValue {
                    bestValue = v
                    best = p
                }
            }
            return best
        }
    }

    /// β of eq. 8 for each (query t, key j): β₁ when key j's sub-interest is query t's own, else 1 − β₁.
    func betaScale(_ assigned: [Int], batch: Int, length: Int) -> [Float] {
        let b1 = settings.beta1, b2 = 1 - settings.beta1
        var scale = [Float](repeating: b2, count: batch * length * length)
        for b in 0..<batch {
            for t in 0..<length where assigned[b * length + t] >= 0 {
                let own = assigned[b * length + t], base = (b * length + t) * length
                for j in 0...t where assigned[b * length + j] == own { scale[base + j] = b1 }
            }
        }
        return scale
    }

    /// Eqs. 12–14 for one candidate per row: interests (N, K, d), items N → scores (N).
    func score(_ interests: Tensor, items: [Int32]) -> Tensor {
        let n = items.count, k = settings.prototypes
        let e = Tensor.gather(encoder.itemEmbedding, items)  // (N, d)
        let matches = (interests * e.reshaped([n, 1, dim])).sum(axis: 2)  // (N, K)
        guard settings.ablation != .noAdaptiveFusion else { return matches.mean(axis: 1) }
        let r = (Tensor.linear(interests, fusionInterest).reshaped([n, k]) + Tensor.linear(e, fusionItem) + fusionBias).sigmoid()
        let weights = r / r.sum(axis: 1).reshaped([n, 1])
        return (weights * matches).sum(axis: 1)
    }

    public func scores(users: [Int32]) -> [Float] { scores(histories: users.map { training.histories[Int($0)] }) }

    /// Eqs. 12–14 against every item at once: ⟨õ_k, e_i⟩ through one product, the fusion weights from
    /// w_eᵀ e_i (once per item) and w_oᵀ õ_k + b (once per sub-interest).
    public func scores(histories: [[Interaction]]) -> [Float] {
        Tensor.withoutGrad {
            let sequences = histories.map { PositiveSequence($0, kinds: training.kinds) }
            let (inputs, length) = encoder.leftPadded(sequences.map { $0.items[...] })
            let skips = TransformerEncoder.leftPad(sequences.map { $0.recentSkips[...] }, length: length, fill: -1)
            var rng = SeededRNG(seed: 0)  // unused: no dropout at inference
            let all = encode(inputs, skips: skips, batch: sequences.count, length: length, training: false, rng: &rng)
            let last = Tensor.gather(all, TransformerEncoder.lastPositions(batch: sequences.count, length: length))  // (B, K, d)
            let k = settings.prototypes, n = itemCount, users = sequences.count
            let table = encoder.itemEmbedding.slice(axis: 0, 0..<n)
            let matches = Tensor.matmul(last.reshaped([users * k, dim]), table, transB: true).value  // (B·K, n)
            if settings.ablation == .noAdaptiveFusion {
                var out = [Float](repeating: 0, count: users * n)
                for b in 0..<users { for p in 0..<k { for i in 0..<n { out[b * n + i] += matches[(b * k + p) * n + i] / Float(k) } } }
                return out
            }
            let itemTerm = Tensor.matmul(table, fusionItem).value  // (n)
            let interestTerm = Tensor.linear(last.reshaped([users * k, dim]), fusionInterest, fusionBias).value  // (B·K)
            var out = [Float](repeating: 0, count: users * n)
            out.withUnsafeMutableBufferPointer { po in
                Compute.parallelFor(users, minChunk: 1) { range in
                    for b in range {
                        for i in 0..<n {
                            var num: Float = 0, den: Float = 0
                            for p in 0..<k {
                                let r = stableSigmoid(itemTerm[i] + interestTerm[b * k + p])
                                num += r * matches[(b * k + p) * n + i]
                                den += r
                            }
                            po[b * n + i] = num / den
                        }
                    }
                }
            }
            return out
        }
    }
}
