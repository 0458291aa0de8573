/// One event in dense-index form: `user` did `behavior` on `item` at `timestamp` (Unix seconds),
/// with an optional numeric `value` (a rating, a watch fraction; NaN when absent).
public struct Interaction: Sendable, Hashable {
    public var user: Int32
    public var item: Int32
    public var behavior: UInt8
    public var timestamp: Int64
    public var value: Float

    public init(user: Int32, item: Int32, behavior: UInt8, timestamp: Int64, value: Float = .nan) {
        self.user = user
        self.item = item
        self.behavior = behavior
        self.timestamp = timestamp
        self.value = value
    }

    public var hasValue: Bool { !value.isNaN }
}

/// A bijection between external string ids and dense indices `0..<count`, in first-seen order.
public struct IDMap: Sendable {
    public private(set) var ids: [String] = []
    private var index: [String: Int32] = [:]

    public init() {}

    public init(_ ids: [String]) {
        for id in ids { _ = intern(id) }
    }

    public var count: Int { ids.count }

    /// The index of `id`, adding it if new.
    public mutating func intern(_ id: String) -> Int32 {
        if let i = index[id] { return i }
        let i = Int32(ids.count)
        ids.append(id)
        index[id] = i
        return i
    }

    public func lookup(_ id: String) -> Int32? { index[id] }

    public subscript(i: Int32) -> String { ids[Int(i)] }
}
