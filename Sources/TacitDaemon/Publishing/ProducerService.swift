import Logging
import ServiceLifecycle
import TacitKafka

/// Runs the shared producer's event loop (delivery reports, stall detection). Listed first in
/// the service group so it shuts down last, after the publisher and dead-letter services have
/// sent their final messages; then it flushes and closes the producer.
public struct ProducerService: Service {
    let producer: KafkaProducer
    let flushTimeout: Duration
    let metrics: DaemonMetrics
    let logger: Logger

    public init(producer: KafkaProducer, flushTimeout: Duration, metrics: DaemonMetrics, logger: Logger) {
        self.producer = producer
        self.flushTimeout = flushTimeout
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        let producer = self.producer, metrics = self.metrics
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await producer.run() }
                group.addTask {
                    while !Task.isCancelled {
                        metrics.producerRecreations.set(Double(producer.statistics.recreations))
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
                await group.waitForAll()
            }
        }
        producer.close(flushTimeout: flushTimeout)
        logger.info(
            "producer flushed and closed",
            metadata: [
                "delivered": "\(producer.statistics.delivered)", "recreations": "\(producer.statistics.recreations)",
            ]
        )
    }
}
