import TacitData

/// One validated behavior event, ready to apply: who did what to which item, when, and what it
/// means as feedback. The daemon's parser produces it from a Kafka record.
public struct UserEvent: Sendable, Equatable {
    /// External user id (the record key).
    public var user: String
    /// External item id.
    public var item: String
    /// Behavior name as sent (`buy`, `view`, `skip`, `rating`, …).
    public var behavior: String
    /// Feedback polarity under the configured taxonomy; nil for a neutral event (e.g. a watch
    /// between the skip and the positive thresholds).
    public var feedback: FeedbackKind?
    /// Event time, epoch milliseconds.
    public var timestampMs: Int64
    /// Producer-assigned id for de-duplication, if any.
    public var eventID: String?
    /// Rating or other numeric value.
    public var value: Double?
    public var weight: Double

    public init(
        user: String,
        item: String,
        behavior: String,
        feedback: FeedbackKind?,
        timestampMs: Int64,
        eventID: String? = nil,
        value: Double? = nil,
        weight: Double = 1
    ) {
        self.user = user
        self.item = item
        self.behavior = behavior
        self.feedback = feedback
        self.timestampMs = timestampMs
        self.eventID = eventID
        self.value = value
        self.weight = weight
    }
}
