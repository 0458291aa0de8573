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

    public init(
        settings: Settings,
        parser: EventParser,
        store: EventStore,
        publisher: PublisherService?,
        observers: [any IngestObserver],
        metrics: DaemonMetrics,
        health: HealthState,
        logger: Logger,
        onReady: @escaping @Sendable () -> Void = {}
    ) {
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
        let consumer = try KafkaConsumer(
            configuration: settings.consumer,
            offsetSource: StoreOffsetSource(store: store, logger: logger),
            logger: logger
        )
        try consumer.subscribe()
        health.update { $0.ready = true }
        onReady()
        defer {
            consumer.close()  // leaves the group: partitions move to other members at once
            health.update { $0.assignedPartitions = 0 }
        }
        var lastLag = ContinuousClock.now
        var nextOffsets: [TopicPartition: Int64] = [:]
        // Parsing batch N+1 overlaps applying batch N (two cores: JSON on one, SQLite on the other). A parsed
        // batch waits for at most one more poll, which returns at once: the next batch or nothing.
        var parsed: ParsedBatch?
        // Idle polls back off from 1 ms to poll_timeout_ms: a stream's next records are picked up within a
        // millisecond or two, an idle consumer still wakes only every poll_timeout_ms.
        let firstIdleWait = Duration.milliseconds(1)
        var idleWait = firstIdleWait
        func finish(_ batch: ParsedBatch) throws {
            let outcome = try apply(batch)
            for (p, n) in outcome.nextOffsets { nextOffsets[TopicPartition(p.topic, p.partition)] = n }
            consumer.commit(nextOffsets)
            publisher?.batchApplied(outcome)
            for o in observers { o.didApply(outcome) }
        }
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
            // Also while polls come back empty: a consumer that stops receiving must show a growing lag.
            if ContinuousClock.now - lastLag > .seconds(5) {
                lastLag = .now
                metrics.lag.set(Double(consumer.lag(nextOffsets: nextOffsets).values.reduce(0, +)))
            }
            if messages.isEmpty {
                if let batch = parsed {
                    parsed = nil
                    try finish(batch)
                } else {
                    try? await Task.sleep(for: min(idleWait, settings.pollTimeout))
                    idleWait = min(idleWait * 2, settings.pollTimeout)
                }
                continue
            }
            idleWait = firstIdleWait
            let parser = self.parser
            let parsing = Task.detached { parser.parse(messages, nowMs: now) }
            if let batch = parsed { try finish(batch) }
            parsed = await parsing.value
            metrics.assignedPartitions.set(Double(consumer.assignment.count))
        }
        // The batch in hand is finished before leaving the group.
        if let batch = parsed { try finish(batch) }
        logger.info("ingest stopping: batch finished, leaving the group")
    }

    /// Parses and applies one batch. Internal for tests.
    func apply(_ messages: [KafkaMessage], nowMs: Int64) throws -> ApplyOutcome {
        try apply(parser.parse(messages, nowMs: nowMs))
    }

    /// Applies a parsed batch (one transaction) and counts it.
    func apply(_ batch: ParsedBatch) throws -> ApplyOutcome {
        let start = ContinuousClock.now
        let outcome = try store.apply(batch.records)
        metrics.consumed.increment(by: Int64(batch.records.count))
        metrics.applied.increment(by: Int64(outcome.applied))
        if outcome.replayed > 0 { metrics.replayed.increment(by: Int64(outcome.replayed)) }
        if outcome.duplicateIDs > 0 { metrics.duplicates.increment(by: Int64(outcome.duplicateIDs)) }
        for (reason, n) in outcome.deadLetteredByReason { metrics.deadLettered[reason]?.increment(by: Int64(n)) }
        metrics.batchLatency.record(batch.parseTime + (ContinuousClock.now - start))
        metrics.batchSize.record(Double(batch.records.count))
        health.update {
            $0.lastBatchMs = batch.nowMs
            $0.eventsApplied += Int64(outcome.applied)
            $0.deadLettered += Int64(outcome.deadLettered)
        }
        return outcome
    }
}

/// A polled batch turned into store records: events, or dead letters with their reason.
struct ParsedBatch: Sendable {
    var records: [IngestRecord]
    /// When the batch was polled (the parser's "now" for the future-timestamp bound).
    var nowMs: Int64
    var parseTime: Duration
}

extension EventParser {
    func parse(_ messages: [KafkaMessage], nowMs: Int64) -> ParsedBatch {
        let start = ContinuousClock.now
        var records: [IngestRecord] = []
        records.reserveCapacity(messages.count)
        for m in messages {
            let position = StreamPosition(m.topic, m.partition, m.offset)
            switch parse(value: m.value, key: m.key, nowMs: nowMs) {
            case .success(let e):
                records.append(IngestRecord(position: position, payload: .event(e)))
            case .failure(let reason):
                records.append(
                    IngestRecord(
                        position: position,
                        payload: .deadLetter(
                            DeadLetter(
                                position: position,
                                reason: reason.code,
                                detail: reason.description,
                                key: m.key,
                                payload: m.value,
                                timestampMs: m.timestampMs
                            )
                        )
                    )
                )
            }
        }
        return ParsedBatch(records: records, nowMs: nowMs, parseTime: ContinuousClock.now - start)
    }
}
