import CRDKafka
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
    private nonisolated(unsafe) let handle: OpaquePointer
    private let context: RDKafkaContext
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

    public init(configuration: KafkaConsumerConfiguration, offsetSource: any KafkaOffsetSource,
                logger: Logger) throws {
        self.configuration = configuration
        self.offsetSource = offsetSource
        self.logger = logger
        let machine = Locked(StateMachine(startPosition: configuration.startPosition))
        self.machine = machine
        let stats = self.stats
        let source = offsetSource
        let log = logger
        context = RDKafkaContext(
            logger: logger,
            onError: { err, reason in
                stats.withLock {
                    $0.transportErrors += 1
                    $0.lastError = "\(RDKafka.errorName(err)): \(reason)"
                    if err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN { $0.brokersDown = true }
                }
                if err == RD_KAFKA_RESP_ERR__FATAL {
                    machine.withLock { $0.fail("fatal: \(reason)") }
                }
                log.debug("consumer error", metadata: ["error": "\(RDKafka.errorName(err))", "reason": "\(reason)"])
            },
            onRebalance: { rk, err, list in
                KafkaConsumer.rebalance(rk, err, list, machine: machine, source: source, stats: stats, logger: log)
            })
        handle = try RDKafka.makeHandle(RD_KAFKA_CONSUMER, properties: try configuration.rdkafkaProperties(),
                                        context: context)
        // Serve errors, logs and rebalances from consumer_poll instead of a separate main queue.
        rd_kafka_poll_set_consumer(handle)
    }

    deinit {
        if machine.withLock({ $0.close() }) {
            rd_kafka_consumer_close(handle)
        }
        rd_kafka_destroy(handle)
    }

    // MARK: - Group membership

    /// Joins the group for the configured topics. Assignment arrives during later `poll`s.
    public func subscribe() throws {
        let list = rd_kafka_topic_partition_list_new(Int32(configuration.topics.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for t in configuration.topics {
            rd_kafka_topic_partition_list_add(list, t, RD_KAFKA_PARTITION_UA)
        }
        let err = rd_kafka_subscribe(handle, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(.subscription, RDKafka.errorString(err), rdkafkaError: err.rawValue)
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
        let err = rd_kafka_consumer_close(handle)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("consumer close", metadata: ["error": "\(RDKafka.errorString(err))"])
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
        while out.count < maxMessages {
            guard let msg = rd_kafka_consumer_poll(handle, wait) else { break }
            wait = 0
            defer { rd_kafka_message_destroy(msg) }
            let m = msg.pointee
            if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { continue }
                let reason = String(cString: rd_kafka_message_errstr(msg))
                stats.withLock {
                    $0.transportErrors += 1
                    $0.lastError = "\(RDKafka.errorName(m.err)): \(reason)"
                }
                if m.err == RD_KAFKA_RESP_ERR__FATAL {
                    machine.withLock { $0.fail("fatal: \(reason)") }
                    break
                }
                logger.debug("consume error", metadata: ["error": "\(RDKafka.errorName(m.err))", "reason": "\(reason)"])
                continue
            }
            let topic = String(cString: rd_kafka_topic_name(m.rkt))
            var tsType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
            let ts = rd_kafka_message_timestamp(msg, &tsType)
            out.append(KafkaMessage(
                topic: topic, partition: m.partition, offset: m.offset,
                key: m.key == nil ? nil : RDKafka.bytes(m.key, m.key_len),
                value: RDKafka.bytes(m.payload, m.len),
                timestampMs: tsType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : ts,
                headers: RDKafka.headers(of: msg)))
            if machine.withLock({ $0.rebalancedDuringPoll }) { break }
        }
        let (rebalanced, assigned) = machine.withLock { ($0.rebalancedDuringPoll, $0.assignment) }
        if !out.isEmpty { stats.withLock { $0.brokersDown = false } }
        if rebalanced { out.removeAll { !assigned.contains($0.topicPartition) } }
        try machine.withLock { $0.beginPoll() }.get()   // surfaces a failure raised inside this poll
        return out
    }

    /// Writes `nextOffsets` (one past the last applied record, per partition) to Kafka without
    /// waiting. For lag monitoring only: resume positions come from the offset source.
    public func commit(_ nextOffsets: [TopicPartition: Int64]) {
        let assigned = assignment
        let entries = nextOffsets.filter { assigned.contains($0.key) }.map { ($0.key, $0.value) }
        guard !entries.isEmpty else { return }
        let list = RDKafka.makeList(entries)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_commit(handle, list, 1)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.debug("commit", metadata: ["error": "\(RDKafka.errorString(err))"])
        }
    }

    /// Records behind the broker's high watermark per assigned partition, from librdkafka's cached
    /// watermarks (no round trip). On Tansu the watermarks are not exact; on Kafka they are.
    public func lag(nextOffsets: [TopicPartition: Int64]) -> [TopicPartition: Int64] {
        var out: [TopicPartition: Int64] = [:]
        for tp in assignment {
            var low: Int64 = -1, high: Int64 = -1
            guard rd_kafka_get_watermark_offsets(handle, tp.topic, tp.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR,
                  high >= 0 else { continue }
            out[tp] = max(0, high - (nextOffsets[tp] ?? low))
        }
        return out
    }

    // MARK: - Rebalance (runs inside rd_kafka_consumer_poll)

    private static func rebalance(_ rk: OpaquePointer, _ err: rd_kafka_resp_err_t,
                                  _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>,
                                  machine: Locked<StateMachine>, source: any KafkaOffsetSource,
                                  stats: Locked<Statistics>, logger: Logger) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE"
        let partitions = RDKafka.offsets(of: list).map(\.0)
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            let stored = Result { try source.resumeOffsets(for: partitions) }
            let action = machine.withLock { $0.assigned(partitions, stored: stored) }
            switch action {
            case .assign(let positions):
                for i in 0..<Int(list.pointee.cnt) {
                    let e = list.pointee.elems[i]
                    let tp = TopicPartition(String(cString: e.topic), e.partition)
                    list.pointee.elems[i].offset = positions[tp] ?? StateMachine.offsetBeginning
                }
                let res: rd_kafka_resp_err_t
                if cooperative {
                    let e = rd_kafka_incremental_assign(rk, list)
                    res = e == nil ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_error_code(e)
                    if let e { rd_kafka_error_destroy(e) }
                } else {
                    res = rd_kafka_assign(rk, list)
                }
                stats.withLock { $0.assignments += 1; $0.brokersDown = false }
                logger.info("partitions assigned", metadata: [
                    "positions": "\(positions.sorted { $0.key < $1.key }.map { "\($0.key)@\($0.value)" })",
                    "result": "\(RDKafka.errorName(res))",
                ])
            case .assignNothingAndFail(let reason):
                logger.error("cannot resume assigned partitions; consuming nothing", metadata: ["reason": "\(reason)"])
                if cooperative {
                    if let e = rd_kafka_incremental_unassign(rk, list) { rd_kafka_error_destroy(e) }
                } else {
                    rd_kafka_assign(rk, nil)
                }
            }
        default:
            // REVOKE_PARTITIONS, or an error: drop the assignment either way.
            if rd_kafka_assignment_lost(rk) != 0 {
                logger.warning("assignment lost", metadata: ["partitions": "\(partitions)"])
            }
            machine.withLock { $0.revoked(partitions) }
            source.partitionsRevoked(partitions)
            if cooperative {
                if let e = rd_kafka_incremental_unassign(rk, list) { rd_kafka_error_destroy(e) }
            } else {
                rd_kafka_assign(rk, nil)
            }
            stats.withLock { $0.revocations += 1 }
            logger.info("partitions revoked", metadata: ["partitions": "\(partitions.sorted())"])
        }
    }
}
