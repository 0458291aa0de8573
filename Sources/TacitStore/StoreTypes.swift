/// A partition of an input topic (the store does not depend on the Kafka layer).
public struct StreamPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32
    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }
    public var description: String { "\(topic)/\(partition)" }
    public static func < (a: Self, b: Self) -> Bool { (a.topic, a.partition) < (b.topic, b.partition) }
}

/// Where a record came from.
public struct StreamPosition: Hashable, Sendable {
    public var partition: StreamPartition
    public var offset: Int64
    public init(_ topic: String, _ partition: Int32, _ offset: Int64) {
        self.partition = StreamPartition(topic, partition)
        self.offset = offset
    }
}

/// A refused record, kept in the store's dead-letter outbox until it is published.
public struct DeadLetter: Sendable, Equatable {
    /// Outbox row id (0 before it is stored).
    public var id: Int64
    public var position: StreamPosition
    /// Stable reason label (`malformed_json`, …).
    public var reason: String
    /// Human-readable detail.
    public var detail: String
    public var key: [UInt8]?
    /// The original record value, byte for byte.
    public var payload: [UInt8]
    /// The record's Kafka timestamp, if any.
    public var timestampMs: Int64?

    public init(
        id: Int64 = 0,
        position: StreamPosition,
        reason: String,
        detail: String,
        key: [UInt8]?,
        payload: [UInt8],
        timestampMs: Int64? = nil
    ) {
        self.id = id
        self.position = position
        self.reason = reason
        self.detail = detail
        self.key = key
        self.payload = payload
        self.timestampMs = timestampMs
    }
}

/// One consumed record, parsed: an event to apply or a dead letter.
public struct IngestRecord: Sendable {
    public enum Payload: Sendable {
        case event(UserEvent)
        case deadLetter(DeadLetter)
    }
    public var position: StreamPosition
    public var payload: Payload
    public init(position: StreamPosition, payload: Payload) {
        self.position = position
        self.payload = payload
    }
}

/// A user whose state changed in an applied batch.
public struct TouchedUser: Sendable, Hashable {
    /// Dense id (0-based, stable for the life of the store).
    public var id: Int32
    public var external: String
    /// Events applied for this user in the batch.
    public var newEvents: Int
    /// Newest event time among them.
    public var lastTimestampMs: Int64
    /// Input partition of the newest of them: the instance that owns it serves the user.
    public var partition: Int32? = nil
}

/// A user whose newest applied events no delivered list reflects yet (`EventStore.owedLists()`).
public struct OwedList: Sendable, Equatable {
    /// Dense id.
    public var user: Int32
    public var external: String
    /// `events.seq` of the user's newest applied event: a list computed after reading it pays the debt.
    public var throughSeq: Int64
    /// Newest event time among the owed events.
    public var lastTimestampMs: Int64
    /// Input partition of the user's newest event (nil: stored before schema version 5).
    public var partition: Int32? = nil

    public init(user: Int32, external: String, throughSeq: Int64, lastTimestampMs: Int64, partition: Int32? = nil) {
        self.user = user
        self.external = external
        self.throughSeq = throughSeq
        self.lastTimestampMs = lastTimestampMs
        self.partition = partition
    }
}

/// What `apply` did with a batch.
public struct ApplyOutcome: Sendable {
    public var applied = 0
    /// Records at offsets already applied (a replay after restart or rebalance): skipped.
    public var replayed = 0
    /// Events whose `id` was seen within the de-duplication window: skipped.
    public var duplicateIDs = 0
    public var deadLettered = 0
    /// Dead letters of this batch by reason code.
    public var deadLetteredByReason: [String: Int] = [:]
    public var touchedUsers: [TouchedUser] = []
    /// Next offset per partition after this batch (what is now stored).
    public var nextOffsets: [StreamPartition: Int64] = [:]
    public init() {}
}

/// One stored event of a user's sequence.
public struct SequenceEvent: Sendable, Equatable {
    public var seq: Int64
    public var item: Int32
    public var behavior: String
    public var feedback: Int?
    public var timestampMs: Int64
    public var value: Double?
    public var weight: Double
}

/// A tensor of a model snapshot: name, shape and row-major values.
public struct SnapshotTensor: Sendable, Equatable, Codable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]
    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// A trained model as persisted: parameters, what it was trained on, and how it scored.
public struct ModelSnapshot: Sendable, Equatable {
    /// Assigned by the store on save (monotonic across models).
    public var version: Int64
    public var model: String
    public var createdMs: Int64
    /// Free-form settings (dim, epochs, seed, taxonomy, …).
    public var metadata: [String: String]
    /// Evaluation on the held-out slice (e.g. `ndcg@10`).
    public var metrics: [String: Double]
    public var tensors: [SnapshotTensor]
    /// User and item counts the tensors cover (dense ids `0..<count`).
    public var userCount: Int
    public var itemCount: Int
    /// The newest event sequence number the model was trained on.
    public var eventsThroughSeq: Int64
    /// Whether it was promoted to serving.
    public var promoted: Bool

    public init(
        version: Int64 = 0,
        model: String,
        createdMs: Int64,
        metadata: [String: String] = [:],
        metrics: [String: Double] = [:],
        tensors: [SnapshotTensor],
        userCount: Int,
        itemCount: Int,
        eventsThroughSeq: Int64,
        promoted: Bool
    ) {
        self.version = version
        self.model = model
        self.createdMs = createdMs
        self.metadata = metadata
        self.metrics = metrics
        self.tensors = tensors
        self.userCount = userCount
        self.itemCount = itemCount
        self.eventsThroughSeq = eventsThroughSeq
        self.promoted = promoted
    }
}
