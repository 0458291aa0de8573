/// An error from the durable store, with SQLite's own message and the statement it came from.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable { case open, sqlite, schema, corrupt }
        fileprivate let value: Value
        /// The database file could not be opened or configured.
        public static let open = Code(value: .open)
        /// A statement failed.
        public static let sqlite = Code(value: .sqlite)
        /// The file holds a schema this version does not know.
        public static let schema = Code(value: .schema)
        /// Stored data violates an invariant (e.g. a snapshot blob of the wrong size).
        public static let corrupt = Code(value: .corrupt)
        public var description: String { "\(value)" }
    }

    public let code: Code
    public let message: String
    /// SQLite's result code, when the error came from SQLite.
    public let sqliteCode: Int32?

    init(_ code: Code, _ message: String, sqliteCode: Int32? = nil) {
        self.code = code
        self.message = message
        self.sqliteCode = sqliteCode
    }

    public var description: String { "store \(code): \(message)" }
}
