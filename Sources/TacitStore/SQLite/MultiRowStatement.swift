/// One statement over many rows: `INSERT … VALUES (…), (…), …` or `UPDATE … FROM (VALUES (…), …)`, run once
/// per chunk of rows instead of once per row.
///
/// Why: the batch apply writes thousands of rows per transaction, and SQLite's work per statement run (VDBE
/// start and halt, the statement journal, AUTOINCREMENT's `sqlite_sequence` update, reset and rebind) cost as
/// much as the B-tree insert itself. A chunk is `maxRows` rows; the rest is written in power-of-two chunks, so
/// at most `log2(maxRows) + 1` statement texts per table are ever prepared (and cached by the connection).
struct MultiRowStatement {
    /// Parameters per row.
    let columns: Int32
    let maxRows: Int
    /// The statement text for `1 << k` rows at index k.
    private let texts: [String]

    /// `head` is the SQL before the row list (`INSERT INTO t(a, b) VALUES`), `tail` the SQL after it
    /// (`ON CONFLICT(a) DO UPDATE SET b = b + excluded.b`), which must not use parameters.
    init(_ head: String, columns: Int32, _ tail: String = "", maxRows: Int = 64) {
        precondition(columns > 0 && maxRows > 0 && maxRows & (maxRows - 1) == 0, "maxRows must be a power of two")
        self.columns = columns
        self.maxRows = maxRows
        let row = "(" + repeatElement("?", count: Int(columns)).joined(separator: ", ") + ")"
        texts = (0...maxRows.trailingZeroBitCount).map { k in
            head + " " + repeatElement(row, count: 1 << k).joined(separator: ", ") + (tail.isEmpty ? "" : " " + tail)
        }
    }

    func sql(rows: Int) -> String {
        precondition(rows > 0 && rows & (rows - 1) == 0 && rows <= maxRows)
        return texts[rows.trailingZeroBitCount]
    }

    /// Writes rows `0..<count`: `bind(statement, row, parameter)` binds row `row`'s values to parameters
    /// `parameter ..< parameter + columns`. Result rows (`RETURNING`) are passed to `result`, if given.
    func run(
        _ db: SQLiteConnection,
        count: Int,
        bind: (Statement, _ row: Int, _ parameter: Int32) -> Void,
        result: ((Statement) -> Void)? = nil
    ) throws(StoreError) {
        var start = 0
        var size = maxRows
        while start < count {
            while size > count - start { size >>= 1 }
            let s = try db.statement(sql(rows: size))
            for r in 0..<size { bind(s, start + r, Int32(r) * columns + 1) }
            while try s.step() { result?(s) }
            start += size
        }
    }
}
