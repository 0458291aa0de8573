import Logging
import ServiceLifecycle
import TacitKafka
import TacitStore

/// Consume → parse → apply (events, dead letters and offsets in one SQLite transaction) →
/// commit offsets to Kafka (monitoring) → tell the publisher and observers.
///
/// Transport errors never stop it: librdkafka reconnects by itself and every reassignment resumes
/// from SQLite. On graceful shutdown it finishes the batch in hand, leaves the group and returns.
public final class IngestService: Service, Sendable {
    public struct Settings: Sendable {
        public var consumer: KafkaConsumerConfiguration
        public var batchSize: Int
        public var pollTimeout: Duration
        public init(consumer: KafkaConsumerConfiguration, batchSize: Int, pollTimeout: Duration) {
            self.consumer = consumer
            self.batchSize = batchSize
            self.pollTimeout = pollTimeout
        }
    }

    let settings: Settings
    let parser: EventParser
    let store: EventStore
    let publisher: PublisherService?
    let observers: [any IngestObserver]
    let metrics: DaemonMetrics
    let health: HealthState
    let logger: Logger
    /// Called once the consumer has subscribed (READY=1).
    let onReady: @Sendable () -> Void

    public init(settings: Settings, parser: EventParser, store: EventStore, publisher: PublisherService?,
                observers: [any IngestObserver], metrics: DaemonMetrics, health: HealthState, logger: Logger,
                onReady: @escaping @Sendable () -> Void = {}) {
        self.settings = settings
        self.parser = parser
        self.store = store
        self.publisher = publisher
        self.observers = observers
        self.metrics = metrics
        self.health = health
        self.logger = logger
        self.onReady = onReady
    }

    public func run() async throws {
        let consumer = try KafkaConsumer(configuration: settings.consumer,
                                         offsetSource: StoreOffsetSource(store: store, logger: logger), logger: logger)
        try consumer.subscribe()
        health.update { $0.ready = true }
        onReady()
        defer {
            consumer.close()   // leaves the group: partitions move to other members at once
            health.update { $0.assignedPartitions = 0 }
        }
        var lastLag = ContinuousClock.now
        var nextOffsets: [TopicPartition: Int64] = [:]
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let messages = try consumer.poll(maxMessages: settings.batchSize)
            let stats = consumer.statistics
            let now = epochMilliseconds()
            health.update {
                $0.lastLoopMs = now
                $0.assignedPartitions = consumer.assignment.count
                $0.brokersDown = stats.brokersDown
            }
            metrics.consumerErrors.set(Double(stats.transportErrors))
            if messages.isEmpty {
                try? await Task.sleep(for: settings.pollTimeout)
                continue
            }
            let outcome = try apply(messages, nowMs: now)
            for (p, n) in outcome.nextOffsets { nextOffsets[TopicPartition(p.topic, p.partition)] = n }
            consumer.commit(nextOffsets)
            publisher?.batchApplied(outcome)
            for o in observers { o.didApply(outcome) }
            if ContinuousClock.now - lastLag > .seconds(5) {
                lastLag = .now
                metrics.lag.set(Double(consumer.lag(nextOffsets: nextOffsets).values.reduce(0, +)))
            }
            metrics.assignedPartitions.set(Double(consumer.assignment.count))
        }
        logger.info("ingest stopping: batch finished, leaving the group")
    }

    /// Parses and applies one batch. Internal for tests.
    func apply(_ messages: [KafkaMessage], nowMs: Int64) throws -> ApplyOutcome {
        let start = ContinuousClock.now
        var records: [IngestRecord] = []
        records.reserveCapacity(messages.count)
        for m in messages {
            let position = StreamPosition(m.topic, m.partition, m.offset)
            switch parser.parse(value: m.value, key: m.key, nowMs: nowMs) {
            case .success(let e):
                records.append(IngestRecord(position: position, payload: .event(e)))
            case .failure(let reason):
                records.append(IngestRecord(position: position, payload: .deadLetter(DeadLetter(
                    position: position, reason: reason.code, detail: reason.description, key: m.key, payload: m.value,
                    timestampMs: m.timestampMs))))
            }
        }
        let outcome = try store.apply(records)
        metrics.consumed.increment(by: Int64(messages.count))
        metrics.applied.increment(by: Int64(outcome.applied))
        if outcome.replayed > 0 { metrics.replayed.increment(by: Int64(outcome.replayed)) }
        if outcome.duplicateIDs > 0 { metrics.duplicates.increment(by: Int64(outcome.duplicateIDs)) }
        for (reason, n) in outcome.deadLetteredByReason { metrics.deadLettered[reason]?.increment(by: Int64(n)) }
        metrics.batchLatency.record(ContinuousClock.now - start)
        metrics.batchSize.record(Double(messages.count))
        health.update {
            $0.lastBatchMs = nowMs
            $0.eventsApplied += Int64(outcome.applied)
            $0.deadLettered += Int64(outcome.deadLettered)
        }
        return outcome
    }
}
