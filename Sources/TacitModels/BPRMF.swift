import TacitData
import TacitTensor

/// Matrix factorization trained with BPR (Rendle et al. 2009): s(u, i) = ⟨e_u, e_i⟩.
public final class BPRMF: Recommender {
    public let name = "bpr"
    public let settings: EmbeddingSettings
    public let userEmbedding: Tensor  // (users, d)
    public let itemEmbedding: Tensor  // (items, d)
    public var parameters: [Tensor] { [userEmbedding, itemEmbedding] }
    public var itemCount: Int { itemEmbedding.shape[0] }
    private let batches: PairBatches
    private let optimizer: Adam

    public init(train: TrainingSet, settings: EmbeddingSettings = EmbeddingSettings()) {
        self.settings = settings
        var rng = SeededRNG(seed: settings.seed)
        userEmbedding = Initializer.xavierNormal([train.userCount, settings.dim], rng: &rng)
        itemEmbedding = Initializer.xavierNormal([train.itemCount, settings.dim], rng: &rng)
        batches = PairBatches(target: train.target)
        optimizer = Adam([userEmbedding, itemEmbedding], settings: .init(learningRate: settings.learningRate))
    }

    public func trainEpoch(rng: inout SeededRNG) -> Float {
        batches.forEachBatch(size: settings.batchSize, rng: &rng) { b, _ in
            let u = Tensor.gather(userEmbedding, b.users)  // (B, d)
            let i = Tensor.gather(itemEmbedding, b.positives)  // (B, d)
            let j = Tensor.gather(itemEmbedding, b.negatives)  // (B, d)
            var loss = Tensor.bprLoss(positive: Tensor.rowDot(u, i), negative: Tensor.rowDot(u, j))
            if settings.l2 > 0 {
                let reg = (u.squaredNorm() + i.squaredNorm() + j.squaredNorm()).scaled(by: settings.l2 / Float(b.users.count))
                loss = loss + reg
            }
            loss.backward()
            optimizer.step()
            return loss.item
        }
    }

    public func scores(users: [Int32]) -> [Float] {
        Tensor.withoutGrad {
            Tensor.matmul(Tensor.gather(userEmbedding, users), itemEmbedding, transB: true).value
        }
    }
}
