/// An event as producers send it: the JSON value `EventParser` reads (README, "Events"), keyed by user.
/// `tacit replay` writes its records here, so what it sends is what the daemon parses (tested both ways).
public struct EventMessage: Sendable, Equatable {
    public var user: String
    public var item: String
    /// A behavior of the taxonomy (`view`, `buy`, `rating`, …).
    public var type: String
    /// Rating (or other numeric value), if any.
    public var value: Double?
    /// Event time, epoch milliseconds.
    public var timestampMs: Int64
    /// Producer id for de-duplication, if any.
    public var id: String?

    public init(user: String, item: String, type: String, value: Double? = nil, timestampMs: Int64, id: String? = nil) {
        self.user = user
        self.item = item
        self.type = type
        self.value = value
        self.timestampMs = timestampMs
        self.id = id
    }

    /// The record key: the user id, so a user's events stay in one partition, in order.
    public var key: [UInt8] { Array(user.utf8) }

    /// The record value.
    public var json: String {
        var s = "{\"user\":" + JSON.quoted(user) + ",\"item\":" + JSON.quoted(item) + ",\"type\":" + JSON.quoted(type)
        if let value { s += ",\"value\":" + String(value) }
        s += ",\"ts\":\(timestampMs)"
        if let id { s += ",\"id\":" + JSON.quoted(id) }
        return s + "}"
    }
}
