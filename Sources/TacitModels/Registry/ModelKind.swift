import TacitTensor

/// Every model Tacit can train, by the name the command line, the configuration and snapshots spell.
/// Its settings, and how it is built, snapshotted and served, are `ModelSettings`.
public enum ModelKind: String, Sendable, CaseIterable, Codable {
    case popularity
    case bpr
    case lightgcn
    case hnt
    case sasrec
    case sine
    case emorec

    /// Models that score from a user's time-ordered history (`SequenceRecommender`): serving re-encodes
    /// the history on every request instead of looking up a user row.
    public var isSequential: Bool { [.sasrec, .sine, .emorec].contains(self) }
}

/// Models whose score is ⟨user, item⟩ of final embeddings, with layer-0 tables to warm-start from.
public protocol EmbeddingModel: Recommender {
    /// Layer-0 user and item tables: what a fine-tune warm-starts and serving folds new users into.
    var userEmbedding: Tensor { get }
    var itemEmbedding: Tensor { get }
    /// The tables scores come from: (users, d) and (items, d), row-major.
    func finalEmbeddings() -> (users: [Float], items: [Float])
}

extension BPRMF: EmbeddingModel {
    public func finalEmbeddings() -> (users: [Float], items: [Float]) { (userEmbedding.value, itemEmbedding.value) }
}

extension LightGCN: EmbeddingModel {}
extension HNT: EmbeddingModel {}
