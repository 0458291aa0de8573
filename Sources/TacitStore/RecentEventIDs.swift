/// The de-duplication window in memory: the newest `capacity` event ids, exactly, oldest evicted first.
///
/// The ids are also appended to `event_ids` in each batch's transaction (a plain rowid table, no index) and
/// loaded back from there at open, so the window survives restarts. Checking membership here instead of
/// through a UNIQUE index saves a random B-tree insert per event, the largest single cost of applying a
/// batch. Memory: about 50 bytes per id of up to 15 UTF-8 bytes, plus the id's length beyond that.
///
/// A batch's ids are taken with `insert` (one hash per id: it both checks and claims the id, so a repeat inside
/// the batch is caught too), then `commit`ted with the batch's transaction or `rollback`ed with it.
struct RecentEventIDs {
    let capacity: Int
    private var members: Set<String> = []
    /// Committed ids in arrival order, a ring once full: `ring[start]` is the oldest.
    private var ring: [String] = []
    private var start = 0
    /// Ids inserted since the last commit or rollback, in order: the batch's ids, which the apply also
    /// appends to `event_ids`.
    private(set) var pending: [String] = []

    init(capacity: Int) {
        self.capacity = max(0, capacity)
        // The window fills up in steady state anyway; growing the set there rehashes it about twice over.
        members.reserveCapacity(min(self.capacity, 1 << 20))
    }

    func contains(_ id: String) -> Bool { members.contains(id) }

    /// Claims `id` for the batch in progress: false if it is in the window or already in this batch.
    mutating func insert(_ id: String) -> Bool {
        guard members.insert(id).inserted else { return false }
        pending.append(id)
        return true
    }

    /// The batch's ids join the window, forgetting the oldest beyond `capacity`. Pending ids were absent from
    /// the window when inserted, so evicting a ring slot never forgets an id another slot still holds.
    mutating func commit() {
        defer { pending.removeAll(keepingCapacity: true) }
        guard capacity > 0 else {
            for id in pending { members.remove(id) }
            return
        }
        for id in pending {
            if ring.count < capacity {
                ring.append(id)
            } else {
                members.remove(ring[start])
                ring[start] = id
                start = (start + 1) % capacity
            }
        }
    }

    /// Forgets the ids of a batch that was not applied.
    mutating func rollback() {
        for id in pending { members.remove(id) }
        pending.removeAll(keepingCapacity: true)
    }

    /// Appends the newest ids, in order, as one committed batch. An id already in the window is skipped (a stored
    /// window can hold one twice if it was applied again after being forgotten).
    mutating func append<S: Sequence<String>>(contentsOf ids: S) {
        for id in ids { _ = insert(id) }
        commit()
    }
}
