import CSQLite

/// SQLite's "copy the bytes now" destructor sentinel, not importable as a macro.
let SQLITE_TRANSIENT_DESTRUCTOR = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection with a cache of prepared statements. Not thread-safe: the store
/// serializes access.
/// `@unchecked Sendable`: every use is serialized by the store's mutexes.
final class SQLiteConnection: @unchecked Sendable {
    let db: OpaquePointer
    let path: String
    private var statements: [String: Statement] = [:]

    init(path: String, readOnly: Bool = false) throws(StoreError) {
        var handle: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let msg = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let handle { sqlite3_close_v2(handle) }
            throw StoreError(.open, "\(path): \(msg)", sqliteCode: rc)
        }
        db = handle
        self.path = path
        sqlite3_busy_timeout(db, 5000)
        sqlite3_extended_result_codes(db, 1)
    }

    deinit {
        statements.removeAll()  // finalize before closing
        sqlite3_close_v2(db)
    }

    func exec(_ sql: String) throws(StoreError) {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let msg = err.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(db))
            sqlite3_free(err)
            throw StoreError(.sqlite, "\(msg) [\(sql.prefix(80))]", sqliteCode: rc)
        }
    }

    /// A cached prepared statement, reset and with bindings cleared.
    func statement(_ sql: String) throws(StoreError) -> Statement {
        if let s = statements[sql] {
            s.reset()
            return s
        }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            throw StoreError(.sqlite, "\(String(cString: sqlite3_errmsg(db))) [\(sql.prefix(120))]", sqliteCode: rc)
        }
        let s = Statement(stmt, connection: self, sql: sql)
        statements[sql] = s
        return s
    }

    /// Resets every cached statement, ending the read transaction a half-stepped SELECT would
    /// otherwise keep open (a stale WAL snapshot makes the next write fail with SQLITE_BUSY).
    func resetAll() {
        for s in statements.values { sqlite3_reset(s.stmt) }
    }

    var changes: Int { Int(sqlite3_changes(db)) }
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(db) }

    func error(_ rc: Int32, _ sql: String) -> StoreError {
        StoreError(.sqlite, "\(String(cString: sqlite3_errmsg(db))) [\(sql.prefix(120))]", sqliteCode: rc)
    }

    /// Runs `body` in a transaction (`BEGIN IMMEDIATE`: take the write lock up front), committing
    /// on return and rolling back on a throw.
    func transaction<R>(_ body: () throws(StoreError) -> R) throws(StoreError) -> R {
        try exec("BEGIN IMMEDIATE")
        do {
            let r = try body()
            resetAll()
            try exec("COMMIT")
            return r
        } catch {
            resetAll()
            try? exec("ROLLBACK")
            throw error
        }
    }
}

/// A prepared statement. Parameter indices start at 1, column indices at 0, as in SQLite.
final class Statement {
    let stmt: OpaquePointer
    unowned let connection: SQLiteConnection
    let sql: String

    init(_ stmt: OpaquePointer, connection: SQLiteConnection, sql: String) {
        self.stmt = stmt
        self.connection = connection
        self.sql = sql
    }

    deinit { sqlite3_finalize(stmt) }

    func reset() {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
    }

    @discardableResult
    func bind(_ i: Int32, _ v: Int64) -> Statement {
        sqlite3_bind_int64(stmt, i, v)
        return self
    }
    @discardableResult
    func bind(_ i: Int32, _ v: Int) -> Statement {
        sqlite3_bind_int64(stmt, i, Int64(v))
        return self
    }
    @discardableResult
    func bind(_ i: Int32, _ v: Double) -> Statement {
        sqlite3_bind_double(stmt, i, v)
        return self
    }
    @discardableResult
    func bind(_ i: Int32, _ v: String) -> Statement {
        sqlite3_bind_text(stmt, i, v, -1, SQLITE_TRANSIENT_DESTRUCTOR)
        return self
    }
    @discardableResult
    func bind(_ i: Int32, _ v: [UInt8]) -> Statement {
        _ = v.withUnsafeBytes { sqlite3_bind_blob(stmt, i, $0.baseAddress, Int32($0.count), SQLITE_TRANSIENT_DESTRUCTOR) }
        return self
    }
    @discardableResult
    func bind(_ i: Int32, floats v: [Float]) -> Statement {
        _ = v.withUnsafeBytes { sqlite3_bind_blob(stmt, i, $0.baseAddress, Int32($0.count), SQLITE_TRANSIENT_DESTRUCTOR) }
        return self
    }
    @discardableResult
    func bindNull(_ i: Int32) -> Statement {
        sqlite3_bind_null(stmt, i)
        return self
    }
    @discardableResult
    func bind(_ i: Int32, _ v: Int64?) -> Statement { v.map { bind(i, $0) } ?? bindNull(i) }
    @discardableResult
    func bind(_ i: Int32, _ v: Double?) -> Statement { v.map { bind(i, $0) } ?? bindNull(i) }
    @discardableResult
    func bind(_ i: Int32, _ v: String?) -> Statement { v.map { bind(i, $0) } ?? bindNull(i) }
    @discardableResult
    func bind(_ i: Int32, _ v: [UInt8]?) -> Statement { v.map { bind(i, $0) } ?? bindNull(i) }

    /// Steps once: true when a row is available, false when done.
    func step() throws(StoreError) -> Bool {
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw connection.error(rc, sql)
    }

    /// Runs a statement that returns no rows.
    func run() throws(StoreError) {
        while try step() {}
    }

    func int64(_ c: Int32) -> Int64 { sqlite3_column_int64(stmt, c) }
    func int(_ c: Int32) -> Int { Int(sqlite3_column_int64(stmt, c)) }
    func double(_ c: Int32) -> Double { sqlite3_column_double(stmt, c) }
    func isNull(_ c: Int32) -> Bool { sqlite3_column_type(stmt, c) == SQLITE_NULL }
    func string(_ c: Int32) -> String {
        guard let p = sqlite3_column_text(stmt, c) else { return "" }
        let n = Int(sqlite3_column_bytes(stmt, c))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }
    func optionalString(_ c: Int32) -> String? { isNull(c) ? nil : string(c) }
    func optionalInt64(_ c: Int32) -> Int64? { isNull(c) ? nil : int64(c) }
    func optionalDouble(_ c: Int32) -> Double? { isNull(c) ? nil : double(c) }
    func blob(_ c: Int32) -> [UInt8] {
        let n = Int(sqlite3_column_bytes(stmt, c))
        guard n > 0, let p = sqlite3_column_blob(stmt, c) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }
    func floats(_ c: Int32) -> [Float] {
        let n = Int(sqlite3_column_bytes(stmt, c))
        guard n > 0, let p = sqlite3_column_blob(stmt, c) else { return [] }
        let count = n / MemoryLayout<Float>.size
        return [Float](unsafeUninitializedCapacity: count) { buf, initialized in
            UnsafeMutableRawBufferPointer(buf).copyMemory(from: UnsafeRawBufferPointer(start: p, count: count * 4))
            initialized = count
        }
    }
}
