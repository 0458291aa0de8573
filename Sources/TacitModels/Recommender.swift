import TacitData
import TacitTensor

/// A model that learns from a `TrainingSet` and scores items for users. Training, model selection
/// and evaluation (TacitEval) and serving (TacitDaemon) drive every model through this protocol.
public protocol Recommender: AnyObject {
    /// The model's name as the command line spells it (`lightgcn`, `hnt`, …).
    var name: String { get }
    /// Learnable tensors, in a fixed order (empty for models without parameters).
    var parameters: [Tensor] { get }
    /// One pass over the training data; returns the mean training loss.
    func trainEpoch(rng: inout SeededRNG) -> Float
    /// Scores of all items for each of `users`: `users.count × itemCount`, row-major.
    func scores(users: [Int32]) -> [Float]
    /// Number of items scored.
    var itemCount: Int { get }
}

extension Recommender {
    /// Copies of the parameter values (for keeping the best epoch).
    public func snapshot() -> [[Float]] { parameters.map(\.value) }

    /// Puts back values taken by `snapshot()`.
    public func restore(_ values: [[Float]]) {
        precondition(values.count == parameters.count, "snapshot of \(values.count) tensors for \(parameters.count)")
        for (p, v) in zip(parameters, values) { p.value = v }
        parametersChanged()
    }

    /// Called after parameters change outside training (caches of propagated embeddings drop).
    public func parametersChanged() { (self as? CachesEmbeddings)?.invalidateCache() }

    /// Scores of `items` for one user.
    public func scores(user: Int32, items: [Int32]) -> [Float] {
        let all = scores(users: [user])
        return items.map { all[Int($0)] }
    }
}

/// Node-major embeddings (users, then items; rows of `dim`) as separate user and item tables.
func splitNodeRows(_ all: [Float], userCount: Int, dim: Int) -> (users: [Float], items: [Float]) {
    let split = userCount * dim
    return (Array(all[..<split]), Array(all[split...]))
}

/// ⟨e_u, e_i⟩ of each of `users` against every item, from final (users, dim) and (items, dim)
/// tables: `users.count × items`, row-major.
func dotProductScores(users: [Int32], userTable: [Float], itemTable: [Float], dim: Int) -> [Float] {
    let u = Tensor(shape: [userTable.count / dim, dim], value: userTable)
    let i = Tensor(shape: [itemTable.count / dim, dim], value: itemTable)
    return Tensor.matmul(Tensor.gather(u, users), i, transB: true).value
}

/// Models that cache derived embeddings between training steps and scoring.
public protocol CachesEmbeddings: AnyObject {
    func invalidateCache()
}

/// Hyperparameters shared by the embedding models.
public struct EmbeddingSettings: Sendable, Equatable, Codable {
    /// Embedding size d.
    public var dim: Int = 64
    /// Adam learning rate.
    public var learningRate: Float = 1e-3
    /// Training pairs per step.
    public var batchSize: Int = 2048
    /// Weight of the L2 penalty on the embeddings a batch touches (averaged over the batch).
    public var l2: Float = 1e-4
    /// Graph propagation layers (graph models).
    public var layers: Int = 3
    /// Seed for initialization (training randomness comes from the caller's generator).
    public var seed: UInt64 = 2024

    public init(
        dim: Int = 64,
        learningRate: Float = 1e-3,
        batchSize: Int = 2048,
        l2: Float = 1e-4,
        layers: Int = 3,
        seed: UInt64 = 2024
    ) {
        self.dim = dim
        self.learningRate = learningRate
        self.batchSize = batchSize
        self.l2 = l2
        self.layers = layers
        self.seed = seed
    }
}
