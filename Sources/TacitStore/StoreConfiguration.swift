/// Settings of the durable store (`[store]` in the configuration).
public struct StoreConfiguration: Sendable, Equatable {
    /// SQLite database file (created if missing). Relative paths resolve against the working
    /// directory; under systemd that is the state directory.
    public var path: String
    /// Longest per-user sequence kept; older events are trimmed (counts stay exact).
    public var maxSequenceLength: Int
    /// How many recent event ids are remembered for de-duplication.
    public var dedupWindow: Int
    /// Entries in each in-memory id cache (users, items); bounds memory, not correctness.
    public var idCacheCapacity: Int
    /// Page cache of the writing connection, in MiB (`PRAGMA cache_size`). The batch apply touches index pages
    /// all over the file (events by user, interactions, items, users); with SQLite's default of 2 MiB each
    /// batch reads most of them back from the OS.
    public var cacheMB: Int
    /// `PRAGMA synchronous`: `full` survives power loss, `normal` survives process crashes (kill -9).
    public var synchronous: Synchronous

    public enum Synchronous: String, Sendable, CaseIterable { case normal, full }

    public init(
        path: String,
        maxSequenceLength: Int = 200,
        dedupWindow: Int = 1_000_000,
        idCacheCapacity: Int = 100_000,
        cacheMB: Int = 64,
        synchronous: Synchronous = .full
    ) {
        self.path = path
        self.maxSequenceLength = maxSequenceLength
        self.dedupWindow = dedupWindow
        self.idCacheCapacity = idCacheCapacity
        self.cacheMB = cacheMB
        self.synchronous = synchronous
    }
}
