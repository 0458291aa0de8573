import CRDKafka
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An idempotent producer (`acks=all`, `enable.idempotence=true`) with awaitable deliveries and
/// self-healing: when deliveries stall (see `StateMachine`) or librdkafka raises a fatal error,
/// the client is replaced and outstanding sends fail with `KafkaError.Code.purged` so their
/// callers can send again.
///
/// `run()` must be running for deliveries to be reported: it serves librdkafka's callbacks and
/// watches for stalls. `close(flushTimeout:)` flushes and releases the client.
public final class KafkaProducer: Sendable {
    public typealias Completion = @Sendable (Result<DeliveryReport, KafkaError>) -> Void

    /// One librdkafka client and the context its callbacks see.
    private struct Client: @unchecked Sendable {
        let handle: OpaquePointer
        let context: RDKafkaContext
        let generation: Int
    }

    public struct Statistics: Sendable, Equatable {
        public var delivered = 0
        public var failed = 0
        public var recreations = 0
        public var inFlight = 0
        public var lastError: String?
    }

    private let configuration: KafkaProducerConfiguration
    private let properties: [(String, String)]
    private let logger: Logger
    private let client: Locked<Client?>
    private let machine: Locked<StateMachine>
    private let pending = Locked<[UInt64: Completion]>([:])
    private let nextID = Locked<UInt64>(1)
    private let stats = Locked(Statistics())

    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        properties = try configuration.rdkafkaProperties()
        machine = Locked(StateMachine(stallTimeout: configuration.stallTimeout, now: .now))
        client = Locked(nil)
        let first = try makeClient(generation: 0)
        client.withLock { $0 = first }
    }

    deinit {
        if let c = client.withLock({ $0 }) {
            rd_kafka_purge(c.handle, Self.purgeAll)
            rd_kafka_destroy(c.handle)
        }
        failAllPending(KafkaError(.closed, "producer released"))
    }

    public var statistics: Statistics {
        var s = stats.withLock { $0 }
        s.inFlight = machine.withLock { $0.inFlight }
        return s
    }

    // MARK: - Sending

    /// Enqueues `record` and returns once the broker acknowledged it (or failed it).
    public func send(_ record: ProducerRecord) async throws -> DeliveryReport {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<DeliveryReport, any Error>) in
            enqueue(record) { cont.resume(with: $0.mapError { $0 as any Error }) }
        }
    }

    /// Sends all records, retrying a full local queue, and returns one result per record in order.
    /// Everything is enqueued before waiting, so the batch travels together.
    public func sendAll(_ records: [ProducerRecord]) async -> [Result<DeliveryReport, KafkaError>] {
        guard !records.isEmpty else { return [] }
        struct Gather: Sendable {
            var results: [Result<DeliveryReport, KafkaError>?]
            var remaining: Int
            var waiter: CheckedContinuation<Void, Never>?
        }
        let gather = Locked(Gather(results: Array(repeating: nil, count: records.count),
                                   remaining: records.count, waiter: nil))
        @Sendable func finish(_ i: Int, _ r: Result<DeliveryReport, KafkaError>) {
            let waiter = gather.withLock { g -> CheckedContinuation<Void, Never>? in
                g.results[i] = r
                g.remaining -= 1
                guard g.remaining == 0 else { return nil }
                defer { g.waiter = nil }
                return g.waiter
            }
            waiter?.resume()
        }
        for (i, record) in records.enumerated() {
            while true {
                guard let refused = tryEnqueue(record, completion: { finish(i, $0) }) else { break }
                if refused.code == .queueFull {
                    try? await Task.sleep(for: .milliseconds(5))   // run() drains the queue meanwhile
                    continue
                }
                finish(i, .failure(refused))
                break
            }
        }
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            let done = gather.withLock { g -> Bool in
                if g.remaining == 0 { return true }
                g.waiter = cont
                return false
            }
            if done { cont.resume() }
        }
        return gather.withLock { $0.results.map { $0 ?? .failure(KafkaError(.delivery, "no result")) } }
    }

    /// Enqueues `record`; `completion` runs exactly once, from `run()`'s thread or at once on a
    /// refused enqueue (`queueFull`, `produce`, `closed`).
    public func enqueue(_ record: ProducerRecord, completion: @escaping Completion) {
        if let refused = tryEnqueue(record, completion: completion) {
            completion(.failure(refused))
        }
    }

    /// Enqueues `record` and returns nil, or returns why librdkafka refused it (then `completion`
    /// is never called).
    func tryEnqueue(_ record: ProducerRecord, completion: @escaping Completion) -> KafkaError? {
        let id = nextID.withLock { v -> UInt64 in defer { v &+= 1 }; return v }
        pending.withLock { $0[id] = completion }
        let refused: KafkaError? = client.withLock { c in
            guard let c else { return KafkaError(.closed, "producer is closed") }
            machine.withLock { $0.enqueued(now: .now) }
            let err = Self.produce(c.handle, record, opaque: UnsafeMutableRawPointer(bitPattern: UInt(id)))
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                machine.withLock { $0.enqueueFailed() }
                let code: KafkaError.Code = err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? .queueFull
                    : err == RD_KAFKA_RESP_ERR__FATAL ? .fatal : .produce
                return KafkaError(code, "\(record.topic): \(RDKafka.errorString(err))", rdkafkaError: err.rawValue)
            }
            return nil
        }
        if refused != nil { pending.withLock { _ = $0.removeValue(forKey: id) } }
        return refused
    }

    // MARK: - Event loop

    /// Serves delivery reports and replaces a stalled client, until the task is cancelled or the
    /// producer is closed. Keep it running while anything sends.
    public func run(pollInterval: Duration = .milliseconds(5)) async {
        while !Task.isCancelled {
            // Polled under the lock so `close` cannot destroy the handle mid-poll. Callbacks served
            // here take other locks only.
            guard let served = client.withLock({ c in c.map { rd_kafka_poll($0.handle, 0) } }) else { return }
            if case .recreate(let reason) = machine.withLock({ $0.check(now: .now) }) {
                recreate(reason: reason)
            }
            if served == 0 {
                try? await Task.sleep(for: pollInterval)
            }
        }
    }

    /// Waits up to `timeout` for outstanding messages to be acknowledged. Returns whether all were.
    @discardableResult
    public func flush(timeout: Duration) -> Bool {
        guard let c = client.withLock({ $0 }) else { return true }
        return rd_kafka_flush(c.handle, Int32(clamping: timeout.milliseconds)) == RD_KAFKA_RESP_ERR_NO_ERROR
    }

    /// Flushes for up to `flushTimeout`, fails whatever is still outstanding, and releases the
    /// client. Idempotent.
    public func close(flushTimeout: Duration) {
        machine.withLock { $0.close() }
        guard let c = client.withLock({ c -> Client? in defer { c = nil }; return c }) else { return }
        let err = rd_kafka_flush(c.handle, Int32(clamping: flushTimeout.milliseconds))
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("producer closed with undelivered messages", metadata: ["outstanding": "\(rd_kafka_outq_len(c.handle))"])
            rd_kafka_purge(c.handle, Self.purgeAll)
            rd_kafka_poll(c.handle, 0)
        }
        rd_kafka_destroy(c.handle)
        withExtendedLifetime(c.context) {}
        failAllPending(KafkaError(.closed, "producer closed"))
    }

    /// Replaces the client now (what `run()` does on a stall). Outstanding sends fail with `.purged`.
    public func recreate(reason: String) {
        logger.warning("recreating producer", metadata: ["reason": "\(reason)"])
        let generation = machine.withLock { $0.generation } + 1
        let fresh: Client
        do {
            fresh = try makeClient(generation: generation)
        } catch {
            logger.error("could not recreate producer", metadata: ["error": "\(error)"])
            return
        }
        guard let old = client.withLock({ c -> Client? in
            guard let old = c else { return nil }
            c = fresh
            return old
        }) else {
            rd_kafka_destroy(fresh.handle)
            return
        }
        _ = machine.withLock { $0.recreated(now: .now) }
        stats.withLock { $0.recreations += 1 }
        // Purged messages are reported through the old client's callbacks: serve them, then drop it.
        rd_kafka_purge(old.handle, Self.purgeAll)
        for _ in 0..<100 where rd_kafka_outq_len(old.handle) > 0 {
            rd_kafka_poll(old.handle, 10)
        }
        rd_kafka_destroy(old.handle)
        withExtendedLifetime(old.context) {}
    }

    // MARK: - librdkafka plumbing

    private static let purgeAll: Int32 = 0x1 | 0x2 | 0x4   // QUEUE | INFLIGHT | NON_BLOCKING
    private static let msgFlagCopy: Int32 = 0x2             // RD_KAFKA_MSG_F_COPY

    private func makeClient(generation: Int) throws -> Client {
        let machine = self.machine
        let pending = self.pending
        let stats = self.stats
        let log = logger
        let context = RDKafkaContext(
            logger: logger,
            onError: { err, reason in
                if err == RD_KAFKA_RESP_ERR__FATAL {
                    machine.withLock { $0.fatalError(generation: generation, reason: reason) }
                    log.error("producer fatal error", metadata: ["reason": "\(reason)"])
                } else {
                    log.debug("producer error", metadata: ["error": "\(RDKafka.errorName(err))", "reason": "\(reason)"])
                }
                stats.withLock { $0.lastError = "\(RDKafka.errorName(err)): \(reason)" }
            },
            onDelivery: { msg in
                machine.withLock { $0.reported(generation: generation, now: .now) }
                let id = UInt64(UInt(bitPattern: msg.pointee._private))
                guard let done = pending.withLock({ $0.removeValue(forKey: id) }) else { return }
                let m = msg.pointee
                if m.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    stats.withLock { $0.delivered += 1 }
                    done(.success(DeliveryReport(topic: String(cString: rd_kafka_topic_name(m.rkt)),
                                                 partition: m.partition, offset: m.offset)))
                } else {
                    let purged = m.err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m.err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT
                    stats.withLock {
                        $0.failed += 1
                        $0.lastError = RDKafka.errorName(m.err)
                    }
                    done(.failure(KafkaError(purged ? .purged : .delivery, RDKafka.errorString(m.err),
                                             rdkafkaError: m.err.rawValue)))
                }
            })
        let handle = try RDKafka.makeHandle(RD_KAFKA_PRODUCER, properties: properties, context: context)
        return Client(handle: handle, context: context, generation: generation)
    }

    private func failAllPending(_ error: KafkaError) {
        let all = pending.withLock { p -> [Completion] in defer { p.removeAll() }; return Array(p.values) }
        for done in all { done(.failure(error)) }
    }

    /// `rd_kafka_produceva` with every argument copied into C memory that lives for the call.
    private static func produce(_ rk: OpaquePointer, _ r: ProducerRecord,
                                opaque: UnsafeMutableRawPointer?) -> rd_kafka_resp_err_t {
        var allocations: [UnsafeMutableRawPointer] = []
        defer { allocations.forEach { free($0) } }
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
        v.vtype = RD_KAFKA_VTYPE_TOPIC; v.u.cstr = cstr(r.topic); vus.append(v)
        v = rd_kafka_vu_t()
        v.vtype = RD_KAFKA_VTYPE_PARTITION; v.u.i32 = r.partition ?? -1; vus.append(v)
        v = rd_kafka_vu_t()
        v.vtype = RD_KAFKA_VTYPE_MSGFLAGS; v.u.i = msgFlagCopy; vus.append(v)
        v = rd_kafka_vu_t()
        v.vtype = RD_KAFKA_VTYPE_VALUE; v.u.mem.ptr = mem(r.value); v.u.mem.size = r.value.count; vus.append(v)
        if let key = r.key {
            v = rd_kafka_vu_t()
            v.vtype = RD_KAFKA_VTYPE_KEY; v.u.mem.ptr = mem(key); v.u.mem.size = key.count; vus.append(v)
        }
        if let ts = r.timestampMs {
            v = rd_kafka_vu_t()
            v.vtype = RD_KAFKA_VTYPE_TIMESTAMP; v.u.i64 = ts; vus.append(v)
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
        v.vtype = RD_KAFKA_VTYPE_OPAQUE; v.u.ptr = opaque; vus.append(v)
        guard let error = rd_kafka_produceva(rk, vus, vus.count) else { return RD_KAFKA_RESP_ERR_NO_ERROR }
        let code = rd_kafka_error_code(error)
        rd_kafka_error_destroy(error)
        return code
    }
}
