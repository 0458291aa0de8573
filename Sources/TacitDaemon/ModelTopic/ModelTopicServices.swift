import Foundation
import Logging
import ServiceLifecycle
import TacitKafka
import TacitStore

/// The trainer's side of the models topic (`service.role = "train"`): each snapshot the trainer promotes
/// goes to `kafka.models_topic` (`ModelTopicMessages`). At start the newest promoted snapshot in the store
/// is published again, so one whose publishing a crash interrupted reaches the readers (they ignore a
/// version they already serve). A failed delivery is retried at the next check.
final class ModelTopicPublisher: Service {
    let store: EventStore
    let recommender: EmbeddingRecommender
    /// Its own producer: snapshots are large and must not queue behind (or ahead of) lists.
    let producer: KafkaProducer
    let topic: String
    let chunkBytes: Int
    let checkEvery: Duration
    let metrics: DaemonMetrics
    let logger: Logger

    init(
        store: EventStore,
        recommender: EmbeddingRecommender,
        producer: KafkaProducer,
        topic: String,
        chunkBytes: Int = ModelTopicMessages.defaultChunkBytes,
        checkEvery: Duration = .seconds(1),
        metrics: DaemonMetrics,
        logger: Logger
    ) {
        self.store = store
        self.recommender = recommender
        self.producer = producer
        self.topic = topic
        self.chunkBytes = chunkBytes
        self.checkEvery = checkEvery
        self.metrics = metrics
        self.logger = logger
    }

    func run() async throws {
        let producer = self.producer
        await withDiscardingTaskGroup { group in
            group.addTask { await producer.run() }
            var published: Int64 = 0
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                if let served = recommender.model, served.version > published, await publish(served.identity) {
                    published = served.version
                }
                try? await Task.sleep(for: checkEvery)
            }
            group.cancelAll()
        }
        producer.close(flushTimeout: .seconds(5))
    }

    /// Sends the stored snapshot of `identity`; whether every record was acknowledged.
    func publish(_ identity: ModelIdentity) async -> Bool {
        do {
            guard let snapshot = try store.snapshot(version: identity.version) else {
                logger.warning("served snapshot not in the store", metadata: ["version": "\(identity.version)"])
                return false
            }
            let itemIDs = Array(try store.itemExternalIDs().prefix(snapshot.itemCount))
            let model = TravellingModel(snapshot: snapshot, itemIDs: itemIDs)
            let records = try ModelTopicMessages.records(for: model, topic: topic, chunkBytes: chunkBytes)
            let start = ContinuousClock.now
            for result in await producer.sendAll(records) {
                if case .failure(let error) = result { throw error }
            }
            metrics.modelsPublished.increment()
            logger.info(
                "model published",
                metadata: [
                    "model": "\(identity.name)", "version": "\(identity.version)", "topic": "\(topic)",
                    "records": "\(records.count)", "took": "\(ContinuousClock.now - start)",
                ]
            )
            return true
        } catch {
            logger.warning("model not published, retrying", metadata: ["version": "\(identity.version)", "error": "\(error)"])
            return false
        }
    }
}

/// The serving side (`service.role = "serve"`): reads the models topic from its start (its own consumer
/// group, nothing committed), so an instance serves the newest complete snapshot soon after it starts and
/// swaps in each newer one while it runs. The model's item rows are laid out over this store's items by
/// their external ids (`ServingEmbeddings.reindexed`; items this instance has not seen yet are registered).
/// A torn or corrupt snapshot, or one that does not fit its settings, is refused and logged; the model
/// already served stays.
final class ModelTopicReader: Service {
    let consumer: KafkaConsumerConfiguration
    let store: EventStore
    let recommender: EmbeddingRecommender
    let metrics: DaemonMetrics
    let logger: Logger

    /// `consumer` names the models topic; its group must be this instance's alone.
    init(consumer: KafkaConsumerConfiguration, store: EventStore, recommender: EmbeddingRecommender, metrics: DaemonMetrics, logger: Logger) {
        self.consumer = consumer
        self.store = store
        self.recommender = recommender
        self.metrics = metrics
        self.logger = logger
    }

    /// Every partition from its beginning.
    private struct FromBeginning: KafkaOffsetSource {
        func resumeOffsets(for partitions: [TopicPartition]) throws -> [TopicPartition: Int64] { [:] }
    }

    func run() async throws {
        var configuration = consumer
        configuration.startPosition = .beginning
        let consumer = try KafkaConsumer(configuration: configuration, offsetSource: FromBeginning(), logger: logger)
        try consumer.subscribe()
        defer { consumer.close() }
        var assembler = ModelTopicAssembler()
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let messages = try consumer.poll(maxMessages: 64)
            for m in messages {
                switch assembler.receive(key: m.key, value: m.value) {
                case .pending: break
                case .complete(let snapshot): install(snapshot)
                case .refused(let model, let version, let reason): refuse(model: model, version: version, reason: reason)
                }
            }
            if messages.isEmpty { try? await Task.sleep(for: .milliseconds(100)) }
        }
    }

    /// Serves `travelling` if it is of the served model and newer than what is served.
    func install(_ travelling: TravellingModel) {
        let snapshot = travelling.snapshot
        guard snapshot.model == recommender.modelName else { return }
        let current = recommender.model?.version ?? 0
        guard snapshot.version > current else { return }
        guard let model = ServingEmbeddings(snapshot: snapshot) else {
            refuse(
                model: snapshot.model,
                version: snapshot.version,
                reason: "does not fit its recorded settings (\(SnapshotFormat.record(of: snapshot)))"
            )
            return
        }
        let placed: ServingEmbeddings
        do {
            let rows = try store.registerItems(travelling.itemIDs)
            guard let laidOut = model.reindexed(itemRows: rows, localItemCount: try store.counts().items) else {
                refuse(model: snapshot.model, version: snapshot.version, reason: "cannot be laid out over this store's items")
                return
            }
            placed = laidOut
        } catch {
            refuse(model: snapshot.model, version: snapshot.version, reason: "store: \(error)")
            return
        }
        recommender.install(placed)
        metrics.modelsInstalled.increment()
        logger.info(
            "model installed from the models topic",
            metadata: ["model": "\(snapshot.model)", "version": "\(snapshot.version)", "previous": "\(current)", "items": "\(placed.itemCount)"]
        )
    }

    func refuse(model: String, version: Int64, reason: String) {
        metrics.modelsRefused.increment()
        logger.error("model refused, keeping the one served", metadata: ["model": "\(model)", "version": "\(version)", "reason": "\(reason)"])
    }
}
