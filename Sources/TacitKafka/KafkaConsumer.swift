import Logging

/// Where a consumer resumes: the application's own record of consumed offsets.
public protocol KafkaOffsetSource: Sendable {
    /// For each partition, the next offset to read (one past the last applied record). Partitions
    /// without an entry start at the configured `StartPosition`. Called from inside `poll` on every
    /// assignment; a thrown error stops the consumer rather than letting it guess.
    func resumeOffsets(for partitions: [TopicPartition]) throws -> [TopicPartition: Int64]
    /// The group took `partitions` away (rebalance or close). Informational.
    func partitionsRevoked(_ partitions: [TopicPartition])
}

extension KafkaOffsetSource {
    public func partitionsRevoked(_ partitions: [TopicPartition]) {}
}

/// A consumer-group member that reads batches and seeks every assigned partition to the offsets
/// the application stored (see `KafkaOffsetSource`). Offsets are never auto-committed; `commit`
/// copies the application's offsets to Kafka for monitoring.
///
/// Thread-safety: all methods may be called from any thread; `poll` should be called by one task
/// at a time (it is where rebalance callbacks run).
public final class KafkaConsumer: Sendable {
    private let handle: RDKafkaHandle
    private let machine: Locked<StateMachine>
    private let configuration: KafkaConsumerConfiguration
    private let offsetSource: any KafkaOffsetSource
    private let logger: Logger
    private let stats = Locked(Statistics())

    /// Counters for health and metrics, cumulative since creation.
    public struct Statistics: Sendable, Equatable {
        public var assignments = 0
        public var revocations = 0
        public var transportErrors = 0
        /// Set while librdkafka reports all brokers down; cleared by the next message or assignment.
        public var brokersDown = false
        public var lastError: String?
    }

    public init(
        configuration: KafkaConsumerConfiguration,
        offsetSource: any KafkaOffsetSource,
        logger: Logger
    ) throws {
        self.configuration = configuration
        self.offsetSource = offsetSource
        self.logger = logger
        let machine = Locked(StateMachine(startPosition: configuration.startPosition))
        self.machine = machine
        let stats = self.stats
        let source = offsetSource
        let log = logger
        let context = RDKafkaContext(
            logger: logger,
            onError: { err, reason in
                stats.withLock {
                    $0.transportErrors += 1
                    $0.lastError = "\(err.name): \(reason)"
                    if err.isAllBrokersDown { $0.brokersDown = true }
                }
                if err.isFatal {
                    machine.withLock { $0.fail("fatal: \(reason)") }
                }
                log.debug("consumer error", metadata: ["error": "\(err.name)", "reason": "\(reason)"])
            },
            onRebalance: { rebalance in
                KafkaConsumer.rebalance(rebalance, machine: machine, source: source, stats: stats, logger: log)
            }
        )
        handle = try RDKafkaHandle.consumer(properties: try configuration.rdkafkaProperties(), context: context)
    }

    deinit {
        if machine.withLock({ $0.close() }) {
            _ = handle.consumerClose()
        }
        handle.destroy()
    }

    // MARK: - Group membership

    /// Joins the group for the configured topics. Assignment arrives during later `poll`s.
    public func subscribe() throws {
        let err = handle.subscribe(configuration.topics)
        guard err.isOK else {
            throw KafkaError(.subscription, err.description, rdkafkaError: err.rawValue)
        }
        machine.withLock { $0.subscribed() }
        logger.info("subscribed", metadata: ["group": "\(configuration.groupID)", "topics": "\(configuration.topics)"])
    }

    /// The partitions currently assigned to this member.
    public var assignment: Set<TopicPartition> { machine.withLock { $0.assignment } }

    public var statistics: Statistics { stats.withLock { $0 } }

    /// Leaves the group (revoking the assignment) and stops fetching. Idempotent.
    public func close() {
        guard machine.withLock({ $0.close() }) else { return }
        let err = handle.consumerClose()
        if !err.isOK {
            logger.warning("consumer close", metadata: ["error": "\(err)"])
        } else {
            logger.info("left the group", metadata: ["group": "\(configuration.groupID)"])
        }
    }

    // MARK: - Reading

    /// Reads up to `maxMessages` records, waiting at most `timeout` for the first one. Returns
    /// early (possibly empty) when a rebalance happened, so a batch never spans two assignments,
    /// and drops records of partitions that are no longer assigned.
    public func poll(maxMessages: Int, timeout: Duration = .zero) throws -> [KafkaMessage] {
        try machine.withLock { $0.beginPoll() }.get()
        var out: [KafkaMessage] = []
        out.reserveCapacity(min(maxMessages, 4096))
        var wait = Int32(clamping: timeout.milliseconds)
        reading: while out.count < maxMessages {
            guard let polled = handle.consumerPoll(timeoutMs: wait) else { break }
            wait = 0
            switch polled {
            case .error(let err, let reason):
                if err.isPartitionEOF { continue }
                stats.withLock {
                    $0.transportErrors += 1
                    $0.lastError = "\(err.name): \(reason)"
                }
                if err.isFatal {
                    machine.withLock { $0.fail("fatal: \(reason)") }
                    break reading
                }
                logger.debug("consume error", metadata: ["error": "\(err.name)", "reason": "\(reason)"])
                continue
            case .message(let message):
                out.append(message)
            }
            if machine.withLock({ $0.rebalancedDuringPoll }) { break }
        }
        let (rebalanced, assigned) = machine.withLock { ($0.rebalancedDuringPoll, $0.assignment) }
        if !out.isEmpty { stats.withLock { $0.brokersDown = false } }
        if rebalanced { out.removeAll { !assigned.contains($0.topicPartition) } }
        try machine.withLock { $0.beginPoll() }.get()  // surfaces a failure raised inside this poll
        return out
    }

    /// Writes `nextOffsets` (one past the last applied record, per partition) to Kafka without
    /// waiting. For lag monitoring only: resume positions come from the offset source.
    public func commit(_ nextOffsets: [TopicPartition: Int64]) {
        let assigned = assignment
        let entries = nextOffsets.filter { assigned.contains($0.key) }.map { ($0.key, $0.value) }
        guard !entries.isEmpty else { return }
        let err = handle.commitAsync(entries)
        if !err.isOK {
            logger.debug("commit", metadata: ["error": "\(err)"])
        }
    }

    /// Records behind the broker's high watermark per assigned partition, from librdkafka's cached
    /// watermarks (no round trip). On Tansu the watermarks are not exact; on Kafka they are.
    public func lag(nextOffsets: [TopicPartition: Int64]) -> [TopicPartition: Int64] {
        var out: [TopicPartition: Int64] = [:]
        for tp in assignment {
            guard let w = handle.cachedWatermarks(tp), w.high >= 0 else { continue }
            out[tp] = max(0, w.high - (nextOffsets[tp] ?? w.low))
        }
        return out
    }

    /// The partition's high watermark as the last fetch response reported it (no round trip); nil before one.
    public func cachedHighWatermark(_ tp: TopicPartition) -> Int64? {
        guard let w = handle.cachedWatermarks(tp), w.high >= 0 else { return nil }
        return w.high
    }

    /// The partition's high watermark asked of its leader, waiting at most `timeout`; nil when it did not
    /// answer. On Tansu it can be lower than the true end (kafka.md), never higher.
    public func highWatermark(_ tp: TopicPartition, timeout: Duration) -> Int64? {
        handle.queryWatermarks(tp, timeoutMs: Int32(clamping: timeout.milliseconds))?.high
    }

    /// The next offset this consumer will fetch per partition (it moves past transaction markers that
    /// no message reports); partitions it has no position for yet are left out.
    public func positions(_ partitions: [TopicPartition]) -> [TopicPartition: Int64] {
        handle.positions(partitions)
    }

    // MARK: - Rebalance (runs inside the consumer's poll)

    private static func rebalance(
        _ rebalance: RDKafkaRebalance,
        machine: Locked<StateMachine>,
        source: any KafkaOffsetSource,
        stats: Locked<Statistics>,
        logger: Logger
    ) {
        let partitions = rebalance.partitions
        if rebalance.isAssignment {
            let stored = Result { try source.resumeOffsets(for: partitions) }
            let action = machine.withLock { $0.assigned(partitions, stored: stored) }
            switch action {
            case .assign(let positions):
                let res = rebalance.assign(positions, otherwise: StateMachine.offsetBeginning)
                stats.withLock {
                    $0.assignments += 1
                    $0.brokersDown = false
                }
                logger.info(
                    "partitions assigned",
                    metadata: [
                        "positions": "\(positions.sorted { $0.key < $1.key }.map { "\($0.key)@\($0.value)" })",
                        "result": "\(res.name)",
                    ]
                )
            case .assignNothingAndFail(let reason):
                logger.error("cannot resume assigned partitions; consuming nothing", metadata: ["reason": "\(reason)"])
                rebalance.unassign()
            }
        } else {
            // REVOKE_PARTITIONS, or an error: drop the assignment either way.
            if rebalance.assignmentLost {
                logger.warning("assignment lost", metadata: ["partitions": "\(partitions)"])
            }
            machine.withLock { $0.revoked(partitions) }
            source.partitionsRevoked(partitions)
            rebalance.unassign()
            stats.withLock { $0.revocations += 1 }
            logger.info("partitions revoked", metadata: ["partitions": "\(partitions.sorted())"])
        }
    }
}
