extension Dataset {
    /// Keeps the interactions for which `keep` is true, then re-indexes users and items densely
    /// (dropping any that no longer occur) so embedding tables have no dead rows.
    public func filtered(_ keep: (Interaction) -> Bool) -> Dataset {
        compacted(interactions.filter(keep))
    }

    /// RecBole's rating filter: keeps interactions whose value lies in `range` (e.g. ratings ≥ 3).
    public func keepingRatings(atLeast minimum: Float) -> Dataset {
        hasRatings ? filtered { $0.value >= minimum } : self
    }

    /// Iterative k-core: drops users and items with fewer than `minUser`/`minItem` interactions
    /// until none is left (RecBole's `user_inter_num_interval` / `item_inter_num_interval`).
    public func kCore(minUser: Int, minItem: Int) -> Dataset {
        var rows = interactions
        while true {
            var uc = [Int](repeating: 0, count: userCount), ic = [Int](repeating: 0, count: itemCount)
            for e in rows {
                uc[Int(e.user)] += 1
                ic[Int(e.item)] += 1
            }
            let kept = rows.filter { uc[Int($0.user)] >= minUser && ic[Int($0.item)] >= minItem }
            if kept.count == rows.count { break }
            rows = kept
        }
        return compacted(rows)
    }

    /// A dataset over `rows` with users and items renumbered in their original index order.
    func compacted(_ rows: [Interaction]) -> Dataset {
        var userMap = [Int32](repeating: -1, count: userCount), itemMap = [Int32](repeating: -1, count: itemCount)
        for e in rows {
            userMap[Int(e.user)] = 0
            itemMap[Int(e.item)] = 0
        }
        var newUsers = IDMap(), newItems = IDMap()
        for u in 0..<userCount where userMap[u] == 0 { userMap[u] = newUsers.intern(users.ids[u]) }
        for i in 0..<itemCount where itemMap[i] == 0 { itemMap[i] = newItems.intern(items.ids[i]) }
        let remapped = rows.map { e in
            Interaction(
                user: userMap[Int(e.user)],
                item: itemMap[Int(e.item)],
                behavior: e.behavior,
                timestamp: e.timestamp,
                value: e.value
            )
        }
        let test = givenTest?.compactMap { p -> (user: Int32, item: Int32)? in
            let u = userMap[Int(p.user)], i = itemMap[Int(p.item)]
            return u >= 0 && i >= 0 ? (u, i) : nil
        }
        return Dataset(
            name: name,
            users: newUsers,
            items: newItems,
            taxonomy: taxonomy,
            interactions: remapped,
            givenTest: test,
            hasRatings: hasRatings
        )
    }
}
