import Logging
import ServiceLifecycle
import Synchronization
import TacitKafka
import TacitStore

/// Publishes top-K lists to the output topic for users touched by new events (debounced per
/// user) and for all recently active users after the serving model changes. Failed deliveries
/// are retried with backoff; the newest list per user is never dropped. On graceful shutdown it
/// publishes everything pending at once and waits for the acknowledgements.
///
/// **At least once per state.** The pending lists live in memory, but the debt does not: every
/// applied batch records its users in `owed_lists` in the same transaction, an acknowledged (or
/// pointless) list clears the row up to the events it reflects, and on start every owed user is
/// scheduled at once. So a `kill -9`, a shutdown that timed out or a delivery that never
/// succeeded costs a late list, never a missing one.
public final class PublisherService: Service, Sendable {
    public struct Settings: Sendable {
        public var topic: String
        public var debounceMs: Int
        public var retryBackoffMs: Int
        /// Top K and exclusions, as `[publisher]` sets them (`TacitConfiguration.Publisher.rules`).
        public var rules: ListBuilder.Rules
        /// Lists recomputed when the serving model changes (most recently active users).
        public var republishOnPromotion: Int
        /// Each message carries the serving model's `"explanation"` (`publisher.explain`).
        public var explain: Bool

        public init(
            topic: String,
            debounceMs: Int,
            retryBackoffMs: Int,
            rules: ListBuilder.Rules,
            republishOnPromotion: Int = 10_000,
            explain: Bool = false
        ) {
            self.explain = explain
            self.topic = topic
            self.debounceMs = debounceMs
            self.retryBackoffMs = retryBackoffMs
            self.rules = rules
            self.republishOnPromotion = republishOnPromotion
        }
    }

    let settings: Settings
    let store: EventStore
    let recommender: any RecommendationSource
    let producer: KafkaProducer
    let metrics: DaemonMetrics
    let health: HealthState
    let logger: Logger
    /// Scores each delivered list against its user's next events (nil: not measured).
    let online: OnlineQuality?
    /// Which users are served here (nil: all). A user of a partition still restoring is held until it is
    /// caught up; one of a partition another instance owns is left to it.
    let ownership: PartitionOwnership?
    private let machine: Mutex<PublisherStateMachine>
    /// Next offset per input partition the store has applied (for `events_through`): seeded from
    /// the store on start, then advanced by each applied batch.
    private let offsets = Mutex<[StreamPartition: Int64]>([:])

    public init(
        settings: Settings,
        store: EventStore,
        recommender: any RecommendationSource,
        producer: KafkaProducer,
        metrics: DaemonMetrics,
        health: HealthState,
        logger: Logger,
        online: OnlineQuality? = nil,
        ownership: PartitionOwnership? = nil
    ) {
        self.ownership = ownership
        self.settings = settings
        self.store = store
        self.recommender = recommender
        self.producer = producer
        self.metrics = metrics
        self.health = health
        self.logger = logger
        self.online = online
        machine = Mutex(PublisherStateMachine(debounceMs: Int64(settings.debounceMs), backoffMs: Int64(settings.retryBackoffMs)))
    }

    /// Called by ingest after each applied batch.
    public func batchApplied(_ outcome: ApplyOutcome) {
        offsets.withLock { o in
            for (p, n) in outcome.nextOffsets { o[p] = max(o[p] ?? 0, n) }
        }
        guard !outcome.touchedUsers.isEmpty else { return }
        let now = monotonicMs()
        machine.withLock { m in
            for u in outcome.touchedUsers {
                m.touched(user: u.id, external: u.external, lastEventMs: u.lastTimestampMs, now: now, partition: u.partition)
            }
        }
    }

    public func run() async throws {
        resumeFromStore()
        var model = recommender.currentModel
        metrics.servingModelVersion.set(Double(model.version))
        var owned = ownership?.generation
        let tick = Duration.milliseconds(max(5, min(100, settings.debounceMs / 4)))
        while true {
            let stopping = Task.isShuttingDownGracefully || Task.isCancelled
            let current = recommender.currentModel
            if current != model {
                logger.info(
                    "serving model changed; republishing active users",
                    metadata: ["model": "\(current.name)", "version": "\(current.version)"]
                )
                model = current
                metrics.servingModelVersion.set(Double(model.version))
                scheduleAll()
            }
            if let ownership, ownership.generation != owned {
                owned = ownership.generation
                let now = monotonicMs()
                machine.withLock { $0.releaseHeld(now: now) }
            }
            let now = monotonicMs()
            let (due, retries) = machine.withLock { m in
                (m.takeDue(now: now, all: stopping), m.takeRetries(now: now, all: stopping))
            }
            if !due.isEmpty || !retries.isEmpty {
                await publish(due: due, retries: retries)
            }
            if stopping {
                // One final round: anything that failed during shutdown is retried once more.
                let leftovers = machine.withLock { m in m.takeRetries(now: .max, all: true) }
                if !leftovers.isEmpty && !Task.isCancelled { await publish(due: [], retries: leftovers) }
                let left = machine.withLock { ($0.pendingCount, $0.retryCount) }
                if left != (0, 0) {
                    logger.warning("publisher stopped with lists not delivered", metadata: ["pending": "\(left.0)", "retries": "\(left.1)"])
                }
                return
            }
            if due.isEmpty && retries.isEmpty {
                try? await Task.sleep(for: tick)
            }
        }
    }

    /// Seeds `events_through` with every partition the store has offsets for, and schedules at
    /// once the lists owed since before this start.
    func resumeFromStore() {
        do {
            let stored = try store.allOffsets()
            offsets.withLock { o in
                for (p, n) in stored { o[p] = max(o[p] ?? 0, n) }
            }
        } catch {
            logger.error(
                "cannot read stored offsets; events_through lists only partitions applied from now on",
                metadata: ["error": "\(error)"]
            )
        }
        do {
            let owed = try store.owedLists()
            guard !owed.isEmpty else { return }
            logger.info("publishing lists owed since before this start", metadata: ["users": "\(owed.count)"])
            let now = monotonicMs()
            machine.withLock { m in
                for o in owed {
                    m.touched(user: o.user, external: o.external, lastEventMs: o.lastTimestampMs, now: now, immediately: true, partition: o.partition)
                }
            }
        } catch {
            logger.error(
                "cannot read owed lists; they are published when their users next have events",
                metadata: ["error": "\(error)"]
            )
        }
    }

    /// Schedules lists for the most recently active users (after a promotion).
    public func scheduleAll() {
        do {
            let users = try store.recentUsers(limit: settings.republishOnPromotion)
            let now = monotonicMs()
            machine.withLock { m in
                for u in users {
                    m.touched(
                        user: u.id,
                        external: u.external,
                        lastEventMs: u.lastTimestampMs,
                        now: now,
                        immediately: true,
                        republish: true,
                        partition: u.partition
                    )
                }
            }
        } catch {
            logger.error("cannot list active users", metadata: ["error": "\(error)"])
        }
    }

    private func publish(due all: [PublisherStateMachine.Due], retries: [PublisherStateMachine.Outgoing]) async {
        let due = servedHere(all)
        var lists: [PublisherStateMachine.Outgoing] = []
        let through = offsets.withLock { $0 }
        // Read before computing, so each list reflects at least the events it is owed for.
        var owed: [Int32: Int64] = [:]
        do { owed = try store.owedThroughSeq(users: due.map(\.user)) } catch {
            logger.error("cannot read owed lists; these stay owed until the next start", metadata: ["error": "\(error)"])
        }
        var paid: [Int32: Int64] = [:]
        defer { clearOwed(paid) }
        for d in due {
            do {
                if var list = try compute(d, through: through) {
                    list.owedThroughSeq = owed[d.user]
                    lists.append(list)
                } else {
                    machine.withLock { $0.skipped(d) }
                    // Nothing to send: keeping the row would only reschedule the same nothing.
                    paid[d.user] = owed[d.user]
                }
            } catch {
                // Left owed: the next start (or the user's next event) tries again.
                logger.error("cannot compute list", metadata: ["user": "\(d.external)", "error": "\(error)"])
                machine.withLock { $0.skipped(d) }
            }
        }
        if !retries.isEmpty { metrics.publishRetries.increment(by: Int64(retries.count)) }
        lists += retries
        guard !lists.isEmpty else { return }
        let records = lists.map { ProducerRecord(topic: settings.topic, key: $0.key, value: $0.value) }
        let results = await producer.sendAll(records)
        let nowWall = epochMilliseconds()
        let now = monotonicMs()
        var delivered = 0, republished = 0
        var served: [ServedList] = []
        defer { online?.delivered(served) }
        machine.withLock { m in
            for (list, result) in zip(lists, results) {
                switch result {
                case .success:
                    m.delivered(list)
                    delivered += 1
                    if let seq = list.owedThroughSeq { paid[list.due.user] = max(paid[list.due.user] ?? seq, seq) }
                    if var s = list.served {
                        s.publishedMs = nowWall
                        served.append(s)
                    }
                    if list.due.fromEvents {
                        metrics.recordFreshness(ms: max(0, nowWall - list.due.lastEventMs))
                    } else {
                        metrics.listsRepublished.increment()
                        republished += 1
                    }
                case .failure(let e):
                    metrics.publishFailures.increment()
                    let retried = m.failed(list, now: now)
                    logger.debug("list delivery failed", metadata: ["user": "\(list.due.external)", "error": "\(e)", "retry": "\(retried)"])
                }
            }
        }
        metrics.listsPublished.increment(by: Int64(delivered))
        health.update {
            $0.listsPublished += Int64(delivered)
            $0.listsRepublished += Int64(republished)
        }
    }

    /// The due users this instance serves now. The others are held until their partition is caught up, or
    /// dropped when another instance owns it (their owed rows stay: this store's copy of them is stale).
    private func servedHere(_ due: [PublisherStateMachine.Due]) -> [PublisherStateMachine.Due] {
        guard let ownership else { return due }
        var out: [PublisherStateMachine.Due] = []
        out.reserveCapacity(due.count)
        machine.withLock { m in
            for d in due {
                switch ownership.verdict(partition: d.partition) {
                case .serve: out.append(d)
                case .wait: m.hold(d)
                case .elsewhere: m.skipped(d)
                }
            }
        }
        return out
    }

    /// Clears the owed rows of delivered lists, one transaction per delivery batch. A failure
    /// only means those users get their list again on the next start.
    private func clearOwed(_ paid: [Int32: Int64]) {
        do { try store.clearOwedLists(paid) } catch {
            logger.error("cannot clear owed lists", metadata: ["users": "\(paid.count)", "error": "\(error)"])
        }
    }

    /// The JSON message for one user, or nil when no model can serve.
    func compute(_ d: PublisherStateMachine.Due, through: [StreamPartition: Int64]) throws -> PublisherStateMachine.Outgoing? {
        // Read before the list: it reflects at least the user's events through here (online quality).
        let throughSeq = online == nil ? 0 : try store.lastSeq(user: d.user)
        let builder = ListBuilder(store: store, source: recommender, rules: settings.rules)
        let excluded = try builder.excluded(user: d.user)
        guard let recs = try builder.list(user: d.user, excluding: excluded, explain: settings.explain) else { return nil }
        // Online quality's control: what popularity would have shown this user now, under the same rules.
        let control =
            online == nil || recs.model.name == PopularityRecommender.name
            ? nil
            : try ListBuilder(store: store, source: PopularityRecommender(store: store), rules: settings.rules)
                .list(user: d.user, excluding: excluded)?.items.map(\.item)
        let value = try Self.message(user: d.external, recs, store: store, generatedAtMs: epochMilliseconds(), through: through)
        let served =
            online == nil
            ? nil
            : ServedList(
                user: d.user,
                model: recs.model.name,
                version: recs.model.version,
                items: recs.items.map(\.item),
                throughSeq: throughSeq,
                publishedMs: 0,
                control: control
            )
        return PublisherStateMachine.Outgoing(due: d, key: Array(d.external.utf8), value: Array(value.utf8), served: served)
    }

    /// `list` as its message, items named by their external ids from `store`.
    static func message(
        user: String,
        _ list: Recommendations,
        store: EventStore,
        generatedAtMs: Int64,
        through: [StreamPartition: Int64]
    ) throws -> String {
        let listed = list.items.map(\.item)
        let explained = list.explanation?.items ?? []
        let names = try store.itemExternalIDs(for: listed + explained)
        var name: [Int32: String] = [:]
        for (item, n) in zip(listed + explained, names) { name[item] = n }
        return message(
            user: user,
            items: zip(names, list.items.map(\.score)).map { ($0, $1) },
            model: list.model,
            generatedAtMs: generatedAtMs,
            through: through,
            explanation: list.explanation?.json { name[$0] ?? String($0) }
        )
    }

    /// `{"user","items":[{"item","score"}],"model","model_version","generated_at","events_through":{"topic/partition":offset}}`,
    /// plus `"explanation":{...}` when asked for (`Explanation.json`); `events_through` holds, for every
    /// input partition the store has offsets for, the offset of the last record applied before the list
    /// was computed.
    static func message(
        user: String,
        items: [(String, Float)],
        model: ModelIdentity,
        generatedAtMs: Int64,
        through: [StreamPartition: Int64],
        explanation: String? = nil
    ) -> String {
        var s = "{\"user\":" + JSON.quoted(user) + ",\"items\":["
        s += items.map { "{\"item\":" + JSON.quoted($0.0) + ",\"score\":" + JSON.number($0.1) + "}" }.joined(separator: ",")
        s += "],\"model\":" + JSON.quoted(model.name) + ",\"model_version\":\(model.version)"
        s += ",\"generated_at\":" + JSON.quoted(JSON.rfc3339(ms: generatedAtMs)) + ",\"events_through\":{"
        s += through.sorted { $0.key < $1.key }.map { JSON.quoted($0.key.description) + ":\($0.value - 1)" }.joined(separator: ",")
        s += "}"
        if let explanation { s += ",\"explanation\":" + explanation }
        return s + "}"
    }
}

/// Monotonic milliseconds (debounce and backoff must not jump with the wall clock).
func monotonicMs() -> Int64 {
    let d = ContinuousClock.now - ContinuousClock.zeroReference
    return d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
}

extension ContinuousClock {
    static let zeroReference = ContinuousClock.now
}
