import TacitData
import TacitTensor

/// LightGCN (He et al. 2020): embeddings propagated over the normalized user–item graph,
/// `E^{l+1} = D^{-1/2} A D^{-1/2} E^l` (eq. 7), final embedding = mean of layers 0…L (eq. 8),
/// s(u, i) = ⟨e_u, e_i⟩, trained with BPR. Every batch propagates the full graph, as RecBole does,
/// so gradients reach every node the batch's nodes depend on.
public final class LightGCN: Recommender, CachesEmbeddings {
    public let name = "lightgcn"
    public let settings: EmbeddingSettings
    public let userEmbedding: Tensor  // (users, d) — layer 0
    public let itemEmbedding: Tensor  // (items, d)
    public var parameters: [Tensor] { [userEmbedding, itemEmbedding] }
    public var itemCount: Int { itemEmbedding.shape[0] }
    public let userCount: Int
    /// The normalized adjacency over users then items.
    public let adjacency: SparseMatrix
    private let batches: PairBatches
    private let optimizer: Adam
    private var cache: (users: [Float], items: [Float])?

    public init(train: TrainingSet, settings: EmbeddingSettings = EmbeddingSettings(), graph: UserItemMatrix? = nil) {
        self.settings = settings
        userCount = train.userCount
        var rng = SeededRNG(seed: settings.seed)
        userEmbedding = Initializer.xavierNormal([train.userCount, settings.dim], rng: &rng)
        itemEmbedding = Initializer.xavierNormal([train.itemCount, settings.dim], rng: &rng)
        let edges = (graph ?? train.target).pairs()
        adjacency = SparseMatrix.normalizedBipartite(
            users: train.userCount,
            items: train.itemCount,
            edgeUsers: edges.users,
            edgeItems: edges.items
        )
        batches = PairBatches(target: train.target)
        optimizer = Adam([userEmbedding, itemEmbedding], settings: .init(learningRate: settings.learningRate))
    }

    /// Layer-mean embeddings of all nodes: (users + items, d).
    public func propagate() -> Tensor {
        LightGCN.layerMean(adjacency, from: Tensor.concat([userEmbedding, itemEmbedding], axis: 0), layers: settings.layers)
    }

    /// The mean of `x0, A x0, …, A^L x0` (eq. 8). x0: (nodes, d) → (nodes, d).
    public static func layerMean(_ adjacency: SparseMatrix, from x0: Tensor, layers: Int) -> Tensor {
        var layer = x0, sum = x0
        for _ in 0..<layers {
            layer = Tensor.sparseMatmul(adjacency, layer)
            sum = sum + layer
        }
        return sum.scaled(by: 1 / Float(layers + 1))
    }

    public func trainEpoch(rng: inout SeededRNG) -> Float {
        cache = nil
        return batches.forEachBatch(size: settings.batchSize, rng: &rng) { b, _ in
            let all = propagate()
            let u = Tensor.gather(all, b.users)
            let i = Tensor.gather(all, b.positives.map { $0 + Int32(userCount) })
            let j = Tensor.gather(all, b.negatives.map { $0 + Int32(userCount) })
            var loss = Tensor.bprLoss(positive: Tensor.rowDot(u, i), negative: Tensor.rowDot(u, j))
            if settings.l2 > 0 {
                // L2 on the layer-0 embeddings of the batch (LightGCN eq. 15).
                let reg =
                    Tensor.gather(userEmbedding, b.users).squaredNorm()
                    + Tensor.gather(itemEmbedding, b.positives).squaredNorm()
                    + Tensor.gather(itemEmbedding, b.negatives).squaredNorm()
                loss = loss + reg.scaled(by: settings.l2 / Float(b.users.count))
            }
            loss.backward()
            optimizer.step()
            return loss.item
        }
    }

    public func invalidateCache() { cache = nil }

    /// Final (propagated) user and item embeddings, computed once per parameter state.
    public func finalEmbeddings() -> (users: [Float], items: [Float]) {
        if let cache { return cache }
        let result = splitNodeRows(Tensor.withoutGrad { propagate() }.value, userCount: userCount, dim: settings.dim)
        cache = result
        return result
    }

    public func scores(users: [Int32]) -> [Float] {
        let (u, i) = finalEmbeddings()
        return dotProductScores(users: users, userTable: u, itemTable: i, dim: settings.dim)
    }
}
