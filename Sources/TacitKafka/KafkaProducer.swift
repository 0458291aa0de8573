import Logging

/// An idempotent producer (`acks=all`, `enable.idempotence=true`) with awaitable deliveries and
/// self-healing: when deliveries stall (see `StateMachine`) or librdkafka raises a fatal error,
/// the client is replaced and outstanding sends fail with `KafkaError.Code.purged` so their
/// callers can send again.
///
/// `run()` must be running for deliveries to be reported: it serves librdkafka's callbacks and
/// watches for stalls. `close(flushTimeout:)` flushes and releases the client.
public final class KafkaProducer: Sendable {
    public typealias Completion = @Sendable (Result<DeliveryReport, KafkaError>) -> Void

    /// One librdkafka client (its handle holds the context its callbacks see).
    private struct Client: Sendable {
        let handle: RDKafkaHandle
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
            c.handle.purgeAll()
            c.handle.destroy()
        }
        failAllPending(KafkaError(.closed, "producer released"))
    }

    public var statistics: Statistics {
        var s = stats.withLock { $0 }
        s.inFlight = machine.withLock { $0.inFlight }
        return s
    }

    /// The partition count of each of `topics` that exists (nil when the brokers did not answer within
    /// `timeout`).
    public func partitionCounts(_ topics: [String], timeout: Duration) -> [String: Int]? {
        guard let all = client.withLock({ $0?.handle.partitionCounts(timeoutMs: Int32(clamping: timeout.milliseconds)) }) else { return nil }
        return all.filter { topics.contains($0.key) }
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
        let gather = Locked(
            Gather(
                results: Array(repeating: nil, count: records.count),
                remaining: records.count,
                waiter: nil
            )
        )
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
                    try? await Task.sleep(for: .milliseconds(5))  // run() drains the queue meanwhile
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
        let id = nextID.withLock { v -> UInt64 in
            defer { v &+= 1 }
            return v
        }
        pending.withLock { $0[id] = completion }
        let refused: KafkaError? = client.withLock { c in
            guard let c else { return KafkaError(.closed, "producer is closed") }
            machine.withLock { $0.enqueued(now: .now) }
            let err = c.handle.produce(record, opaque: UInt(id))
            guard err.isOK else {
                machine.withLock { $0.enqueueFailed() }
                let code: KafkaError.Code = err.isQueueFull ? .queueFull : err.isFatal ? .fatal : .produce
                return KafkaError(code, "\(record.topic): \(err)", rdkafkaError: err.rawValue)
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
            guard let served = client.withLock({ c in c.map { $0.handle.poll(timeoutMs: 0) } }) else { return }
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
        return c.handle.flush(timeoutMs: Int32(clamping: timeout.milliseconds)).isOK
    }

    /// Flushes for up to `flushTimeout`, fails whatever is still outstanding, and releases the
    /// client. Idempotent.
    public func close(flushTimeout: Duration) {
        machine.withLock { $0.close() }
        guard
            let c = client.withLock({ c -> Client? in
                defer { c = nil }
                return c
            })
        else { return }
        if !c.handle.flush(timeoutMs: Int32(clamping: flushTimeout.milliseconds)).isOK {
            logger.warning("producer closed with undelivered messages", metadata: ["outstanding": "\(c.handle.outstanding)"])
            c.handle.purgeAll()
            c.handle.poll(timeoutMs: 0)
        }
        c.handle.destroy()
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
        guard
            let old = client.withLock({ c -> Client? in
                guard let old = c else { return nil }
                c = fresh
                return old
            })
        else {
            fresh.handle.destroy()
            return
        }
        _ = machine.withLock { $0.recreated(now: .now) }
        stats.withLock { $0.recreations += 1 }
        // Purged messages are reported through the old client's callbacks: serve them, then drop it.
        old.handle.purgeAll()
        for _ in 0..<100 where old.handle.outstanding > 0 {
            old.handle.poll(timeoutMs: 10)
        }
        old.handle.destroy()
    }

    // MARK: - librdkafka plumbing

    private func makeClient(generation: Int) throws -> Client {
        let machine = self.machine
        let pending = self.pending
        let stats = self.stats
        let log = logger
        let context = RDKafkaContext(
            logger: logger,
            onError: { err, reason in
                if err.isFatal {
                    machine.withLock { $0.fatalError(generation: generation, reason: reason) }
                    log.error("producer fatal error", metadata: ["reason": "\(reason)"])
                } else {
                    log.debug("producer error", metadata: ["error": "\(err.name)", "reason": "\(reason)"])
                }
                stats.withLock { $0.lastError = "\(err.name): \(reason)" }
            },
            onDelivery: { d in
                machine.withLock { $0.reported(generation: generation, now: .now) }
                guard let done = pending.withLock({ $0.removeValue(forKey: UInt64(d.opaque)) }) else { return }
                if d.code.isOK {
                    stats.withLock { $0.delivered += 1 }
                    done(.success(DeliveryReport(topic: d.topic, partition: d.partition, offset: d.offset)))
                } else {
                    stats.withLock {
                        $0.failed += 1
                        $0.lastError = d.code.name
                    }
                    done(.failure(KafkaError(d.code.isPurged ? .purged : .delivery, d.code.description, rdkafkaError: d.code.rawValue)))
                }
            }
        )
        return Client(handle: try RDKafkaHandle.producer(properties: properties, context: context), generation: generation)
    }

    private func failAllPending(_ error: KafkaError) {
        let all = pending.withLock { p -> [Completion] in
            defer { p.removeAll() }
            return Array(p.values)
        }
        for done in all { done(.failure(error)) }
    }
}
