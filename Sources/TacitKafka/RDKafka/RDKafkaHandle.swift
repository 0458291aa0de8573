import CRDKafka

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A librdkafka error code as the rest of TacitKafka sees it.
struct RDKafkaCode: Sendable, Equatable, CustomStringConvertible {
    let raw: rd_kafka_resp_err_t

    static let ok = RDKafkaCode(raw: RD_KAFKA_RESP_ERR_NO_ERROR)

    var isOK: Bool { raw == RD_KAFKA_RESP_ERR_NO_ERROR }
    var isFatal: Bool { raw == RD_KAFKA_RESP_ERR__FATAL }
    var isAllBrokersDown: Bool { raw == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN }
    var isQueueFull: Bool { raw == RD_KAFKA_RESP_ERR__QUEUE_FULL }
    var isPartitionEOF: Bool { raw == RD_KAFKA_RESP_ERR__PARTITION_EOF }
    /// The message was purged from the queue or from in flight (a producer being replaced or closed).
    var isPurged: Bool { raw == RD_KAFKA_RESP_ERR__PURGE_QUEUE || raw == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT }
    var rawValue: Int32 { raw.rawValue }
    /// librdkafka's symbolic name, e.g. `_ALL_BROKERS_DOWN`.
    var name: String { RDKafka.errorName(raw) }
    /// librdkafka's human-readable text.
    var description: String { RDKafka.errorString(raw) }
}

/// What one `rd_kafka_consumer_poll` returned: a record, or an error event.
enum RDKafkaPolled {
    case message(KafkaMessage)
    case error(RDKafkaCode, reason: String)
}

/// A delivery report, read out of librdkafka's message inside the delivery callback.
struct RDKafkaDelivery {
    /// The opaque value the record was produced with.
    let opaque: UInt
    let code: RDKafkaCode
    let topic: String
    let partition: Int32
    let offset: Int64
}

/// A rebalance, inside the rebalance callback (valid only for the callback's duration): what the group
/// hands over or takes away, and the calls that accept it, eager or cooperative alike.
struct RDKafkaRebalance {
    let rk: OpaquePointer
    let err: rd_kafka_resp_err_t
    let list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    /// Partitions assigned (else revoked, or an error: either way the assignment goes).
    var isAssignment: Bool { err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS }
    var partitions: [TopicPartition] { RDKafka.offsets(of: list).map(\.0) }
    var isCooperative: Bool { String(cString: rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE" }
    /// The partitions were lost (session timeout) rather than handed back.
    var assignmentLost: Bool { rd_kafka_assignment_lost(rk) != 0 }

    /// Takes the assigned partitions at `positions` (`otherwise` for a partition without one).
    func assign(_ positions: [TopicPartition: Int64], otherwise: Int64) -> RDKafkaCode {
        for i in 0..<Int(list.pointee.cnt) {
            let e = list.pointee.elems[i]
            list.pointee.elems[i].offset = positions[TopicPartition(String(cString: e.topic), e.partition)] ?? otherwise
        }
        if isCooperative {
            let e = rd_kafka_incremental_assign(rk, list)
            defer { if let e { rd_kafka_error_destroy(e) } }
            return e.map { RDKafkaCode(raw: rd_kafka_error_code($0)) } ?? .ok
        }
        return RDKafkaCode(raw: rd_kafka_assign(rk, list))
    }

    /// Gives up these partitions (or takes none of the assigned ones).
    func unassign() {
        if isCooperative {
            if let e = rd_kafka_incremental_unassign(rk, list) { rd_kafka_error_destroy(e) }
        } else {
            rd_kafka_assign(rk, nil)
        }
    }
}

/// One librdkafka client handle and the context its callbacks reach, with the calls TacitKafka makes on
/// it: every C call of the consumer and the producer goes through here. `destroy()` releases the handle
/// (idempotent; the deinit does it too); the context lives as long as this object.
final class RDKafkaHandle: @unchecked Sendable {
    private let pointer: OpaquePointer
    let context: RDKafkaContext
    private let destroyed = Locked(false)

    private init(pointer: OpaquePointer, context: RDKafkaContext) {
        self.pointer = pointer
        self.context = context
    }

    /// A consumer whose errors, logs and rebalances are served from `consumerPoll` (no separate main queue).
    static func consumer(properties: [(String, String)], context: RDKafkaContext) throws -> RDKafkaHandle {
        let h = try RDKafka.makeHandle(RD_KAFKA_CONSUMER, properties: properties, context: context)
        rd_kafka_poll_set_consumer(h)
        return RDKafkaHandle(pointer: h, context: context)
    }

    static func producer(properties: [(String, String)], context: RDKafkaContext) throws -> RDKafkaHandle {
        RDKafkaHandle(
            pointer: try RDKafka.makeHandle(RD_KAFKA_PRODUCER, properties: properties, context: context),
            context: context
        )
    }

    func destroy() {
        guard
            destroyed.withLock({ d -> Bool in
                defer { d = true }
                return !d
            })
        else { return }
        rd_kafka_destroy(pointer)
    }

    deinit { destroy() }

    // MARK: - Consumer

    func subscribe(_ topics: [String]) -> RDKafkaCode {
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for t in topics { rd_kafka_topic_partition_list_add(list, t, RD_KAFKA_PARTITION_UA) }
        return RDKafkaCode(raw: rd_kafka_subscribe(pointer, list))
    }

    /// Leaves the group (revoking the assignment through the rebalance callback).
    func consumerClose() -> RDKafkaCode { RDKafkaCode(raw: rd_kafka_consumer_close(pointer)) }

    /// The next record or error event, waiting at most `timeoutMs`; nil when there was none.
    func consumerPoll(timeoutMs: Int32) -> RDKafkaPolled? {
        guard let msg = rd_kafka_consumer_poll(pointer, timeoutMs) else { return nil }
        defer { rd_kafka_message_destroy(msg) }
        let m = msg.pointee
        if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
            return .error(RDKafkaCode(raw: m.err), reason: String(cString: rd_kafka_message_errstr(msg)))
        }
        var tsType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let ts = rd_kafka_message_timestamp(msg, &tsType)
        return .message(
            KafkaMessage(
                topic: String(cString: rd_kafka_topic_name(m.rkt)),
                partition: m.partition,
                offset: m.offset,
                key: m.key == nil ? nil : RDKafka.bytes(m.key, m.key_len),
                value: RDKafka.bytes(m.payload, m.len),
                timestampMs: tsType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : ts,
                headers: RDKafka.headers(of: msg)
            )
        )
    }

    /// Commits `offsets` without waiting.
    func commitAsync(_ offsets: [(TopicPartition, Int64)]) -> RDKafkaCode {
        let list = RDKafka.makeList(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return RDKafkaCode(raw: rd_kafka_commit(pointer, list, 1))
    }

    /// librdkafka's cached low and high watermarks of a partition (no round trip), if it has them.
    func cachedWatermarks(_ tp: TopicPartition) -> (low: Int64, high: Int64)? {
        var low: Int64 = -1, high: Int64 = -1
        guard rd_kafka_get_watermark_offsets(pointer, tp.topic, tp.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR
        else { return nil }
        return (low, high)
    }

    /// The partition's watermarks asked of its leader (a round trip, at most `timeoutMs`).
    func queryWatermarks(_ tp: TopicPartition, timeoutMs: Int32) -> (low: Int64, high: Int64)? {
        var low: Int64 = -1, high: Int64 = -1
        guard rd_kafka_query_watermark_offsets(pointer, tp.topic, tp.partition, &low, &high, timeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR
        else { return nil }
        return (low, high)
    }

    /// Partition count of every topic the cluster knows (a metadata round trip, at most `timeoutMs`); nil
    /// when the brokers did not answer.
    func partitionCounts(timeoutMs: Int32) -> [String: Int]? {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        guard rd_kafka_metadata(pointer, 1, nil, &metadata, timeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { return nil }
        defer { rd_kafka_metadata_destroy(metadata) }
        var out: [String: Int] = [:]
        for i in 0..<Int(metadata.pointee.topic_cnt) {
            let t = metadata.pointee.topics[i]
            guard t.err == RD_KAFKA_RESP_ERR_NO_ERROR, let name = t.topic else { continue }
            out[String(cString: name)] = Int(t.partition_cnt)
        }
        return out
    }

    /// The consumer's fetch position per partition (past control records too); partitions without one are left out.
    func positions(_ tps: [TopicPartition]) -> [TopicPartition: Int64] {
        guard !tps.isEmpty else { return [:] }
        let list = RDKafka.makeList(tps.map { ($0, -1001) })  // RD_KAFKA_OFFSET_INVALID
        defer { rd_kafka_topic_partition_list_destroy(list) }
        guard rd_kafka_position(pointer, list) == RD_KAFKA_RESP_ERR_NO_ERROR else { return [:] }
        var out: [TopicPartition: Int64] = [:]
        for i in 0..<Int(list.pointee.cnt) {
            let e = list.pointee.elems[i]
            if e.offset >= 0 { out[TopicPartition(String(cString: e.topic), e.partition)] = e.offset }
        }
        return out
    }

    // MARK: - Producer

    /// Serves queued callbacks (deliveries, errors, logs); returns how many events were served.
    @discardableResult
    func poll(timeoutMs: Int32) -> Int32 { rd_kafka_poll(pointer, timeoutMs) }

    func flush(timeoutMs: Int32) -> RDKafkaCode { RDKafkaCode(raw: rd_kafka_flush(pointer, timeoutMs)) }

    /// Messages and requests still queued or in flight.
    var outstanding: Int32 { rd_kafka_outq_len(pointer) }

    /// Purges queued and in-flight messages without blocking; they are reported as purged.
    func purgeAll() { rd_kafka_purge(pointer, 0x1 | 0x2 | 0x4) }  // QUEUE | INFLIGHT | NON_BLOCKING

    /// `rd_kafka_produceva` with every argument copied into C memory that lives for the call (librdkafka copies
    /// the payload, RD_KAFKA_MSG_F_COPY); `opaque` comes back in the delivery report.
    func produce(_ r: ProducerRecord, opaque: UInt) -> RDKafkaCode {
        var allocations: [UnsafeMutableRawPointer] = []
        defer { for p in allocations { free(p) } }
        func cstr(_ s: String) -> UnsafePointer<CChar> {
            let p = strdup(s)!
            allocations.append(UnsafeMutableRawPointer(p))
            return UnsafePointer(p)
        }
        func mem(_ bytes: [UInt8]) -> UnsafeMutableRawPointer? {
            guard !bytes.isEmpty else { return nil }
            let p = malloc(bytes.count)!
            bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            allocations.append(p)
            return p
        }
        var vus: [rd_kafka_vu_t] = []
        var v = rd_kafka_vu_t()
        v.vtype = RD_KAFKA_VTYPE_TOPIC
        v.u.cstr = cstr(r.topic)
        vus.append(v)
        v = rd_kafka_vu_t()
        v.vtype = RD_KAFKA_VTYPE_PARTITION
        v.u.i32 = r.partition ?? -1
        vus.append(v)
        v = rd_kafka_vu_t()
        v.vtype = RD_KAFKA_VTYPE_MSGFLAGS
        v.u.i = 0x2
        vus.append(v)  // RD_KAFKA_MSG_F_COPY
        v = rd_kafka_vu_t()
        v.vtype = RD_KAFKA_VTYPE_VALUE
        v.u.mem.ptr = mem(r.value)
        v.u.mem.size = r.value.count
        vus.append(v)
        if let key = r.key {
            v = rd_kafka_vu_t()
            v.vtype = RD_KAFKA_VTYPE_KEY
            v.u.mem.ptr = mem(key)
            v.u.mem.size = key.count
            vus.append(v)
        }
        if let ts = r.timestampMs {
            v = rd_kafka_vu_t()
            v.vtype = RD_KAFKA_VTYPE_TIMESTAMP
            v.u.i64 = ts
            vus.append(v)
        }
        for h in r.headers {
            v = rd_kafka_vu_t()
            v.vtype = RD_KAFKA_VTYPE_HEADER
            v.u.header.name = cstr(h.name)
            v.u.header.val = h.value.flatMap { UnsafeRawPointer(mem($0)) }
            v.u.header.size = h.value.map { $0.count } ?? -1
            vus.append(v)
        }
        v = rd_kafka_vu_t()
        v.vtype = RD_KAFKA_VTYPE_OPAQUE
        v.u.ptr = UnsafeMutableRawPointer(bitPattern: opaque)
        vus.append(v)
        guard let error = rd_kafka_produceva(pointer, vus, vus.count) else { return .ok }
        defer { rd_kafka_error_destroy(error) }
        return RDKafkaCode(raw: rd_kafka_error_code(error))
    }
}
