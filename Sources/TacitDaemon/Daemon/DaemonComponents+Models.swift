import Foundation
import ServiceLifecycle
import Synchronization
import TacitKafka
import TacitStore

extension DaemonComponents {
    /// The components for the model named by `trainer.model`:
    /// - `popularity`: the baseline (`PopularityRecommender`), no trainer;
    /// - `trending`: the decayed-popularity baseline (`TrendingRecommender`), no trainer;
    /// - `bpr`, `lightgcn`: an `EmbeddingRecommender` serving the newest promoted snapshot of the
    ///   model (loaded at start-up, popularity until the first promotion), folding in new events
    ///   between fine-tunes, and, when `trainer.enabled`, a `TrainerService` fine-tuning it.
    /// - `hnt`: the same, trained on the target behavior and the `taxonomy.auxiliary` behaviors.
    /// - `sasrec`, `sine`, `emorec`: the same host and trainer; lists re-encode the user's history per request.
    /// Throws a `ConfigurationError` naming `trainer.model` for an unknown model
    /// (`TacitConfiguration.load` already rejects one, naming the file).
    public static func fromConfiguration(_ config: TacitConfiguration) throws -> DaemonComponents {
        if config.trainer.modelSettings != nil {
            let built = ModelComponentsBox()
            return DaemonComponents(
                recommender: { context in try built.make(context).recommender },
                observers: { context in
                    let m = try built.current(context)
                    return [m.recommender] + (m.trainer.map { [$0] } ?? [])
                },
                services: { context in
                    let m = try built.current(context)
                    return (m.trainer.map { [$0] } ?? []) + (m.modelTopic.map { [$0] } ?? [])
                }
            )
        }
        switch config.trainer.model {
        case "popularity":
            return DaemonComponents()
        case "trending":
            let trend = Mutex<(EventStore, ItemTrend)?>(nil)
            @Sendable func current(_ context: DaemonContext) throws -> ItemTrend {
                try trend.withLock { t in
                    if let t, t.0 === context.store { return t.1 }
                    let built = try ItemTrend(store: context.store)
                    t = (context.store, built)
                    return built
                }
            }
            return DaemonComponents(
                recommender: { context in
                    TrendingRecommender(
                        trend: try current(context),
                        halfLife: config.trainer.trendHalfLife,
                        lift: context.configuration.publisher.hesitationLift(context.configuration.taxonomy)
                    )
                },
                observers: { context in [try current(context)] }
            )
        default:
            throw ConfigurationError(
                file: "(configuration)",
                key: "trainer.model",
                message: "unknown model \"\(config.trainer.model)\": choose \(TacitConfiguration.models.joined(separator: ", "))"
            )
        }
    }
}

/// The recommender and trainer of one daemon run. `Daemon.run` asks for the recommender first,
/// then the observers and services, with the same context; a new run (a new store) builds anew.
private final class ModelComponentsBox: Sendable {
    struct Built: Sendable {
        var store: EventStore
        var recommender: EmbeddingRecommender
        var trainer: TrainerService?
        /// Role `train`: the publisher of promoted snapshots; role `serve`: the reader that installs them.
        var modelTopic: (any Service)?
    }

    private let built = Mutex<Built?>(nil)

    func make(_ context: DaemonContext) throws -> Built {
        let t = context.configuration.trainer
        let recommender = try EmbeddingRecommender(
            model: t.model,
            store: context.store,
            foldInWeight: t.foldInWeight,
            cacheCapacity: t.foldInCacheSize,
            trend: t.trend,
            lift: context.configuration.publisher.hesitationLift(context.configuration.taxonomy)
        )
        if let m = recommender.model {
            context.logger.info("serving snapshot", metadata: ["model": "\(m.model)", "version": "\(m.version)"])
        }
        let role = context.configuration.service.role
        let trainer =
            t.enabled && role != .serve
            ? TrainerService(
                configuration: t,
                auxiliaryBehaviors: context.configuration.taxonomy.auxiliary,
                store: context.store,
                recommender: recommender,
                metrics: context.metrics,
                logger: context.logger
            )
            : nil
        let kafka = context.configuration.kafka
        var modelTopic: (any Service)?
        switch role {
        case .all: break
        case .train:
            modelTopic = ModelTopicPublisher(
                store: context.store,
                recommender: recommender,
                producer: try KafkaProducer(configuration: kafka.producer, logger: context.logger),
                topic: kafka.modelsTopic,
                metrics: context.metrics,
                logger: context.logger
            )
        case .serve:
            var consumer = kafka.consumer
            consumer.topics = [kafka.modelsTopic]
            // Every serving instance reads the whole topic: a group of its own, never committed.
            consumer.groupID = "\(kafka.groupID).models.\(UUID().uuidString)"
            modelTopic = ModelTopicReader(
                consumer: consumer,
                store: context.store,
                recommender: recommender,
                metrics: context.metrics,
                logger: context.logger
            )
        }
        let b = Built(store: context.store, recommender: recommender, trainer: trainer, modelTopic: modelTopic)
        built.withLock { $0 = b }
        return b
    }

    func current(_ context: DaemonContext) throws -> Built {
        if let b = built.withLock({ $0 }), b.store === context.store { return b }
        return try make(context)
    }
}
