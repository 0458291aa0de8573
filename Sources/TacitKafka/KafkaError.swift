/// An error from the Kafka layer: what failed, and librdkafka's own words where it had some.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure, stable for matching (`error.code == .configuration`).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable {
            case configuration, clientCreation, subscription, poll, commit, produce, queueFull,
                delivery, purged, fatal, closed, offsets
        }
        fileprivate let value: Value

        /// A property was rejected by librdkafka (unknown name or invalid value).
        public static let configuration = Code(value: .configuration)
        /// `rd_kafka_new` failed.
        public static let clientCreation = Code(value: .clientCreation)
        /// `subscribe` failed.
        public static let subscription = Code(value: .subscription)
        /// Consuming failed in a way that is not a per-message error.
        public static let poll = Code(value: .poll)
        /// Committing offsets to the broker failed.
        public static let commit = Code(value: .commit)
        /// `produce` refused the message (unknown topic, too large, …).
        public static let produce = Code(value: .produce)
        /// The local producer queue is full: back off and retry.
        public static let queueFull = Code(value: .queueFull)
        /// The broker did not acknowledge the message (timed out or permanent error).
        public static let delivery = Code(value: .delivery)
        /// The message was purged from a stalled producer before delivery: safe to send again.
        public static let purged = Code(value: .purged)
        /// librdkafka raised a fatal error; the client must be recreated.
        public static let fatal = Code(value: .fatal)
        /// The client was closed.
        public static let closed = Code(value: .closed)
        /// The application's offset source failed during a rebalance.
        public static let offsets = Code(value: .offsets)

        public var description: String { "\(value)" }
    }

    public let code: Code
    /// Human-readable detail: librdkafka's error string, the property name, …
    public let message: String
    /// librdkafka's error code (`rd_kafka_resp_err_t` raw value) when there is one.
    public let rdkafkaError: Int32?

    init(_ code: Code, _ message: String, rdkafkaError: Int32? = nil) {
        self.code = code
        self.message = message
        self.rdkafkaError = rdkafkaError
    }

    /// Whether retrying the same operation later can succeed (queue full, purged, timed out).
    public var isRetriable: Bool {
        code == .queueFull || code == .purged || code == .delivery
    }

    public var description: String { "Kafka \(code): \(message)" }
}
