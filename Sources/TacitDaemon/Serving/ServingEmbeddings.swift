import TacitModels
import TacitStore
import TacitTensor

/// An immutable trained model as served: layer-0 tables (what fine-tuning warm-starts from) and the
/// final tables (what scores), for `bpr` (final = layer 0) and `lightgcn`/`hnt` (final = mean over
/// propagation layers, LightGCN eq. 8; HNT's sum, eq. 17, without `averageLayers`); or, for the
/// sequential models (`sasrec`, `sine`), their network in `sequence`, which scores from a user's
/// history (no user tables; `items` holds the item embeddings). Shared by reference between the trainer and serving; swapped whole on promotion.
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
    /// How serving adds the current item trend to this model's scores (chosen by the trainer, kept in
    /// `metrics`); nil: the model's scores alone.
    public var trendPrior: TrendPrior? { TrendPrior(metrics: metrics) }
    /// The sequential model's network, for `sasrec` and `sine`.
    let sequence: SequenceScorer?
    /// HNT: the conversion probability of every auxiliary-only (user, item) pair at training time, to
    /// explain lists (the hesitation networks themselves are not served).
    public let conversion: ConversionTable?
    /// The settings it was trained with (nil for snapshots saved before they were recorded).
    public let settings: ModelSettings?
    /// Trained parameters besides the served tables (HNT's networks; EmoRec's graph encoder, which the next
    /// fine-tune warm-starts from), `parameter.<i>` in the model's `parameters` order: not served, kept so a
    /// snapshot holds the whole model.
    let parameters: [SnapshotTensor]
    /// Items with a (zero) row but no trained embedding: a model read from the models topic and laid out
    /// over this store's items (`reindexed`). They are never listed and count for nothing in a fold-in.
    let unlisted: Set<Int32>

    public convenience init(
        model: String,
        version: Int64,
        dim: Int,
        userCount: Int,
        itemCount: Int,
        userBase: [Float],
        itemBase: [Float],
        users: [Float],
        items: [Float],
        itemDegree: [Float],
        eventsThroughSeq: Int64,
        metrics: [String: Double],
        createdMs: Int64,
        conversion: ConversionTable? = nil,
        settings: ModelSettings? = nil,
        parameters: [SnapshotTensor] = []
    ) {
        self.init(
            model: model,
            version: version,
            dim: dim,
            userCount: userCount,
            itemCount: itemCount,
            userBase: userBase,
            itemBase: itemBase,
            users: users,
            items: items,
            itemDegree: itemDegree,
            eventsThroughSeq: eventsThroughSeq,
            metrics: metrics,
            createdMs: createdMs,
            sequence: nil,
            conversion: conversion,
            settings: settings,
            parameters: parameters
        )
    }

    /// A sequential model: its network and item embeddings, no user tables.
    convenience init(
        sequence: SequenceScorer,
        model: String,
        version: Int64,
        dim: Int,
        userCount: Int,
        items: [Float],
        eventsThroughSeq: Int64,
        metrics: [String: Double],
        createdMs: Int64,
        parameters: [SnapshotTensor] = []
    ) {
        self.init(
            model: model,
            version: version,
            dim: dim,
            userCount: userCount,
            itemCount: sequence.itemCount,
            userBase: [],
            itemBase: items,
            users: [],
            items: items,
            itemDegree: [],
            eventsThroughSeq: eventsThroughSeq,
            metrics: metrics,
            createdMs: createdMs,
            sequence: sequence,
            conversion: nil,
            settings: sequence.settings,
            parameters: parameters
        )
    }

    private init(
        model: String,
        version: Int64,
        dim: Int,
        userCount: Int,
        itemCount: Int,
        userBase: [Float],
        itemBase: [Float],
        users: [Float],
        items: [Float],
        itemDegree: [Float],
        eventsThroughSeq: Int64,
        metrics: [String: Double],
        createdMs: Int64,
        sequence: SequenceScorer?,
        conversion: ConversionTable?,
        settings: ModelSettings?,
        parameters: [SnapshotTensor],
        unlisted: Set<Int32> = []
    ) {
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
        self.conversion = conversion
        self.settings = settings
        self.parameters = parameters
        self.unlisted = unlisted
    }

    public var identity: ModelIdentity { ModelIdentity(name: model, version: version) }

    /// The same tables under another version and metrics.
    func with(version: Int64, metrics: [String: Double]? = nil) -> ServingEmbeddings {
        replacing(version: version, metrics: metrics ?? self.metrics)
    }

    /// The same model with other user tables (`TrainingWindow`): `count` users, layer-0 rows `base`, final rows
    /// `final`, and HNT's conversion table over them.
    func replacingUsers(count: Int, base: [Float], final: [Float], conversion: ConversionTable?) -> ServingEmbeddings {
        replacing(users: (count, base, final, conversion))
    }

    /// The same model with other item tables (tests sabotage candidates with it).
    func replacingItems(base: [Float], final: [Float]) -> ServingEmbeddings { replacing(items: (base, final)) }

    private func replacing(
        version: Int64? = nil,
        metrics: [String: Double]? = nil,
        users: (count: Int, base: [Float], final: [Float], conversion: ConversionTable?)? = nil,
        items: (base: [Float], final: [Float])? = nil
    ) -> ServingEmbeddings {
        ServingEmbeddings(
            model: model,
            version: version ?? self.version,
            dim: dim,
            userCount: users?.count ?? userCount,
            itemCount: itemCount,
            userBase: users?.base ?? userBase,
            itemBase: items?.base ?? itemBase,
            users: users?.final ?? self.users,
            items: items?.final ?? self.items,
            itemDegree: itemDegree,
            eventsThroughSeq: eventsThroughSeq,
            metrics: metrics ?? self.metrics,
            createdMs: createdMs,
            sequence: sequence,
            conversion: users == nil ? conversion : users?.conversion,
            settings: settings,
            parameters: parameters,
            unlisted: unlisted
        )
    }

    /// This model, from another instance (the models topic), laid out over this store's items: item row r
    /// moves to `localIDs[r]` of tables with `localItemCount` rows; the store's items the model never saw
    /// get zero rows and are `unlisted`. User tables are dropped (dense user ids are each store's own): every
    /// user is folded in from their items, as `trainer.fold_in_weight = 1` would rank them. A sequential
    /// network reads the store's items through a `SequenceScorer.ItemTranslation` of its rows, and no user.
    /// Nil when the rows do not fit.
    func reindexed(itemRows localIDs: [Int32], localItemCount: Int) -> ServingEmbeddings? {
        guard localIDs.count == itemCount, localIDs.allSatisfy({ $0 >= 0 && Int($0) < localItemCount }) else { return nil }
        var translated: SequenceScorer?
        if let sequence {
            guard let translation = SequenceScorer.ItemTranslation(itemRows: localIDs, localItemCount: localItemCount),
                let scorer = SequenceScorer(
                    settings: sequence.settings,
                    itemCount: sequence.modelItemCount,
                    tensors: sequence.tensors,
                    translation: translation
                )
            else { return nil }
            translated = scorer
        }
        func move(_ table: [Float], width: Int) -> [Float] {
            var out = [Float](repeating: 0, count: localItemCount * width)
            for (r, l) in localIDs.enumerated() {
                out.replaceSubrange(Int(l) * width..<(Int(l) + 1) * width, with: table[r * width..<(r + 1) * width])
            }
            return out
        }
        let placed = Set(localIDs)
        return ServingEmbeddings(
            model: model,
            version: version,
            dim: dim,
            userCount: 0,
            itemCount: localItemCount,
            userBase: [],
            itemBase: move(itemBase, width: dim),
            users: [],
            items: move(items, width: dim),
            itemDegree: itemDegree.isEmpty ? [] : move(itemDegree, width: 1),
            eventsThroughSeq: eventsThroughSeq,
            metrics: metrics,
            createdMs: createdMs,
            sequence: translated,
            conversion: nil,
            settings: settings,
            // EmoRec's graph encoder is laid out over the trainer's users and items, and only a fine-tune reads it.
            parameters: sequence == nil ? parameters : [],
            unlisted: Set((0..<Int32(localItemCount)).filter { !placed.contains($0) })
        )
    }

    // MARK: - Snapshots

    /// Tensor names in a snapshot. Final tables are stored too, so a restart serves without
    /// rebuilding the graph.
    enum TensorName {
        static let userBase = "user_embedding", itemBase = "item_embedding"
        static let users = "user_final", items = "item_final", itemDegree = "item_degree"
        static let conversionUsers = "conversion_user", conversionItems = "conversion_item"
        static let conversionProbabilities = "conversion_probability"
        /// Prefix of the other trained parameters (`parameter.<i>`).
        static let parameter = "parameter."
    }

    /// The snapshot to persist (version assigned by the store), in the current `SnapshotFormat`.
    func snapshot(metadata: [String: String], promoted: Bool) -> ModelSnapshot {
        let metadata = metadata.merging(SnapshotFormat.metadata(settings)) { $1 }
        if let sequence {
            return ModelSnapshot(
                model: model,
                createdMs: createdMs,
                metadata: metadata,
                metrics: metrics,
                tensors: sequence.tensors + parameters,
                userCount: userCount,
                itemCount: itemCount,
                eventsThroughSeq: eventsThroughSeq,
                promoted: promoted
            )
        }
        var tensors = [
            SnapshotTensor(name: TensorName.userBase, shape: [userCount, dim], values: userBase),
            SnapshotTensor(name: TensorName.itemBase, shape: [itemCount, dim], values: itemBase),
        ]
        if model != "bpr" {
            tensors += [
                SnapshotTensor(name: TensorName.users, shape: [userCount, dim], values: users),
                SnapshotTensor(name: TensorName.items, shape: [itemCount, dim], values: items),
                SnapshotTensor(name: TensorName.itemDegree, shape: [itemCount], values: itemDegree),
            ]
        }
        tensors += parameters
        if let conversion, let pairs = conversion.tensors() {
            tensors += [
                SnapshotTensor(name: TensorName.conversionUsers, shape: [pairs.users.count], values: pairs.users),
                SnapshotTensor(name: TensorName.conversionItems, shape: [pairs.items.count], values: pairs.items),
                SnapshotTensor(
                    name: TensorName.conversionProbabilities,
                    shape: [pairs.probabilities.count],
                    values: pairs.probabilities
                ),
            ]
        }
        return ModelSnapshot(
            model: model,
            createdMs: createdMs,
            metadata: metadata,
            metrics: metrics,
            tensors: tensors,
            userCount: userCount,
            itemCount: itemCount,
            eventsThroughSeq: eventsThroughSeq,
            promoted: promoted
        )
    }

    /// Rebuilds served embeddings from a stored snapshot; nil when its record cannot be read
    /// (`SnapshotFormat.record`) or tensors are missing or misshapen.
    public convenience init?(snapshot s: ModelSnapshot) {
        guard case .settings(let settings) = SnapshotFormat.record(of: s) else { return nil }
        if s.tensors.contains(where: { $0.name.hasPrefix("network.") }) {
            guard let settings, let scorer = SequenceScorer(settings: settings, itemCount: s.itemCount, tensors: s.tensors),
                let table = s.tensors.first(where: { $0.name == "network.0" }), let dim = table.shape.last
            else { return nil }
            self.init(
                sequence: scorer,
                model: s.model,
                version: s.version,
                dim: dim,
                userCount: s.userCount,
                items: Array(table.values.prefix(s.itemCount * dim)),
                eventsThroughSeq: s.eventsThroughSeq,
                metrics: s.metrics,
                createdMs: s.createdMs,
                parameters: Self.otherParameters(s)
            )
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
        var conversion: ConversionTable?
        if let cu = tensor(TensorName.conversionUsers), let ci = tensor(TensorName.conversionItems),
            let cp = tensor(TensorName.conversionProbabilities)
        {
            // A table that does not fit only costs the explanation, never the model.
            conversion = ConversionTable(
                userCount: s.userCount,
                itemCount: s.itemCount,
                users: cu.values,
                items: ci.values,
                probabilities: cp.values
            )
        }
        self.init(
            model: s.model,
            version: s.version,
            dim: dim,
            userCount: s.userCount,
            itemCount: s.itemCount,
            userBase: ub.values,
            itemBase: ib.values,
            users: uf,
            items: itf,
            itemDegree: deg,
            eventsThroughSeq: s.eventsThroughSeq,
            metrics: s.metrics,
            createdMs: s.createdMs,
            conversion: conversion,
            settings: settings,
            parameters: Self.otherParameters(s)
        )
    }

    /// `tensors` (a model's trained parameters besides the served tables) as `parameter.<i>`, in order.
    static func parameterTensors(_ tensors: [Tensor]) -> [SnapshotTensor] {
        tensors.enumerated().map { SnapshotTensor(name: TensorName.parameter + "\($0.offset)", shape: $0.element.shape, values: $0.element.value) }
    }

    /// A snapshot's `parameter.<i>` tensors, in order.
    private static func otherParameters(_ s: ModelSnapshot) -> [SnapshotTensor] {
        s.tensors.filter { $0.name.hasPrefix(TensorName.parameter) }
            .sorted { Int($0.name.dropFirst(TensorName.parameter.count)) ?? 0 < Int($1.name.dropFirst(TensorName.parameter.count)) ?? 0 }
    }
}

/// HNT's conversion probabilities of auxiliary-only (user, item) pairs as served, CSR by user, each row
/// most likely first.
public struct ConversionTable: Sendable, Equatable {
    public let rowStart: [Int]
    public let items: [Int32]
    public let probabilities: [Float]

    /// Snapshot tensors hold `Float`s: ids are stored exactly only below 2^24.
    static let exactIDs = 1 << 24

    /// From CSR rows over `rowStart.count - 1` users (HNT's `conversionProbabilities()`).
    public init(rowStart: [Int], items: [Int32], probabilities: [Float]) {
        precondition(items.count == probabilities.count && rowStart.last == items.count, "conversion table shape")
        var sortedItems = items, sortedProbabilities = probabilities
        for u in 0..<max(0, rowStart.count - 1) {
            let run = rowStart[u]..<rowStart[u + 1]
            let row = run.sorted { probabilities[$0] > probabilities[$1] }
            for (k, j) in zip(run, row) { (sortedItems[k], sortedProbabilities[k]) = (items[j], probabilities[j]) }
        }
        self.rowStart = rowStart
        self.items = sortedItems
        self.probabilities = sortedProbabilities
    }

    /// From snapshot tensors (user-major pairs); nil when they do not fit `userCount` × `itemCount`.
    init?(userCount: Int, itemCount: Int, users: [Float], items: [Float], probabilities: [Float]) {
        guard users.count == items.count, items.count == probabilities.count else { return nil }
        var rowStart = [Int](repeating: 0, count: userCount + 1)
        var last = -1
        for u in users {
            guard let user = Int(exactly: u), user >= last, user < userCount else { return nil }
            rowStart[user + 1] += 1
            last = user
        }
        for u in 0..<userCount { rowStart[u + 1] += rowStart[u] }
        var ids = [Int32]()
        ids.reserveCapacity(items.count)
        for i in items {
            guard let item = Int32(exactly: i), item >= 0, Int(item) < itemCount else { return nil }
            ids.append(item)
        }
        self.init(rowStart: rowStart, items: ids, probabilities: probabilities)
    }

    /// User-major pairs as snapshot tensors; nil when an id is too large to store exactly.
    func tensors() -> (users: [Float], items: [Float], probabilities: [Float])? {
        guard rowStart.count - 1 < Self.exactIDs, items.allSatisfy({ Int($0) < Self.exactIDs }) else { return nil }
        var users = [Float]()
        users.reserveCapacity(items.count)
        for u in 0..<rowStart.count - 1 { users += repeatElement(Float(u), count: rowStart[u + 1] - rowStart[u]) }
        return (users, items.map(Float.init), probabilities)
    }

    /// `user`'s auxiliary-only items, most likely to convert first (empty for users trained without any).
    public func row(user: Int32) -> [(item: Int32, probability: Float)] {
        guard user >= 0, Int(user) < rowStart.count - 1 else { return [] }
        return (rowStart[Int(user)]..<rowStart[Int(user) + 1]).map { (items[$0], probabilities[$0]) }
    }
}
