import Logging
import ServiceLifecycle
import Synchronization
import TacitKafka
import TacitStore

/// What the daemon needs from the outside: the serving model and anything that should run
/// beside ingest (the trainer). Defaults give a complete daemon serving the popularity baseline.
public struct DaemonComponents: Sendable {
    /// Builds the recommendation source once the store is open. Nil: `PopularityRecommender`.
    public var recommender: (@Sendable (DaemonContext) throws -> any RecommendationSource)?
    /// Told about every applied batch (e.g. the trainer counting new events).
    public var observers: @Sendable (DaemonContext) throws -> [any IngestObserver]
    /// Extra long-running services (the trainer), started with the others and shut down before
    /// the publisher, so a promotion during shutdown still gets its lists published.
    public var services: @Sendable (DaemonContext) throws -> [any Service]

    public init(
        recommender: (@Sendable (DaemonContext) throws -> any RecommendationSource)? = nil,
        observers: @escaping @Sendable (DaemonContext) throws -> [any IngestObserver] = { _ in [] },
        services: @escaping @Sendable (DaemonContext) throws -> [any Service] = { _ in [] }
    ) {
        self.recommender = recommender
        self.observers = observers
        self.services = services
    }
}

/// Handles given to components: the open store, metrics, configuration, a logger, and the
/// publisher (call `publisher.scheduleAll()` after promoting a model, or rely on the publisher
/// noticing `RecommendationSource.currentModel` change).
public struct DaemonContext: Sendable {
    public let configuration: TacitConfiguration
    public let store: EventStore
    public let metrics: DaemonMetrics
    public let health: HealthState
    public let logger: Logger
}

/// The daemon: opens the store, then runs, as one service group, the producer, the dead-letter
/// outbox, the publisher, extra services, HTTP, ingest and the systemd watchdog. SIGTERM/SIGINT
/// start a graceful shutdown in reverse order (ingest finishes its batch and leaves the group
/// first, the producer flushes last), bounded by `service.shutdown_timeout_ms`.
public final class Daemon: Sendable {
    public let configuration: TacitConfiguration
    public let components: DaemonComponents
    public let logger: Logger
    public let notifier: SystemdNotifier
    public let metrics = DaemonMetrics()
    public let health: HealthState
    private let group = Mutex<ServiceGroup?>(nil)
    private let shutdownRequested = Mutex(false)

    public init(
        configuration: TacitConfiguration,
        components: DaemonComponents = DaemonComponents(),
        logger: Logger,
        environment: [String: String]
    ) {
        self.configuration = configuration
        self.components = components
        var logger = logger
        logger.logLevel = Logger.Level(rawValue: configuration.service.logLevel) ?? .info
        self.logger = logger
        notifier =
            configuration.service.watchdog || environment["NOTIFY_SOCKET"] != nil
            ? SystemdNotifier(environment: environment) : SystemdNotifier(environment: [:])
        health = HealthState(stallAfterMs: Int64(max(30_000, configuration.kafka.maxPollIntervalMs / 2)))
    }

    /// Runs `configuration` (loaded once, by the caller) until SIGTERM/SIGINT. The CLI's `tacit daemon --config`.
    public static func run(
        configuration: TacitConfiguration,
        components: DaemonComponents = DaemonComponents(),
        logger: Logger = Logger(label: "tacit")
    ) async throws {
        let daemon = Daemon(
            configuration: configuration,
            components: components,
            logger: logger,
            environment: ProcessInfoEnvironment.current
        )
        try await daemon.run(signals: true)
    }

    /// A user's events must land in partitions of one number in every input topic: ownership of users
    /// (lists, restoring a moved partition) goes by that number. Topics of different partition counts
    /// stop a `serve` instance at start, naming the key; `all` only warns (alone in its group it owns every
    /// number). Topics not created yet, or brokers that do not answer in time, are left to later.
    static func checkCoPartitioned(_ c: TacitConfiguration, producer: KafkaProducer, logger: Logger) throws {
        guard c.service.role != .train, c.kafka.inputTopics.count > 1 else { return }
        guard let counts = producer.partitionCounts(c.kafka.inputTopics, timeout: .seconds(3)) else {
            logger.warning("could not check that the input topics have one partition count: no metadata from the brokers yet")
            return
        }
        guard Set(counts.values).count > 1 else { return }
        let listed = c.kafka.inputTopics.compactMap { t in counts[t].map { "\(t) \($0)" } }.joined(separator: ", ")
        let message = "input topics must have the same number of partitions, so that a user's events land in partitions of one number: \(listed)"
        if c.service.role == .serve {
            throw ConfigurationError(file: "(brokers)", key: "kafka.input_topics", message: message)
        }
        logger.warning("kafka.input_topics: \(message); with more than one instance in the group, some users would not be listed")
    }

    /// Runs the daemon; returns after a graceful shutdown, throws if a service failed.
    public func run(signals: Bool = false) async throws {
        let c = configuration
        let store = try EventStore(configuration: c.store.storeConfiguration)
        defer { try? store.checkpoint() }
        let context = DaemonContext(configuration: c, store: store, metrics: metrics, health: health, logger: logger)
        let recommender = try components.recommender?(context) ?? PopularityRecommender(store: store)
        let producer = try KafkaProducer(configuration: c.kafka.producer, logger: logger)
        try Self.checkCoPartitioned(c, producer: producer, logger: logger)
        // Lists go out only for users of partitions assigned here and caught up (state follows its partition).
        let ownership = PartitionOwnership()
        // A `train` instance publishes models, not lists: `serve` instances own the users.
        let publisher: PublisherService? =
            c.service.role == .train
            ? nil
            : PublisherService(
                settings: .init(
                    topic: c.kafka.outputTopic,
                    debounceMs: c.publisher.debounceMs,
                    retryBackoffMs: c.publisher.retryBackoffMs,
                    rules: c.publisher.rules(c.taxonomy),
                    explain: c.publisher.explain
                ),
                store: store,
                recommender: recommender,
                producer: producer,
                metrics: metrics,
                health: health,
                logger: logger,
                online: OnlineQuality(store: store, registry: metrics.registry, logger: logger),
                ownership: ownership
            )
        let notifier = self.notifier, health = self.health, log = logger
        let ingest = IngestService(
            settings: .init(consumer: c.kafka.consumer, batchSize: c.store.batchSize, pollTimeout: .milliseconds(c.store.pollTimeoutMs)),
            parser: EventParser(taxonomy: c.taxonomy, limits: c.events),
            store: store,
            publisher: publisher,
            observers: try components.observers(context),
            metrics: metrics,
            health: health,
            logger: logger,
            ownership: ownership,
            onReady: {
                do { try notifier.notify(.ready, .status("consuming")) } catch {
                    log.warning("systemd notify failed", metadata: ["error": "\(error)"])
                }
                log.info("ready")
            }
        )

        // Shutdown runs in reverse order of this list.
        var services: [any Service] = [
            ProducerService(producer: producer, flushTimeout: .milliseconds(c.service.shutdownTimeoutMs / 4), metrics: metrics, logger: logger),
            DeadLetterService(store: store, producer: producer, topic: c.kafka.deadLetterTopic, metrics: metrics, logger: logger),
        ]
        if let publisher { services.append(publisher) }
        services += try components.services(context)
        if c.http.enabled {
            let live = LiveActivity(health: health, metrics: metrics)
            services.append(live)
            let operatorAPI = OperatorAPI(
                role: c.service.role.rawValue,
                deadLetterTopic: c.kafka.deadLetterTopic,
                store: store,
                recommender: recommender,
                ownership: ownership,
                health: health,
                live: live
            )
            services.append(
                HTTPServer.makeApplication(
                    host: c.http.host,
                    port: c.http.port,
                    store: store,
                    recommender: recommender,
                    publisher: publisher,
                    ownership: ownership,
                    metrics: metrics,
                    health: health,
                    operatorAPI: operatorAPI,
                    logger: logger
                )
            )
        }
        services.append(ingest)
        services.append(
            WatchdogService(
                notifier: notifier,
                logger: logger,
                isHealthy: { health.isLive(nowMs: epochMilliseconds()) },
                status: { health.statusLine() }
            )
        )
        var config = ServiceGroupConfiguration(services: services, logger: logger)
        if signals { config.gracefulShutdownSignals = [.sigterm, .sigint] }
        config.maximumGracefulShutdownDuration = .milliseconds(c.service.shutdownTimeoutMs)
        config.maximumCancellationDuration = .seconds(2)
        let group = ServiceGroup(configuration: config)
        let alreadyRequested = self.group.withLock { g in
            g = group
            return shutdownRequested.withLock { $0 }
        }
        if alreadyRequested { await group.triggerGracefulShutdown() }
        logger.info(
            "starting",
            metadata: [
                "brokers": "\(c.kafka.brokers)", "store": "\(c.store.path)", "topics": "\(c.kafka.inputTopics)", "role": "\(c.service.role)",
            ]
        )
        do {
            try await group.run()
        } catch {
            health.update { $0.fatal = "\(error)" }
            logger.critical("daemon failed", metadata: ["error": "\(error)"])
            throw error
        }
        health.update { $0.stopping = true }
        logger.info("stopped")
    }

    /// Starts a graceful shutdown (what SIGTERM does).
    public func shutdown() async {
        health.update { $0.stopping = true }
        let g = group.withLock { g in
            shutdownRequested.withLock { $0 = true }
            return g
        }
        await g?.triggerGracefulShutdown()
    }
}

/// The process environment without Foundation.
enum ProcessInfoEnvironment {
    static var current: [String: String] {
        var out: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { out[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#endif
