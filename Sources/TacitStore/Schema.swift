/// The SQLite schema. Dense ids are `rowid − 1` (users and items are never deleted, so they are
/// contiguous from 0). `events.seq` is AUTOINCREMENT so it only grows, even after trimming.
///
/// Versions: 1 the original; 2 adds `owed_lists`; 3 `served_lists` and `list_quality`; 4 drops the index on
/// `items.positive_count` (popularity is ranked in memory) and the UNIQUE index of `event_ids` (the
/// de-duplication window is checked in memory); 5 adds `users.input_partition`; 6 keeps the newest delivered
/// dead letters (`dead_letters.delivered_ms`) and adds `fine_tunes`, for the operator page; 7 scores popularity's list
/// beside each delivered one (`served_lists.control_items`, `list_quality.control_*`). A file of an older version is upgraded in place, in one
/// transaction: the `CREATE … IF NOT EXISTS` statements below add the new tables, `upgrades` does the
/// rest, and the recorded version is bumped; a newer version than this build knows is refused.
enum Schema {
    static let statements = [
        "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
        """
        CREATE TABLE IF NOT EXISTS users(id INTEGER PRIMARY KEY, ext TEXT NOT NULL UNIQUE,
            event_count INTEGER NOT NULL DEFAULT 0, seq_len INTEGER NOT NULL DEFAULT 0, last_ts INTEGER,
            input_partition INTEGER)
        """,
        """
        CREATE TABLE IF NOT EXISTS items(id INTEGER PRIMARY KEY, ext TEXT NOT NULL UNIQUE,
            event_count INTEGER NOT NULL DEFAULT 0, positive_count INTEGER NOT NULL DEFAULT 0)
        """,
        "CREATE TABLE IF NOT EXISTS behaviors(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
        """
        CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY AUTOINCREMENT, user INTEGER NOT NULL,
            item INTEGER NOT NULL, behavior INTEGER NOT NULL, feedback INTEGER, ts INTEGER NOT NULL,
            value REAL, weight REAL NOT NULL)
        """,
        "CREATE INDEX IF NOT EXISTS events_by_user ON events(user, ts, seq)",
        """
        CREATE TABLE IF NOT EXISTS interactions(user INTEGER NOT NULL, item INTEGER NOT NULL, behavior INTEGER NOT NULL,
            count INTEGER NOT NULL, weight REAL NOT NULL, last_ts INTEGER NOT NULL, last_feedback INTEGER,
            PRIMARY KEY(user, item, behavior)) WITHOUT ROWID
        """,
        """
        CREATE TABLE IF NOT EXISTS user_behaviors(user INTEGER NOT NULL, behavior INTEGER NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY(user, behavior)) WITHOUT ROWID
        """,
        """
        CREATE TABLE IF NOT EXISTS offsets(topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
            PRIMARY KEY(topic, partition)) WITHOUT ROWID
        """,
        // The stored de-duplication window, newest `dedup_window` ids by seq; no index: see `RecentEventIDs`.
        "CREATE TABLE IF NOT EXISTS event_ids(seq INTEGER PRIMARY KEY, id TEXT NOT NULL)",
        """
        CREATE TABLE IF NOT EXISTS dead_letters(id INTEGER PRIMARY KEY, topic TEXT NOT NULL, partition INTEGER NOT NULL,
            offset INTEGER NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL, key BLOB, payload BLOB NOT NULL, ts INTEGER,
            delivered_ms INTEGER)
        """,
        "CREATE TABLE IF NOT EXISTS dead_letter_counts(reason TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID",
        """
        CREATE TABLE IF NOT EXISTS snapshots(version INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL,
            created_ms INTEGER NOT NULL, metadata TEXT NOT NULL, metrics TEXT NOT NULL, user_count INTEGER NOT NULL,
            item_count INTEGER NOT NULL, events_through_seq INTEGER NOT NULL, promoted INTEGER NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS snapshot_tensors(version INTEGER NOT NULL REFERENCES snapshots(version),
            name TEXT NOT NULL, shape TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY(version, name))
        """,
        // Version 2. Users whose newest applied events no list has been delivered for yet, written in
        // the batch's transaction: what makes publishing survive `kill -9` (at least once per state).
        // `through_seq` is the user's newest applied `events.seq`; `last_ts` their newest event time.
        "CREATE TABLE IF NOT EXISTS owed_lists(user INTEGER PRIMARY KEY, through_seq INTEGER NOT NULL, last_ts INTEGER)",
        // Version 3. Online quality (`EventStore.recordDelivered`): each user's newest delivered list, until their
        // next one scores it, and the totals per model version.
        """
        CREATE TABLE IF NOT EXISTS served_lists(user INTEGER PRIMARY KEY, model TEXT NOT NULL, version INTEGER NOT NULL,
            items TEXT NOT NULL, through_seq INTEGER NOT NULL, published_ms INTEGER NOT NULL, control_items TEXT)
        """,
        """
        CREATE TABLE IF NOT EXISTS list_quality(model TEXT NOT NULL, version INTEGER NOT NULL, lists INTEGER NOT NULL,
            hit_lists INTEGER NOT NULL, hr_sum REAL NOT NULL, ndcg_sum REAL NOT NULL, neg_share_sum REAL NOT NULL,
            control_lists INTEGER NOT NULL DEFAULT 0, control_hit_lists INTEGER NOT NULL DEFAULT 0,
            control_hr_sum REAL NOT NULL DEFAULT 0, control_ndcg_sum REAL NOT NULL DEFAULT 0,
            control_neg_share_sum REAL NOT NULL DEFAULT 0,
            PRIMARY KEY(model, version)) WITHOUT ROWID
        """,
        // Version 6. The trainer's log of its fine-tunes, promoted or not (`EventStore.recordFineTune`); metrics as JSON.
        """
        CREATE TABLE IF NOT EXISTS fine_tunes(id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, model TEXT NOT NULL,
            decision TEXT NOT NULL, version INTEGER, serving_version INTEGER, reason TEXT, seconds REAL NOT NULL,
            candidate TEXT NOT NULL, serving TEXT NOT NULL, serving_online TEXT NOT NULL)
        """,
    ]

    /// Statements that bring a file of an older version to this one, run after `statements` when the
    /// recorded version is below `toVersion`.
    static let upgrades: [(toVersion: Int, statements: [String])] = [
        (
            4,
            [
                "DROP INDEX IF EXISTS items_popularity",
                // Rebuilt without UNIQUE(id), keeping its rows and seqs.
                "CREATE TABLE event_ids_v4(seq INTEGER PRIMARY KEY, id TEXT NOT NULL)",
                "INSERT INTO event_ids_v4(seq, id) SELECT seq, id FROM event_ids",
                "DROP TABLE event_ids",
                "ALTER TABLE event_ids_v4 RENAME TO event_ids",
            ]
        ),
        // The input partition of each user's newest event (which instance owns the user); unknown for
        // users last seen before this version, until their next event.
        (5, ["ALTER TABLE users ADD COLUMN input_partition INTEGER"]),
        // Delivered dead letters were deleted before; the rows left are all pending.
        (6, ["ALTER TABLE dead_letters ADD COLUMN delivered_ms INTEGER"]),
    ]

    /// Columns added to tables that an older file may or may not have: a file older than the table got it
    /// from `statements`, with the column; a file that had the table gets the column here. Lists delivered
    /// before version 7 have no control list and are left out of the control's totals.
    static let addedColumns: [(toVersion: Int, table: String, column: String, definition: String)] = [
        (7, "served_lists", "control_items", "TEXT"),
        (7, "list_quality", "control_lists", "INTEGER NOT NULL DEFAULT 0"),
        (7, "list_quality", "control_hit_lists", "INTEGER NOT NULL DEFAULT 0"),
        (7, "list_quality", "control_hr_sum", "REAL NOT NULL DEFAULT 0"),
        (7, "list_quality", "control_ndcg_sum", "REAL NOT NULL DEFAULT 0"),
        (7, "list_quality", "control_neg_share_sum", "REAL NOT NULL DEFAULT 0"),
    ]

    /// The oldest version `migrate` upgrades in place.
    static let oldestUpgradableVersion = 1

    static func migrate(_ db: SQLiteConnection) throws(StoreError) {
        try db.transaction { () throws(StoreError) in
            for s in statements { try db.exec(s) }
            let get = try db.statement("SELECT value FROM meta WHERE key = 'schema_version'")
            if try get.step() {
                let v = get.string(0)
                get.reset()
                guard let found = Int(v), (oldestUpgradableVersion...EventStore.schemaVersion).contains(found) else {
                    throw StoreError(.schema, "\(db.path): schema version \(v), this build knows \(EventStore.schemaVersion)")
                }
                if found < EventStore.schemaVersion {
                    // The tables added since were created above, in this transaction.
                    for (version, steps) in upgrades where found < version {
                        for step in steps { try db.exec(step) }
                    }
                    for added in addedColumns where found < added.toVersion {
                        let columns = try db.statement("SELECT 1 FROM pragma_table_info('\(added.table)') WHERE name = '\(added.column)'")
                        let present = try columns.step()
                        columns.reset()
                        if !present { try db.exec("ALTER TABLE \(added.table) ADD COLUMN \(added.column) \(added.definition)") }
                    }
                    try db.exec("UPDATE meta SET value = '\(EventStore.schemaVersion)' WHERE key = 'schema_version'")
                }
            } else {
                get.reset()
                try db.exec("INSERT INTO meta(key, value) VALUES ('schema_version', '\(EventStore.schemaVersion)')")
            }
        }
    }
}
