import Foundation
import TacitKafka
import TacitServiceTestSupport
import TacitStore
import Testing

@testable import TacitDaemon

/// A recommender that can never place anyone: every list is skipped.
private struct NoModelServes: RecommendationSource {
    var currentModel: ModelIdentity { ModelIdentity(name: "none", version: 0) }
    func recommend(user: Int32, k: Int, excluding excluded: Set<Int32>, explain: Bool) throws -> Recommendations? { nil }
}

@Suite("Publisher service and the owed lists")
struct PublisherServiceTests {
    let temp = TemporaryDirectory()

    /// Owed users are scheduled at start (not after the debounce), and a list with nothing to send
    /// pays the debt too: otherwise such users would be rescheduled on every start, forever.
    @Test func aSkippedListClearsTheOwedRowAtStart() async throws {
        let store = try EventStore(configuration: StoreConfiguration(path: temp.url.appendingPathComponent("s.sqlite").path))
        _ = try store.apply([rec(event("u", "a"), offset: 0), rec(event("v", "a"), offset: 1)])
        #expect(try store.owedLists().count == 2)
        // Nothing is ever sent, so no broker is needed behind the producer.
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(client: KafkaClientConfiguration(brokers: ["127.0.0.1:9"])),
            logger: testLogger("producer")
        )
        defer { producer.close(flushTimeout: .milliseconds(100)) }
        let publisher = PublisherService(
            settings: .init(
                topic: "out",
                debounceMs: 3_600_000,
                retryBackoffMs: 100,
                rules: ListBuilder.Rules(topK: 5, excludeConsumed: true, excludeDisliked: true)
            ),
            store: store,
            recommender: NoModelServes(),
            producer: producer,
            metrics: DaemonMetrics(),
            health: HealthState(),
            logger: testLogger("publisher")
        )
        let running = Task { try await publisher.run() }
        let cleared = try await waitUntil(.seconds(10)) { try store.owedLists().isEmpty }
        running.cancel()
        try await running.value
        #expect(cleared)
    }
}
