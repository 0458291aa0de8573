import TacitStore

/// An immutable trained model as served: layer-0 tables (what fine-tuning warm-starts from) and the
/// final tables (what scores), for `bpr` (final = layer 0) and `lightgcn`/`hnt` (final = mean over
/// propagation layers, LightGCN eq. 8); or, for the sequential models (`sasrec`, `sine`), their
/// network in `sequence`, which scores from a user's history (no user tables; `items` holds the
/// item embeddings). Shared by reference between the trainer and serving; swapped whole on promotion.
public final class ServingEmbeddings: Sendable {
    public let model: String
    /// Snapshot version (0 until saved).
    public let version: Int64
    public let dim: Int
    public let userCount: Int
    public let itemCount: Int
    /// Layer-0 embeddings, (userCount, dim) and (itemCount, dim), row-major.
    public let userBase: [Float]
    public let itemBase: [Float]
    /// Final embeddings used for scoring: (userCount, dim) and (itemCount, dim).
    public let users: [Float]
    public let items: [Float]
    /// Degree of each item in the training graph (lightgcn fold-in normalization); empty for bpr.
    public let itemDegree: [Float]
    /// The newest event sequence number trained on.
    public let eventsThroughSeq: Int64
    public let metrics: [String: Double]
    public let createdMs: Int64
    /// The sequential model's network, for `sasrec` and `sine`.
    let sequence: SequenceScorer?

    public convenience init(model: String, version: Int64, dim: Int, userCount: Int, itemCount: Int, userBase: [Float], itemBase: [Float],
                users: [Float], items: [Float], itemDegree: [Float], eventsThroughSeq: Int64,
                metrics: [String: Double], createdMs: Int64) {
        self.init(model: model, version: version, dim: dim, userCount: userCount, itemCount: itemCount, userBase: userBase,
                  itemBase: itemBase, users: users, items: items, itemDegree: itemDegree,
                  eventsThroughSeq: eventsThroughSeq, metrics: metrics, createdMs: createdMs, sequence: nil)
    }

    /// A sequential model: its network and item embeddings, no user tables.
    convenience init(sequence: SequenceScorer, model: String, version: Int64, dim: Int, userCount: Int, items: [Float],
                     eventsThroughSeq: Int64, metrics: [String: Double], createdMs: Int64) {
        self.init(model: model, version: version, dim: dim, userCount: userCount, itemCount: sequence.itemCount, userBase: [],
                  itemBase: items, users: [], items: items, itemDegree: [], eventsThroughSeq: eventsThroughSeq, metrics: metrics,
                  createdMs: createdMs, sequence: sequence)
    }

    private init(model: String, version: Int64, dim: Int, userCount: Int, itemCount: Int, userBase: [Float], itemBase: [Float],
                 users: [Float], items: [Float], itemDegree: [Float], eventsThroughSeq: Int64,
                 metrics: [String: Double], createdMs: Int64, sequence: SequenceScorer?) {
        precondition(sequence != nil || (userBase.count == userCount * dim && users.count == userCount * dim), "user table shape")
        precondition(itemBase.count == itemCount * dim && items.count == itemCount * dim, "item table shape")
        self.model = model
        self.version = version
        self.dim = dim
        self.userCount = userCount
        self.itemCount = itemCount
        self.userBase = userBase
        self.itemBase = itemBase
        self.users = users
        self.items = items
        self.itemDegree = itemDegree
        self.eventsThroughSeq = eventsThroughSeq
        self.metrics = metrics
        self.createdMs = createdMs
        self.sequence = sequence
    }

    public var identity: ModelIdentity { ModelIdentity(name: model, version: version) }

    /// The same tables under another version and metrics.
    func with(version: Int64, metrics: [String: Double]? = nil) -> ServingEmbeddings {
        ServingEmbeddings(model: model, version: version, dim: dim, userCount: userCount, itemCount: itemCount,
                          userBase: userBase, itemBase: itemBase, users: users, items: items, itemDegree: itemDegree,
                          eventsThroughSeq: eventsThroughSeq, metrics: metrics ?? self.metrics,
                          createdMs: createdMs, sequence: sequence)
    }

    // MARK: - Snapshots

    /// Tensor names in a snapshot. Final tables are stored too, so a restart serves without
    /// rebuilding the graph.
    enum TensorName {
        static let userBase = "user_embedding", itemBase = "item_embedding"
        static let users = "user_final", items = "item_final", itemDegree = "item_degree"
    }

    /// The snapshot to persist (version assigned by the store).
    func snapshot(metadata: [String: String], promoted: Bool) -> ModelSnapshot {
        if let sequence {
            return ModelSnapshot(model: model, createdMs: createdMs, metadata: metadata.merging(sequence.architecture) { $1 },
                                 metrics: metrics, tensors: sequence.tensors, userCount: userCount, itemCount: itemCount,
                                 eventsThroughSeq: eventsThroughSeq, promoted: promoted)
        }
        var tensors = [SnapshotTensor(name: TensorName.userBase, shape: [userCount, dim], values: userBase),
                       SnapshotTensor(name: TensorName.itemBase, shape: [itemCount, dim], values: itemBase)]
        if model != "bpr" {
            tensors += [SnapshotTensor(name: TensorName.users, shape: [userCount, dim], values: users),
                        SnapshotTensor(name: TensorName.items, shape: [itemCount, dim], values: items),
                        SnapshotTensor(name: TensorName.itemDegree, shape: [itemCount], values: itemDegree)]
        }
        return ModelSnapshot(model: model, createdMs: createdMs, metadata: metadata, metrics: metrics, tensors: tensors,
                             userCount: userCount, itemCount: itemCount, eventsThroughSeq: eventsThroughSeq, promoted: promoted)
    }

    /// Rebuilds served embeddings from a stored snapshot; nil when tensors are missing or misshapen.
    public convenience init?(snapshot s: ModelSnapshot) {
        if s.tensors.contains(where: { $0.name.hasPrefix("network.") }) {
            guard let scorer = SequenceScorer(model: s.model, itemCount: s.itemCount, metadata: s.metadata, tensors: s.tensors),
                  let table = s.tensors.first(where: { $0.name == "network.0" }), let dim = table.shape.last
            else { return nil }
            self.init(sequence: scorer, model: s.model, version: s.version, dim: dim, userCount: s.userCount,
                      items: Array(table.values.prefix(s.itemCount * dim)), eventsThroughSeq: s.eventsThroughSeq,
                      metrics: s.metrics, createdMs: s.createdMs)
            return
        }
        func tensor(_ name: String) -> SnapshotTensor? { s.tensors.first { $0.name == name } }
        guard let ub = tensor(TensorName.userBase), let ib = tensor(TensorName.itemBase), ub.shape.count == 2,
              ib.shape.count == 2, ub.shape[1] == ib.shape[1], ub.shape[0] == s.userCount, ib.shape[0] == s.itemCount
        else { return nil }
        let dim = ub.shape[1]
        let uf = tensor(TensorName.users)?.values ?? ub.values
        let itf = tensor(TensorName.items)?.values ?? ib.values
        let deg = tensor(TensorName.itemDegree)?.values ?? []
        guard uf.count == ub.values.count, itf.count == ib.values.count, deg.isEmpty || deg.count == s.itemCount else { return nil }
        self.init(model: s.model, version: s.version, dim: dim, userCount: s.userCount, itemCount: s.itemCount,
                  userBase: ub.values, itemBase: ib.values, users: uf, items: itf, itemDegree: deg,
                  eventsThroughSeq: s.eventsThroughSeq, metrics: s.metrics, createdMs: s.createdMs)
    }
}
