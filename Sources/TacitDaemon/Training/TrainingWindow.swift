import TacitData

/// A fine-tune over the newest users only (`trainer.max_users`): what bounds the time and memory of a
/// graph model's fine-tune (bpr, lightgcn, hnt) as the store grows.
///
/// Their cost grows with the training graph: node tables of (users + items) × `dim` per layer, and HNT's
/// per-edge networks with the edges. The window keeps the `maxUsers` users with the newest positive events,
/// renumbered 0..<maxUsers, with all their positives, over the whole catalogue (item ids unchanged, so the
/// item tables and degrees stay the store's). The model is warm-started from the serving model's rows of
/// those users and, once trained, laid back out over every user:
/// - users in the window get their new rows;
/// - the others get a zero final row, which serving reads as "no trained vector": they are served the
///   fold-in of their items (`FoldIn.vector`), as a user new since the snapshot is. Their layer-0 rows are
///   kept from the serving model, so a user who comes back into the window starts from what was learnt.
struct TrainingWindow {
    /// The store's user id of each of the window's users, ascending (local id = index).
    let users: [Int32]
    /// The window's data: users renumbered, items as in the store.
    let data: TrainingData

    /// Nil when every user with training positives fits (or `maxUsers` is 0: no bound).
    init?(_ all: TrainingData, maxUsers: Int) {
        guard maxUsers > 0 else { return nil }
        let active = all.train.indices.filter { !all.train[$0].isEmpty }
        guard active.count > maxUsers else { return nil }
        // Positives are in event-time order; the newest by arrival is the largest seq.
        func newest(_ u: Int) -> Int64 { max(all.train[u].lazy.map(\.seq).max() ?? 0, all.heldOut[u].lazy.map(\.seq).max() ?? 0) }
        let chosen = active.map { (user: $0, newest: newest($0)) }
            .sorted { ($0.newest, $0.user) > ($1.newest, $1.user) }
            .prefix(maxUsers).map(\.user).sorted()
        users = chosen.map(Int32.init)
        func renumbered(_ sequences: [[Interaction]]) -> [[Interaction]] {
            chosen.enumerated().map { local, user in
                sequences[user].map {
                    var e = $0
                    e.user = Int32(local)
                    return e
                }
            }
        }
        data = TrainingData(
            userCount: chosen.count,
            itemCount: all.itemCount,
            throughSeq: all.throughSeq,
            train: chosen.map { all.train[$0] },
            heldOut: chosen.map { all.heldOut[$0] },
            sequences: renumbered(all.sequences),
            fullSequences: renumbered(all.fullSequences)
        )
    }

    /// `previous` laid out over the window's users, to warm-start from (rows of users it never had are zero,
    /// which the warm start skips).
    func local(_ previous: ServingEmbeddings) -> ServingEmbeddings {
        let d = previous.dim
        func gather(_ table: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: users.count * d)
            for (local, user) in users.enumerated() where Int(user) < previous.userCount {
                out.replaceSubrange(local * d..<(local + 1) * d, with: table[Int(user) * d..<(Int(user) + 1) * d])
            }
            return out
        }
        return previous.replacingUsers(count: users.count, base: gather(previous.userBase), final: gather(previous.users), conversion: nil)
    }

    /// `trained` (over the window's users) laid out over the store's `userCount` users: the window's rows
    /// where they belong, zero final rows for the others, whose layer-0 rows come from `previous` when it is
    /// the same model.
    func global(_ trained: ServingEmbeddings, previous: ServingEmbeddings?, userCount: Int) -> ServingEmbeddings {
        let d = trained.dim
        var base = [Float](repeating: 0, count: userCount * d)
        if let previous, previous.model == trained.model, previous.dim == d, previous.sequence == nil {
            let rows = min(previous.userCount, userCount)
            base.replaceSubrange(0..<rows * d, with: previous.userBase[0..<rows * d])
        }
        var final = [Float](repeating: 0, count: userCount * d)
        for (local, user) in users.enumerated() {
            let row = Int(user) * d..<(Int(user) + 1) * d, source = local * d..<(local + 1) * d
            base.replaceSubrange(row, with: trained.userBase[source])
            final.replaceSubrange(row, with: trained.users[source])
        }
        return trained.replacingUsers(
            count: userCount,
            base: base,
            final: final,
            conversion: trained.conversion.map { global($0, userCount: userCount) }
        )
    }

    /// HNT's conversion table, rows moved from the window's users to the store's.
    func global(_ c: ConversionTable, userCount: Int) -> ConversionTable {
        var rowStart = [Int](repeating: 0, count: userCount + 1)
        for (local, user) in users.enumerated() { rowStart[Int(user) + 1] = c.rowStart[local + 1] - c.rowStart[local] }
        for u in 0..<userCount { rowStart[u + 1] += rowStart[u] }
        // The window's users are ascending, so their rows keep their order and the pairs stay as they are.
        return ConversionTable(rowStart: rowStart, items: c.items, probabilities: c.probabilities)
    }
}
