/// Settings shared by consumers and producers.
///
/// Typed fields cover what Tacit relies on; `properties` passes any other librdkafka property
/// through unchanged (https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md) and
/// is applied last, so it can tune anything except the properties Tacit manages itself
/// (`managedProperties`), which are rejected because overriding them would break exactly-once state.
public struct KafkaClientConfiguration: Sendable, Equatable {
    /// Bootstrap servers, `host:port`.
    public var brokers: [String]
    /// `client.id`, shown in broker logs.
    public var clientID: String
    /// Extra librdkafka properties, `name → value`.
    public var properties: [String: String]

    public init(brokers: [String], clientID: String = "tacit", properties: [String: String] = [:]) {
        self.brokers = brokers
        self.clientID = clientID
        self.properties = properties
    }

    var baseProperties: [(String, String)] {
        [("bootstrap.servers", brokers.joined(separator: ",")), ("client.id", clientID)]
    }
}

/// Properties that Tacit sets itself and that `properties` may not override.
public let managedProperties: Set<String> = [
    "bootstrap.servers", "group.id", "enable.auto.commit", "enable.auto.offset.store",
    "enable.idempotence", "acks", "request.required.acks", "group.protocol", "group.instance.id",
    "fetch.wait.max.ms",
]

/// Where a consumer starts reading a partition for which the application has no stored offset.
public enum StartPosition: String, Sendable, Equatable {
    /// The first retained record: nothing stored means nothing consumed yet.
    case beginning
    /// Kafka's committed offset for the group, else `auto.offset.reset`.
    case committed
}

/// A group consumer: `subscribe()` to `topics`, positions from the application on every assignment.
public struct KafkaConsumerConfiguration: Sendable, Equatable {
    public var client: KafkaClientConfiguration
    public var groupID: String
    public var topics: [String]
    /// `session.timeout.ms`. Group joins take about half of it on Tansu, so keep it small there.
    public var sessionTimeout: Duration
    /// `heartbeat.interval.ms`.
    public var heartbeatInterval: Duration
    /// `max.poll.interval.ms`: the longest gap between polls before the member is evicted.
    public var maxPollInterval: Duration
    /// `fetch.wait.max.ms`: how long the broker may hold a fetch for data to arrive. librdkafka's 500 ms
    /// default puts a ~200 ms floor under event → list latency on Tansu (README, "Freshness"); 20 ms
    /// removes it, but one soak run stalled consumption at 20 ms (README, "A long run"), so 500 stays.
    public var fetchWaitMax: Duration
    public var startPosition: StartPosition

    public init(
        client: KafkaClientConfiguration,
        groupID: String,
        topics: [String],
        sessionTimeout: Duration = .seconds(10),
        heartbeatInterval: Duration = .seconds(1),
        maxPollInterval: Duration = .seconds(300),
        fetchWaitMax: Duration = .milliseconds(500),
        startPosition: StartPosition = .beginning
    ) {
        self.client = client
        self.groupID = groupID
        self.topics = topics
        self.sessionTimeout = sessionTimeout
        self.heartbeatInterval = heartbeatInterval
        self.maxPollInterval = maxPollInterval
        self.fetchWaitMax = fetchWaitMax
        self.startPosition = startPosition
    }

    func rdkafkaProperties() throws -> [(String, String)] {
        var p = client.baseProperties
        p += [
            ("group.id", groupID),
            // Offsets live in SQLite, committed there with the state they produced; Kafka's copy is
            // written explicitly after each batch for monitoring only.
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("enable.partition.eof", "false"),
            ("auto.offset.reset", "earliest"),
            ("session.timeout.ms", "\(sessionTimeout.milliseconds)"),
            ("heartbeat.interval.ms", "\(heartbeatInterval.milliseconds)"),
            ("max.poll.interval.ms", "\(maxPollInterval.milliseconds)"),
            ("fetch.wait.max.ms", "\(fetchWaitMax.milliseconds)"),
        ]
        // librdkafka stops fetching a partition once 100,000 records wait in the local queue and looks
        // again only after fetch.queue.backoff.ms, 1 s by default: a consumer that drains the queue faster
        // than that sits idle for the rest of the second (the daemon ingested 200k events at 150k/s with
        // a 0.5 s gap, 250k/s without). Older librdkafka (Debian's 2.0) lacks the property. `properties` may
        // still set it.
        if RDKafkaVersion.current >= RDKafkaVersion(2, 4) { p.append(("fetch.queue.backoff.ms", "10")) }
        return try p + checkedPassThrough(client.properties)
    }
}

/// An idempotent producer (`acks=all`, `enable.idempotence=true`).
public struct KafkaProducerConfiguration: Sendable, Equatable {
    public var client: KafkaClientConfiguration
    /// `linger.ms`: how long to wait to fill a batch.
    public var linger: Duration
    /// `message.timeout.ms`: a message not acknowledged by then is reported failed.
    public var messageTimeout: Duration
    /// Deliveries outstanding with no acknowledgement for this long mean the producer is stuck
    /// (an idempotent producer never recovers after its broker lost its state): it is recreated and
    /// outstanding sends fail with `KafkaError.Code.purged`, which callers retry.
    public var stallTimeout: Duration

    public init(
        client: KafkaClientConfiguration,
        linger: Duration = .milliseconds(5),
        messageTimeout: Duration = .seconds(120),
        stallTimeout: Duration = .seconds(30)
    ) {
        self.client = client
        self.linger = linger
        self.messageTimeout = messageTimeout
        self.stallTimeout = stallTimeout
    }

    func rdkafkaProperties() throws -> [(String, String)] {
        var p = client.baseProperties
        p += [
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("linger.ms", "\(linger.milliseconds)"),
            ("message.timeout.ms", "\(messageTimeout.milliseconds)"),
        ]
        return try p + checkedPassThrough(client.properties)
    }
}

func checkedPassThrough(_ properties: [String: String]) throws -> [(String, String)] {
    for key in properties.keys where managedProperties.contains(key) {
        throw KafkaError(.configuration, "\(key): managed by Tacit, may not be set as a pass-through property")
    }
    return properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
}

extension Duration {
    /// Whole milliseconds, rounded down; what librdkafka's `*.ms` properties take.
    public var milliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
}
