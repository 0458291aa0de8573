import Logging
import ServiceLifecycle
import TacitKafka
import TacitStore

/// Drains the store's dead-letter outbox to the dead-letter topic. Dead letters are written to
/// the outbox in the same transaction as the batch they came from, so none is lost on a crash;
/// one is removed from the outbox only after the broker acknowledged it (at-least-once).
///
/// Record: key = the original key; value = JSON
/// `{"reason","detail","source":{"topic","partition","offset","timestamp"},"key_base64","payload_base64","dead_lettered_at"}`;
/// headers `tacit.reason`, `tacit.source` (`topic/partition@offset`).
public struct DeadLetterService: Service {
    let store: EventStore
    let producer: KafkaProducer
    let topic: String
    let metrics: DaemonMetrics
    let logger: Logger
    let backoff: Duration

    public init(
        store: EventStore,
        producer: KafkaProducer,
        topic: String,
        metrics: DaemonMetrics,
        logger: Logger,
        backoff: Duration = .seconds(1)
    ) {
        self.store = store
        self.producer = producer
        self.topic = topic
        self.metrics = metrics
        self.logger = logger
        self.backoff = backoff
    }

    public func run() async throws {
        while true {
            let stopping = Task.isShuttingDownGracefully || Task.isCancelled
            var sent = 0
            var failed = false
            do {
                let batch = try store.pendingDeadLetters(limit: 500)
                if !batch.isEmpty {
                    let results = await producer.sendAll(batch.map(record))
                    var done: [Int64] = []
                    for (d, r) in zip(batch, results) {
                        if case .success = r { done.append(d.id) } else { failed = true }
                    }
                    try store.markDeadLettersDelivered(ids: done, atMs: epochMilliseconds())
                    sent = done.count
                    metrics.deadLettersPublished.increment(by: Int64(sent))
                }
            } catch {
                failed = true
                logger.error("dead-letter outbox", metadata: ["error": "\(error)"])
            }
            if stopping { return }  // what is left stays in the outbox for the next start
            if failed {
                try? await Task.sleep(for: backoff)
            } else if sent == 0 {
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    func record(_ d: DeadLetter) -> ProducerRecord {
        let p = d.position
        var v = "{\"reason\":" + JSON.quoted(d.reason) + ",\"detail\":" + JSON.quoted(d.detail)
        v += ",\"source\":{\"topic\":" + JSON.quoted(p.partition.topic) + ",\"partition\":\(p.partition.partition),\"offset\":\(p.offset)"
        v += ",\"timestamp\":" + (d.timestampMs.map { "\($0)" } ?? "null") + "}"
        v += ",\"key_base64\":" + (d.key.map { JSON.quoted(JSON.base64($0)) } ?? "null")
        v += ",\"payload_base64\":" + JSON.quoted(JSON.base64(d.payload))
        v += ",\"dead_lettered_at\":" + JSON.quoted(JSON.rfc3339(ms: epochMilliseconds())) + "}"
        return ProducerRecord(
            topic: topic,
            key: d.key,
            value: Array(v.utf8),
            headers: [
                KafkaHeader(name: "tacit.reason", string: d.reason),
                KafkaHeader(name: "tacit.source", string: "\(p.partition)@\(p.offset)"),
            ]
        )
    }
}
