import Foundation
import TOMLKit
import TacitKafka
import TacitModels
import TacitStore

/// Everything the daemon reads from its one TOML file (configs/tacit.toml documents every key).
/// Every field has a default; unknown keys are errors.
public struct TacitConfiguration: Sendable, Equatable {
    public var kafka = Kafka()
    public var events = EventLimits()
    public var taxonomy = EventTaxonomy()
    public var store = Store()
    public var trainer = Trainer()
    public var publisher = Publisher()
    public var http = HTTP()
    public var service = Service()

    public init() {}

    /// `[kafka]`: brokers, group, topics, and `[kafka.properties]` passed to librdkafka.
    public struct Kafka: Sendable, Equatable {
        public var brokers = ["127.0.0.1:9092"]
        public var clientID = "tacit"
        public var groupID = "tacit"
        public var inputTopics = ["tacit.behaviors", "tacit.feedback"]
        public var outputTopic = "tacit.recommendations"
        public var deadLetterTopic = "tacit.deadletter"
        /// Where a `train` instance publishes promoted snapshots and `serve` instances read them
        /// (one partition; `ModelTopicMessages`).
        public var modelsTopic = "tacit.models"
        public var sessionTimeoutMs = 10_000
        public var heartbeatIntervalMs = 1_000
        public var maxPollIntervalMs = 300_000
        public var fetchWaitMaxMs = 20
        public var lingerMs = 5
        public var messageTimeoutMs = 120_000
        public var producerStallTimeoutMs = 30_000
        /// Extra librdkafka properties for both consumer and producer.
        public var properties: [String: String] = [:]

        public var client: KafkaClientConfiguration {
            KafkaClientConfiguration(brokers: brokers, clientID: clientID, properties: properties)
        }

        public var consumer: KafkaConsumerConfiguration {
            KafkaConsumerConfiguration(
                client: client,
                groupID: groupID,
                topics: inputTopics,
                sessionTimeout: .milliseconds(sessionTimeoutMs),
                heartbeatInterval: .milliseconds(heartbeatIntervalMs),
                maxPollInterval: .milliseconds(maxPollIntervalMs),
                fetchWaitMax: .milliseconds(fetchWaitMaxMs)
            )
        }

        public var producer: KafkaProducerConfiguration {
            KafkaProducerConfiguration(
                client: client,
                linger: .milliseconds(lingerMs),
                messageTimeout: .milliseconds(messageTimeoutMs),
                stallTimeout: .milliseconds(producerStallTimeoutMs)
            )
        }
    }

    /// `[store]`: the SQLite file and how batches are cut.
    public struct Store: Sendable, Equatable {
        public var path = "tacit.sqlite"
        public var maxSequenceLength = 200
        /// Most records applied in one transaction: only reached when the daemon is behind, where larger
        /// transactions spread their fixed costs (2000 → 8000: ~200k → ~290k events/s, README "Measured").
        public var batchSize = 8_000
        /// Longest wait for the first record of a batch.
        public var pollTimeoutMs = 100
        public var dedupWindow = 1_000_000
        public var idCacheCapacity = 100_000
        public var cacheMB = 64
        public var synchronous = StoreConfiguration.Synchronous.full

        public var storeConfiguration: StoreConfiguration {
            StoreConfiguration(
                path: path,
                maxSequenceLength: maxSequenceLength,
                dedupWindow: dedupWindow,
                idCacheCapacity: idCacheCapacity,
                cacheMB: cacheMB,
                synchronous: synchronous
            )
        }
    }

    /// Models the daemon serves (`trainer.model`): the baselines without training, then every learned
    /// `ModelKind`.
    public static let models = ["popularity", "trending"] + ModelKind.allCases.filter { $0 != .popularity }.map(\.rawValue)

    /// `[trainer]`: periodic fine-tuning of `model`, whose own settings are its section
    /// (`[trainer.lightgcn]`, `[trainer.hnt]`, …; `Trainer.settings(for:)`).
    public struct Trainer: Sendable, Equatable {
        public var enabled = true
        public var model = "lightgcn"
        public var intervalSeconds = 600
        public var everyEvents = 10_000
        /// A candidate is promoted when its metric ≥ the serving model's − margin.
        public var promotionMargin = 0.0
        public var epochs = 5
        /// Seed of the first fine-tune; each round adds its number.
        public var seed = 2024
        public var threads = 1
        /// Share of each user's newest positive items held out to evaluate candidates (at least one
        /// per user with two or more positive items).
        public var holdoutFraction = 0.1
        /// After a promotion, retrain the candidate the same way on every positive (the held-out
        /// ones too) and serve that; otherwise held-out items are learnt a round later.
        public var refit = true
        /// Weight of the fold-in vector (from all of a user's positive items, new ones included)
        /// against the trained user vector; users new since the snapshot get the pure fold-in.
        public var foldInWeight = 0.5
        /// Users whose serving vector is cached (bounded by this, not by history).
        public var foldInCacheSize = 100_000
        /// Serving adds the current item trend (positive events with exponential decay) to the model's
        /// scores, with a weight and half-life chosen at each fine-tune on the held-out slice (`TrendPrior`).
        public var trend = true
        /// At most this many held-out users (the most recent) are evaluated per fine-tune.
        public var evalUsers = 2_000
        /// Train only once this many users have a positive interaction.
        public var minUsers = 2
        /// bpr, lightgcn, hnt: a fine-tune's graph holds at most this many users, those with the newest
        /// positive events (0: every user). What bounds its time and memory as the store grows; the others
        /// keep their fold-in vectors (`TrainingWindow`).
        public var maxUsers = 0

        /// `[trainer.trending]` `half_life`: the decayed-popularity baseline's half-life in positive
        /// events, one of `TrendCounts.halfLives`.
        public var trendHalfLife = 3_000.0

        /// `[trainer.bpr]` … `[trainer.emorec]`: each learned model's settings for a fine-tune (the seed
        /// is `seed` plus the round). Few epochs per round want a high rate: 0.01 beat 0.001 for
        /// LightGCN and SASRec in the ML-1M backtest; BPR-MF is the exception, below popularity at
        /// 0.01 and above it at 0.001 (README, "Backtesting").
        public var bpr = EmbeddingSettings(dim: 64, learningRate: 1e-3, batchSize: 2048, l2: 1e-4, layers: 3)
        public var lightgcn = EmbeddingSettings(dim: 64, learningRate: 1e-2, batchSize: 2048, l2: 1e-4, layers: 3)
        /// HNT's hesitation module alone (`hesitation-only`): better than the full model offline on Retail
        /// Rocket and Tmall (docs/hnt.md) and in the Retail Rocket backtest, at a fraction of its time.
        public var hnt = Self.defaultHNT
        public var sasrec = SASRec.Settings(
            transformer: Self.transformer(innerSize: 4 * 64),
            loss: .crossEntropy,
            learningRate: 1e-2,
            batchSize: 64
        )
        public var sine = Self.defaultSINE
        /// Recommends what the user will like: skips and dislikes are not BPR targets here (they still
        /// shape the graph, the sequence and the polarity head).
        public var emorec = Self.defaultEmoRec

        /// The settings a fine-tune of `kind` starts from (before the round's seed).
        public func settings(for kind: ModelKind) -> ModelSettings {
            var s: ModelSettings =
                switch kind {
                case .popularity: .popularity(allBehaviors: false)
                case .bpr: .bpr(bpr)
                case .lightgcn: .lightgcn(lightgcn)
                case .hnt: .hnt(hnt)
                case .sasrec: .sasrec(sasrec)
                case .sine: .sine(sine)
                case .emorec: .emorec(emorec)
                }
            s.seed = UInt64(seed)
            return s
        }

        /// The settings of `model`; nil for the baselines the daemon serves without training.
        public var modelSettings: ModelSettings? {
            guard let kind = ModelKind(rawValue: model), kind != .popularity else { return nil }
            return settings(for: kind)
        }

        static func transformer(innerSize: Int) -> TransformerEncoder.Settings {
            TransformerEncoder.Settings(dim: 64, heads: 2, blocks: 2, innerSize: innerSize, dropout: 0.2, maxLength: 50)
        }

        static var defaultHNT: HNT.Settings {
            var h = HNT.Settings()
            h.embedding = EmbeddingSettings(dim: 64, learningRate: 1e-2, batchSize: 2048, l2: 1e-4, layers: 3)
            h.mu = 1
            h.beta = 1
            h.heads = 2
            h.hesitationEvery = 4
            h.averageLayers = true
            do { try h.apply(ablation: "hesitation-only") } catch { preconditionFailure("\(error)") }
            return h
        }

        static var defaultSINE: SINE.Settings {
            var s = SINE.Settings()
            s.transformer = transformer(innerSize: 64)
            s.prototypes = 3
            s.learningRate = 1e-2
            s.batchSize = 64
            return s
        }

        static var defaultEmoRec: EmoRec.Settings {
            var s = EmoRec.Settings()
            s.dim = 64
            s.graphLayers = 2
            s.hawkes.transformer = transformer(innerSize: 4 * 64)
            s.bprPositives = .positive
            s.loss = .crossEntropy
            s.learningRate = 1e-2
            s.windowBatch = 64
            s.pairBatch = 64 * 50
            return s
        }
    }

    /// `[publisher]`: top-K lists to the output topic.
    public struct Publisher: Sendable, Equatable {
        public var topK = 10
        public var debounceMs = 50
        public var excludeConsumed = true
        public var excludeDisliked = true
        /// Items a user took only with `taxonomy.auxiliary` behaviors (viewed, carted) stay eligible.
        public var reshowAuxiliary = true
        /// Of those, the user's newest `reshowRecent` are lifted by `reshowBoost` standard deviations of
        /// their scores (`HesitationLift`; learned models and `trending`).
        public var reshowRecent = 5
        public var reshowBoost = 3.0
        public var retryBackoffMs = 1_000
        /// Messages carry the serving model's explanation of the list (`Explanation`).
        public var explain = false
        /// Model name reported until a learned model serves (`popularity`).
        public var fallbackModel = "popularity"

        /// The lift of each user's newest hesitations under `taxonomy`: nil when nothing would be lifted
        /// (`reshow_auxiliary` off, no auxiliary behaviors, `reshow_recent` or `reshow_boost` 0).
        public func hesitationLift(_ taxonomy: EventTaxonomy) -> HesitationLift? {
            guard reshowAuxiliary, !taxonomy.auxiliary.isEmpty, reshowRecent > 0, reshowBoost > 0 else { return nil }
            return HesitationLift(auxiliary: Set(taxonomy.auxiliary), recent: reshowRecent, boost: Float(reshowBoost))
        }

        /// The list rules these settings make under `taxonomy` (`reshow_auxiliary` names its auxiliary behaviors).
        public func rules(_ taxonomy: EventTaxonomy) -> ListBuilder.Rules {
            ListBuilder.Rules(
                topK: topK,
                excludeConsumed: excludeConsumed,
                excludeDisliked: excludeDisliked,
                reshown: reshowAuxiliary ? Set(taxonomy.auxiliary) : []
            )
        }
    }

    /// `[http]`: health, metrics, ad-hoc reads.
    public struct HTTP: Sendable, Equatable {
        public var enabled = true
        public var host = "127.0.0.1"
        public var port = 8088
    }

    /// `[service]`: life cycle under systemd.
    public struct Service: Sendable, Equatable {
        /// What this instance does (README, "Scaling out").
        public enum Role: String, Sendable, CaseIterable {
            /// Everything on one machine: ingest, train, serve and publish lists (the default).
            case all
            /// Ingest this instance's share of the input partitions (the consumer group splits them) and
            /// publish those users' lists, serving the newest model from `kafka.models_topic`; no training.
            case serve
            /// Ingest every input partition (a group of its own), fine-tune and publish each promoted
            /// snapshot to `kafka.models_topic`; no lists.
            case train
        }
        public var role = Role.all
        public var shutdownTimeoutMs = 20_000
        /// Send WATCHDOG=1 when systemd asks for it (WatchdogSec=).
        public var watchdog = true
        /// Log level: trace, debug, info, notice, warning, error, critical.
        public var logLevel = "info"
    }

    // MARK: - Loading

    /// Reads and validates `path`. Errors name the file and the key.
    public static func load(path: String) throws(ConfigurationError) -> TacitConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(file: path, key: "(file)", message: "cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    /// Parses TOML text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(ConfigurationError) -> TacitConfiguration {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            throw ConfigurationError(
                file: file,
                key: "line \(e.source.begin.line), column \(e.source.begin.column)",
                message: e.description
            )
        } catch {
            throw ConfigurationError(file: file, key: "(syntax)", message: "\(error)")
        }
        var root = TOMLSection(file: file, path: "", table: table)
        var c = TacitConfiguration()
        let d = TacitConfiguration()

        var k = try root.subsection("kafka")
        c.kafka.brokers = try brokers(&k, default: d.kafka.brokers)
        c.kafka.clientID = try k.string("client_id", default: d.kafka.clientID)
        c.kafka.groupID = try k.string("group_id", default: d.kafka.groupID)
        c.kafka.inputTopics = try k.strings("input_topics", default: d.kafka.inputTopics, allowEmpty: false)
        c.kafka.outputTopic = try k.string("output_topic", default: d.kafka.outputTopic)
        c.kafka.deadLetterTopic = try k.string("deadletter_topic", default: d.kafka.deadLetterTopic)
        c.kafka.modelsTopic = try k.string("models_topic", default: d.kafka.modelsTopic)
        c.kafka.sessionTimeoutMs = try k.int("session_timeout_ms", default: d.kafka.sessionTimeoutMs, range: 1_000...3_600_000)
        c.kafka.heartbeatIntervalMs = try k.int("heartbeat_interval_ms", default: d.kafka.heartbeatIntervalMs, range: 100...3_600_000)
        c.kafka.maxPollIntervalMs = try k.int("max_poll_interval_ms", default: d.kafka.maxPollIntervalMs, range: 1_000...86_400_000)
        c.kafka.fetchWaitMaxMs = try k.int("fetch_wait_max_ms", default: d.kafka.fetchWaitMaxMs, range: 1...10_000)
        c.kafka.lingerMs = try k.int("linger_ms", default: d.kafka.lingerMs, range: 0...900_000)
        c.kafka.messageTimeoutMs = try k.int("message_timeout_ms", default: d.kafka.messageTimeoutMs, range: 1_000...86_400_000)
        c.kafka.producerStallTimeoutMs = try k.int(
            "producer_stall_timeout_ms",
            default: d.kafka.producerStallTimeoutMs,
            range: 1_000...86_400_000
        )
        var props = try k.subsection("properties")
        c.kafka.properties = try props.passThrough()
        for key in c.kafka.properties.keys.sorted() where managedProperties.contains(key) {
            throw props.error(key, "managed by Tacit (set it through the typed [kafka] keys, if at all)")
        }
        if c.kafka.heartbeatIntervalMs >= c.kafka.sessionTimeoutMs {
            throw k.error("heartbeat_interval_ms", "must be less than session_timeout_ms (\(c.kafka.sessionTimeoutMs))")
        }
        let outputs = [c.kafka.outputTopic, c.kafka.deadLetterTopic, c.kafka.modelsTopic]
        if let clash = c.kafka.inputTopics.first(where: outputs.contains) {
            throw k.error("input_topics", "\"\(clash)\" is also an output topic")
        }
        try props.finish()
        try k.finish()

        var e = try root.subsection("events")
        c.events.maxPayloadBytes = try e.int("max_payload_bytes", default: d.events.maxPayloadBytes, range: 64...16_777_216)
        c.events.maxIDLength = try e.int("max_id_length", default: d.events.maxIDLength, range: 1...65_536)
        let earliest = try e.string("earliest_timestamp", default: "2000-01-01T00:00:00Z")
        guard let ms = RFC3339.epochMilliseconds(earliest) else {
            throw e.error("earliest_timestamp", "expected an RFC 3339 date-time such as \"2000-01-01T00:00:00Z\", found \"\(earliest)\"")
        }
        c.events.earliestTimestampMs = ms
        c.events.maxFutureSkewMs = Int64(
            try e.int(
                "max_future_skew_ms",
                default: Int(d.events.maxFutureSkewMs),
                range: 0...(366 * 86_400_000)
            )
        )
        try e.finish()

        var t = try root.subsection("taxonomy")
        c.taxonomy.target = try t.strings("target", default: d.taxonomy.target, allowEmpty: false)
        c.taxonomy.auxiliary = try t.strings("auxiliary", default: d.taxonomy.auxiliary)
        c.taxonomy.explicitPositive = try t.strings("explicit_positive", default: d.taxonomy.explicitPositive)
        c.taxonomy.implicitPositive = try t.strings("implicit_positive", default: d.taxonomy.implicitPositive)
        c.taxonomy.passiveNegative = try t.strings("passive_negative", default: d.taxonomy.passiveNegative)
        c.taxonomy.explicitNegative = try t.strings("explicit_negative", default: d.taxonomy.explicitNegative)
        c.taxonomy.rating = try t.strings("rating", default: d.taxonomy.rating)
        c.taxonomy.watch = try t.strings("watch", default: d.taxonomy.watch)
        c.taxonomy.positiveRatingThreshold = try t.double("positive_rating_threshold", default: d.taxonomy.positiveRatingThreshold, range: 0...1_000)
        c.taxonomy.ratingMax = try t.double("rating_max", default: d.taxonomy.ratingMax, range: 1...1_000)
        c.taxonomy.positiveWatchFraction = try t.double("positive_watch_fraction", default: d.taxonomy.positiveWatchFraction, range: 0.01...1)
        c.taxonomy.skipBelowMs = Int64(try t.int("skip_below_ms", default: Int(d.taxonomy.skipBelowMs), range: 0...86_400_000))
        var owner: [String: String] = [:]
        for (group, types) in [
            ("target", c.taxonomy.target), ("auxiliary", c.taxonomy.auxiliary),
            ("explicit_positive", c.taxonomy.explicitPositive), ("implicit_positive", c.taxonomy.implicitPositive),
            ("passive_negative", c.taxonomy.passiveNegative), ("explicit_negative", c.taxonomy.explicitNegative),
            ("rating", c.taxonomy.rating), ("watch", c.taxonomy.watch),
        ] {
            for type in types {
                if let other = owner[type] { throw t.error(group, "\"\(type)\" is already listed in taxonomy.\(other)") }
                owner[type] = group
            }
        }
        if c.taxonomy.positiveRatingThreshold > c.taxonomy.ratingMax {
            throw t.error("positive_rating_threshold", "must not exceed rating_max (\(c.taxonomy.ratingMax))")
        }
        try t.finish()

        var s = try root.subsection("store")
        c.store.path = try s.string("path", default: d.store.path)
        c.store.maxSequenceLength = try s.int("max_sequence_length", default: d.store.maxSequenceLength, range: 1...1_000_000)
        c.store.batchSize = try s.int("batch_size", default: d.store.batchSize, range: 1...1_000_000)
        c.store.pollTimeoutMs = try s.int("poll_timeout_ms", default: d.store.pollTimeoutMs, range: 0...60_000)
        c.store.dedupWindow = try s.int("dedup_window", default: d.store.dedupWindow, range: 0...1_000_000_000)
        c.store.idCacheCapacity = try s.int("id_cache_capacity", default: d.store.idCacheCapacity, range: 1...100_000_000)
        c.store.cacheMB = try s.int("cache_mb", default: d.store.cacheMB, range: 1...1_000_000)
        c.store.synchronous = try s.choice("synchronous", default: d.store.synchronous)
        try s.finish()

        var tr = try root.subsection("trainer")
        c.trainer.enabled = try tr.bool("enabled", default: d.trainer.enabled)
        c.trainer.model = try tr.string("model", default: d.trainer.model)
        if !TacitConfiguration.models.contains(c.trainer.model) {
            throw tr.error("model", "unknown model \"\(c.trainer.model)\": choose \(TacitConfiguration.models.joined(separator: ", "))")
        }
        c.trainer.intervalSeconds = try tr.int("interval_s", default: d.trainer.intervalSeconds, range: 1...604_800)
        c.trainer.everyEvents = try tr.int("every_events", default: d.trainer.everyEvents, range: 1...1_000_000_000)
        c.trainer.promotionMargin = try tr.double("promotion_margin", default: d.trainer.promotionMargin, range: 0...1)
        c.trainer.epochs = try tr.int("epochs", default: d.trainer.epochs, range: 1...10_000)
        c.trainer.seed = try tr.int("seed", default: d.trainer.seed, range: 0...Int.max)
        c.trainer.threads = try tr.int("threads", default: d.trainer.threads, range: 1...256)
        c.trainer.holdoutFraction = try tr.double("holdout_fraction", default: d.trainer.holdoutFraction, range: 0.01...0.5)
        c.trainer.refit = try tr.bool("refit", default: d.trainer.refit)
        c.trainer.foldInWeight = try tr.double("fold_in_weight", default: d.trainer.foldInWeight, range: 0...1)
        c.trainer.trend = try tr.bool("trend", default: d.trainer.trend)
        c.trainer.foldInCacheSize = try tr.int("fold_in_cache_size", default: d.trainer.foldInCacheSize, range: 1...100_000_000)
        c.trainer.evalUsers = try tr.int("eval_users", default: d.trainer.evalUsers, range: 1...100_000_000)
        c.trainer.minUsers = try tr.int("min_users", default: d.trainer.minUsers, range: 1...100_000_000)
        c.trainer.maxUsers = try tr.int("max_users", default: d.trainer.maxUsers, range: 0...1_000_000_000)
        try ModelSections.parse(&tr, into: &c.trainer)
        try tr.finish()

        var p = try root.subsection("publisher")
        c.publisher.topK = try p.int("top_k", default: d.publisher.topK, range: 1...10_000)
        c.publisher.debounceMs = try p.int("debounce_ms", default: d.publisher.debounceMs, range: 0...3_600_000)
        c.publisher.excludeConsumed = try p.bool("exclude_consumed", default: d.publisher.excludeConsumed)
        c.publisher.excludeDisliked = try p.bool("exclude_disliked", default: d.publisher.excludeDisliked)
        c.publisher.reshowAuxiliary = try p.bool("reshow_auxiliary", default: d.publisher.reshowAuxiliary)
        c.publisher.reshowRecent = try p.int("reshow_recent", default: d.publisher.reshowRecent, range: 0...1_000)
        c.publisher.reshowBoost = try p.double("reshow_boost", default: d.publisher.reshowBoost, range: 0...100)
        c.publisher.retryBackoffMs = try p.int("retry_backoff_ms", default: d.publisher.retryBackoffMs, range: 1...3_600_000)
        c.publisher.explain = try p.bool("explain", default: d.publisher.explain)
        try p.finish()

        var h = try root.subsection("http")
        c.http.enabled = try h.bool("enabled", default: d.http.enabled)
        c.http.host = try h.string("host", default: d.http.host)
        c.http.port = try h.int("port", default: d.http.port, range: 0...65_535)
        try h.finish()

        var sv = try root.subsection("service")
        c.service.shutdownTimeoutMs = try sv.int("shutdown_timeout_ms", default: d.service.shutdownTimeoutMs, range: 100...3_600_000)
        c.service.watchdog = try sv.bool("watchdog", default: d.service.watchdog)
        c.service.role = try sv.choice("role", default: d.service.role)
        if c.service.role == .train, !c.trainer.enabled || c.trainer.modelSettings == nil {
            throw sv.error("role", "\"train\" needs trainer.enabled and a learned trainer.model (found \"\(c.trainer.model)\")")
        }
        c.service.logLevel = try sv.string("log_level", default: d.service.logLevel)
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        guard levels.contains(c.service.logLevel) else {
            throw sv.error("log_level", "expected one of \(levels.joined(separator: ", ")), found \"\(c.service.logLevel)\"")
        }
        try sv.finish()

        try root.finish()
        return c
    }

    /// `brokers` as a string (`"h1:9092,h2:9092"`) or an array of strings.
    private static func brokers(_ k: inout TOMLSection, default d: [String]) throws(ConfigurationError) -> [String] {
        if let v = k.table?["brokers"], v.array != nil {
            return try k.strings("brokers", default: d, allowEmpty: false)
        }
        let s = try k.string("brokers", default: d.joined(separator: ","))
        let list = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !list.isEmpty, list.allSatisfy({ !$0.isEmpty }) else {
            throw k.error("brokers", "expected a non-empty string")
        }
        for b in list where !b.contains(":") {
            throw k.error("brokers", "\"\(b)\" is not host:port")
        }
        return list
    }
}
