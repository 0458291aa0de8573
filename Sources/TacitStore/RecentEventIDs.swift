/// The de-duplication window in memory: the newest `capacity` event ids, exactly, oldest evicted first.
///
/// The ids are also appended to `event_ids` in each batch's transaction (a plain rowid table, no index) and
/// loaded back from there at open, so the window survives restarts. Checking membership here instead of
/// through a UNIQUE index saves a random B-tree insert per event, the largest single cost of applying a
/// batch. Memory: about 50 bytes per id of up to 15 UTF-8 bytes, plus the id's length beyond that.
struct RecentEventIDs {
    let capacity: Int
    private var members: Set<String> = []
    /// Ids in arrival order, a ring once full: `ring[start]` is the oldest.
    private var ring: [String] = []
    private var start = 0

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    func contains(_ id: String) -> Bool { members.contains(id) }

    /// Appends the newest ids, in order, forgetting the oldest beyond `capacity`. An id already in the window
    /// is skipped (a stored window can hold one twice if it was applied again after being forgotten), so
    /// evicting a ring slot never forgets an id another slot still holds.
    mutating func append<S: Sequence<String>>(contentsOf ids: S) {
        guard capacity > 0 else { return }
        for id in ids where !members.contains(id) {
            if ring.count < capacity {
                ring.append(id)
            } else {
                members.remove(ring[start])
                ring[start] = id
                start = (start + 1) % capacity
            }
            members.insert(id)
        }
    }
}
