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
    /// Told every assignment and which of its partitions restore first (nil: lists are never held).
    let ownership: PartitionOwnership?

    public init(
        settings: Settings,
        parser: EventParser,
        store: EventStore,
        publisher: PublisherService?,
        observers: [any IngestObserver],
        metrics: DaemonMetrics,
        health: HealthState,
        logger: Logger,
        ownership: PartitionOwnership? = nil,
        onReady: @escaping @Sendable () -> Void = {}
    ) {
        self.ownership = ownership
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
        var assignment: Set<TopicPartition> = []
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
            restored(ownership?.reached(nextOffsets) ?? [])
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
            if consumer.assignment != assignment {
                assignment = consumer.assignment
                metrics.assignedPartitions.set(Double(assignment.count))
                if let ownership {
                    ownership.assigned(assignment, restoring: freshPartitions(assignment))
                    metrics.partitionsRestoring.set(Double(ownership.restoring.count))
                    health.update { $0.partitionsRestoring = ownership.restoring.count }
                }
            }
            if let ownership { resolveEnds(ownership, consumer) }
            // Also while polls come back empty: a consumer that stops receiving must show a growing lag.
            if ContinuousClock.now - lastLag > .seconds(5) {
                lastLag = .now
                let lag = consumer.lag(nextOffsets: nextOffsets).values.reduce(0, +)
                metrics.lag.set(Double(lag))
                health.update { $0.lag = lag }
            }
            if messages.isEmpty {
                if let batch = parsed {
                    parsed = nil
                    try finish(batch)
                } else {
                    // Everything polled is applied: the consumer's position also passes what no record
                    // reports (transaction markers, a high watermark that counted them).
                    if let ownership, !ownership.restoring.isEmpty {
                        let known = ownership.restoring.filter { $0.value.target != nil }.map(\.key)
                        restored(ownership.reached(consumer.positions(known)))
                    }
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
        }
        // The batch in hand is finished before leaving the group.
        if let batch = parsed { try finish(batch) }
        logger.info("ingest stopping: batch finished, leaving the group")
    }

    /// Every newly assigned partition restores until the consumer reaches the partition's end as of its
    /// assignment: a partition never had here replays from its start, an older copy from its stored offset;
    /// a copy that is whole is done as soon as the end is known.
    private func freshPartitions(_ assigned: Set<TopicPartition>) -> [TopicPartition: PartitionOwnership.Restore] {
        let fresh = assigned.subtracting(ownership?.assigned ?? [])
        guard !fresh.isEmpty else { return [:] }
        let stored: [StreamPartition: Int64]
        do { stored = try store.nextOffsets(for: fresh.map { StreamPartition($0.topic, $0.partition) }) } catch {
            logger.error("cannot read stored offsets; new partitions are served while they catch up", metadata: ["error": "\(error)"])
            return [:]
        }
        let now = ContinuousClock.now
        return Dictionary(
            uniqueKeysWithValues: fresh.map { tp in
                (tp, PartitionOwnership.Restore(from: stored[StreamPartition(tp.topic, tp.partition)] ?? 0, since: now))
            }
        )
    }

    /// Ends of restoring partitions, from librdkafka's cached watermarks (each fetch response brings them,
    /// no round trip); a partition that has not had one within 5 s is asked once.
    private func resolveEnds(_ ownership: PartitionOwnership, _ consumer: KafkaConsumer) {
        let unknown = ownership.restoring.filter { $0.value.target == nil }
        guard !unknown.isEmpty else { return }
        var ends: [TopicPartition: Int64] = [:]
        for (tp, r) in unknown {
            if let high = consumer.cachedHighWatermark(tp) {
                ends[tp] = high
            } else if ContinuousClock.now - r.since > .seconds(5) {
                ends[tp] = consumer.highWatermark(tp, timeout: .seconds(2)) ?? r.from
                if ends[tp] == r.from { logger.warning("cannot ask the partition's end; serving it as it is", metadata: ["partition": "\(tp)"]) }
            }
        }
        guard !ends.isEmpty else { return }
        let replaying = ends.filter { tp, end in end > (unknown[tp]?.from ?? end) }
        if !replaying.isEmpty {
            logger.info(
                "restoring partitions before their users are served",
                metadata: [
                    "partitions": "\(replaying.keys.sorted())",
                    "records": "\(replaying.map { $0.value - (unknown[$0.key]?.from ?? $0.value) }.reduce(0, +))",
                ]
            )
        }
        restored(ownership.ends(ends), replayed: false)
    }

    private func restored(_ done: [(TopicPartition, PartitionOwnership.Restore)], replayed: Bool = true) {
        guard !done.isEmpty else { return }
        for (tp, r) in done where replayed {
            logger.info(
                "partition restored; its users are served",
                metadata: [
                    "partition": "\(tp)",
                    "records": "\((r.target ?? r.from) - r.from)",
                    "ms": "\((ContinuousClock.now - r.since).milliseconds)",
                ]
            )
        }
        let restoring = ownership?.restoring.count ?? 0
        metrics.partitionsRestoring.set(Double(restoring))
        health.update { $0.partitionsRestoring = restoring }
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
            $0.eventsConsumed += Int64(batch.records.count)
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
