import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TacitStore
import TacitTensor

/// What one fine-tune did.
public struct FineTuneReport: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// Promoted and serving, as this snapshot version.
        case promoted(version: Int64)
        /// Trained and evaluated, kept the serving model; the reason is logged too.
        case rejected(reason: String)
        /// Not trained (no new events, too few users).
        case skipped(reason: String)
    }
    public var outcome: Outcome
    /// Held-out metrics of the candidate and of the serving model (empty when skipped).
    public var candidate: [String: Double] = [:]
    public var current: [String: Double] = [:]
    public var seconds: Double = 0
}

/// Periodic fine-tuning off the ingest path (`[trainer]`): every `interval_s` seconds, or as soon
/// as `every_events` new events were applied, reads the store, trains a candidate warm-started
/// from the serving model, evaluates candidate and serving model on the held-out recent slice
/// (NDCG@10, full ranking; see `TrainingData` and `FineTuner.evaluate`), and promotes the candidate
/// only if its NDCG@10 ≥ the serving model's − `promotion_margin`: it is saved as a snapshot,
/// marked promoted and swapped into the `EmbeddingRecommender` (the publisher then republishes
/// active users' lists, seeing `currentModel` change).
///
/// The held-out slice is made of items the serving model never saw (each user's newest, first
/// positive after the serving model's `eventsThroughSeq`), and the candidate is trained without
/// them, so the comparison is fair: neither model trained on what it is judged on. Once promoted,
/// the candidate is retrained the same way (same warm start, seed and epochs) on everything, held-out
/// items included (`refit`, on by default), and that model is served, so a user's newest positives
/// shape the embeddings at once rather than a round later.
///
/// The training itself runs on a dedicated thread (not the cooperative pool), one at a time, so
/// ingest and HTTP stay responsive.
public final class TrainerService: Service, IngestObserver {
    let settings: FineTuneSettings
    let trainer: TacitConfiguration.Trainer
    let store: EventStore
    let recommender: EmbeddingRecommender
    let metrics: DaemonMetrics?
    let logger: Logger
    /// Test hook: alters a trained candidate before evaluation (e.g. to sabotage it).
    let candidateHook: (@Sendable (ServingEmbeddings) -> ServingEmbeddings)?

    private let newEvents = Atomic<Int>(0)
    private let wake: AsyncStream<Void>.Continuation
    private let wakeups: AsyncStream<Void>
    /// Serializes fine-tunes (held on the training thread, never on the cooperative pool).
    private let running = Mutex<Int64>(0)
    /// Set on graceful shutdown: a running fine-tune stops at the next epoch.
    private let stopping = Atomic<Bool>(false)

    /// `auxiliaryBehaviors`: the event types HNT learns from besides the target (`taxonomy.auxiliary`).
    init(
        configuration: TacitConfiguration.Trainer,
        auxiliaryBehaviors: [String] = EventTaxonomy().auxiliary,
        store: EventStore,
        recommender: EmbeddingRecommender,
        metrics: DaemonMetrics?,
        logger: Logger,
        candidateHook: (@Sendable (ServingEmbeddings) -> ServingEmbeddings)? = nil
    ) {
        trainer = configuration
        settings = FineTuneSettings(configuration, auxiliary: auxiliaryBehaviors)
        self.store = store
        self.recommender = recommender
        self.metrics = metrics
        self.logger = logger
        self.candidateHook = candidateHook
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public convenience init(
        configuration: TacitConfiguration.Trainer,
        auxiliaryBehaviors: [String] = EventTaxonomy().auxiliary,
        store: EventStore,
        recommender: EmbeddingRecommender,
        metrics: DaemonMetrics?,
        logger: Logger
    ) {
        self.init(
            configuration: configuration,
            auxiliaryBehaviors: auxiliaryBehaviors,
            store: store,
            recommender: recommender,
            metrics: metrics,
            logger: logger,
            candidateHook: nil
        )
    }

    // MARK: - Triggers

    public func didApply(_ outcome: ApplyOutcome) {
        guard outcome.applied > 0 else { return }
        let total = newEvents.add(outcome.applied, ordering: .relaxed).newValue
        if total >= trainer.everyEvents { wake.yield() }
    }

    public func run() async throws {
        Compute.configure(threads: trainer.threads)
        let interval = Duration.seconds(trainer.intervalSeconds)
        let wake = self.wake
        // A cancelled group (a service failed, or graceful shutdown ran out of time) must not wait for
        // a whole fine-tune: the training thread cannot be cancelled, but it checks `stopping` between
        // epochs, and ServiceLifecycle aborts the process when cancellation takes over 2 s.
        await withTaskCancellationHandler {
            await runLoop(interval: interval, wake: wake)
        } onCancel: {
            self.stopping.store(true, ordering: .relaxed)
            self.wake.finish()
        }
    }

    private func runLoop(interval: Duration, wake: AsyncStream<Void>.Continuation) async {
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: interval) } catch { return }
                    wake.yield()
                }
            }
            await withGracefulShutdownHandler {
                for await _ in wakeups.cancelOnGracefulShutdown() {
                    newEvents.store(0, ordering: .relaxed)
                    do {
                        _ = try await fineTune()
                    } catch {
                        logger.error("fine-tune failed", metadata: ["error": "\(error)"])
                    }
                }
            } onGracefulShutdown: {
                self.stopping.store(true, ordering: .relaxed)
                self.wake.finish()
            }
            group.cancelAll()
        }
    }

    // MARK: - One fine-tune

    /// Runs one fine-tune now (on a dedicated thread) and reports what happened.
    public func fineTune() async throws -> FineTuneReport {
        try await Self.offPool { [self] in try fineTuneBlocking() }
    }

    /// Runs `body` on a new thread and awaits its result without occupying a cooperative thread.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            let thread = Thread { c.resume(with: Result { try body() }) }
            thread.name = "tacit-trainer"
            thread.stackSize = 16 << 20
            thread.start()
        }
    }

    private func fineTuneBlocking() throws -> FineTuneReport {
        try running.withLock { lastTrainedSeq in
            let clock = ContinuousClock(), start = clock.now
            let current = recommender.model
            let data = try TrainingData.load(
                store: store,
                holdoutFraction: trainer.holdoutFraction,
                unseenAfter: current?.eventsThroughSeq
            )
            let seen = max(lastTrainedSeq, current?.eventsThroughSeq ?? 0)
            guard data.throughSeq > seen else { return FineTuneReport(outcome: .skipped(reason: "no new events")) }
            guard data.activeUsers >= trainer.minUsers, data.itemCount >= 2 else {
                return FineTuneReport(outcome: .skipped(reason: "\(data.activeUsers) users with positives, \(data.itemCount) items"))
            }
            lastTrainedSeq = data.throughSeq
            let round = UInt64(bitPattern: current?.version ?? 0)
            /// The round's training (warm start, seed, epochs) on `data`; nil when shutdown stopped it.
            func train(_ data: TrainingData) -> ServingEmbeddings? {
                FineTuner.train(
                    data,
                    previous: current,
                    settings: settings,
                    round: round,
                    createdMs: epochMilliseconds(),
                    shouldStop: { stopping.load(ordering: .relaxed) }
                )
            }
            let shuttingDown = FineTuneReport(outcome: .skipped(reason: "shutting down"))
            guard var candidate = train(data) else {
                lastTrainedSeq = seen
                return shuttingDown
            }
            if let candidateHook { candidate = candidateHook(candidate) }
            let users = data.evaluationUsers(limit: settings.evalUsers)
            // With the trend on, the candidate's prior (weight and half-life) is chosen here, on the held-out
            // slice, against a trend that leaves the held-out events out; the serving model keeps its own.
            let trend = try recommender.trend.map { _ in
                try TrendCounts.excludingHeldOut(store: store, heldOut: data.heldOut.map { $0.map(\.item) }, itemCount: data.itemCount)
            }
            let priors: [TrendPrior?] = trend == nil ? [nil] : TrendPrior.candidates
            let tried = FineTuner.evaluate(candidate, on: data, users: users, foldInWeight: settings.foldInWeight, trend: trend, priors: priors)
            let best = tried.indices.max { (tried[$0]["ndcg@10"] ?? 0, -$0) < (tried[$1]["ndcg@10"] ?? 0, -$1) } ?? 0
            var cm = tried[best]
            if let prior = priors[best] { cm.merge(prior.metrics) { $1 } }
            // What serves now, on the same slice: the current model, or popularity before any model (the
            // first candidate must beat the lists it would replace, as every later one must).
            let sm =
                current.map {
                    FineTuner.evaluate($0, on: data, users: users, foldInWeight: settings.foldInWeight, trend: trend, priors: [$0.trendPrior])[0]
                } ?? FineTuner.evaluatePopularity(on: data, users: users)
            let servingName = current.map { "\($0.model)@\($0.version)" } ?? PopularityRecommender.name
            metrics?.fineTuneMetric.set(cm["ndcg@10"] ?? 0)
            /// Records the whole run's duration (training, evaluation and any refit) and returns it.
            func finished() -> Double {
                let elapsed = clock.now - start
                metrics?.fineTuneDuration.record(elapsed)
                return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            }
            var meta: Logger.Metadata = [
                "model": "\(settings.model.name)", "users": "\(data.userCount)", "items": "\(data.itemCount)",
                "through_seq": "\(data.throughSeq)", "eval_users": "\(users.count)",
                "held_out_items": "\(data.heldOut.reduce(0) { $0 + $1.count })",
                "candidate_ndcg@10": "\(cm["ndcg@10"] ?? 0)", "serving_ndcg@10": "\(sm["ndcg@10"].map { "\($0)" } ?? "none")",
                "candidate_trend": "\(priors[best].map { "\($0)" } ?? "off")",
            ]
            var onlineNow: ListQuality?
            if let current {
                do { onlineNow = try store.listQuality().first { $0.model == current.model && $0.version == current.version } } catch {
                    logger.warning("online quality not read for the promotion log", metadata: ["error": "\(error)"])
                }
            }
            if let online = onlineNow {
                // How the serving version's published lists fared with their users (OnlineQuality).
                meta["serving_online_lists"] = "\(online.lists)"
                meta["serving_online_hr@10"] = "\(online.hr10)"
                meta["serving_online_ndcg@10"] = "\(online.ndcg10)"
                meta["serving_online_negshare@10"] = "\(online.negShare10)"
                if online.control.lists > 0 {
                    // Popularity on the same users and moments: whether the serving version beat the floor.
                    meta["serving_online_control_hr@10"] = "\(online.control.hr10)"
                    meta["serving_online_control_ndcg@10"] = "\(online.control.ndcg10)"
                    meta["serving_online_control_negshare@10"] = "\(online.control.negShare10)"
                }
            }
            /// The durable log of fine-tunes (`GET /api/models`, the operator page); a failure to write it is only logged.
            func appendToLog(_ decision: FineTuneLogEntry.Decision, version: Int64? = nil, reason: String? = nil, seconds: Double) {
                var online: [String: Double] = [:]
                if let q = onlineNow {
                    online = ["lists": Double(q.lists), "hr@10": q.hr10, "ndcg@10": q.ndcg10, "negshare@10": q.negShare10]
                    if q.control.lists > 0 {
                        online["control_hr@10"] = q.control.hr10
                        online["control_ndcg@10"] = q.control.ndcg10
                        online["control_negshare@10"] = q.control.negShare10
                    }
                }
                let entry = FineTuneLogEntry(
                    atMs: epochMilliseconds(),
                    model: settings.model.name,
                    decision: decision,
                    version: version,
                    servingVersion: current?.version,
                    reason: reason,
                    seconds: seconds,
                    candidate: cm,
                    serving: sm,
                    servingOnline: online
                )
                do { try store.recordFineTune(entry) } catch {
                    logger.warning("fine-tune not recorded in the log", metadata: ["error": "\(error)"])
                }
            }
            let c = cm["ndcg@10"] ?? 0
            if let s = sm["ndcg@10"], !users.isEmpty, c < s - trainer.promotionMargin {
                let reason = "candidate NDCG@10 \(c) < serving \(servingName) \(s) - margin \(trainer.promotionMargin)"
                let seconds = finished()
                meta["seconds"] = "\(seconds)"
                logger.warning("fine-tune not promoted: \(reason)", metadata: meta)
                appendToLog(.rejected, reason: reason, seconds: seconds)
                return FineTuneReport(outcome: .rejected(reason: reason), candidate: cm, current: sm, seconds: seconds)
            }
            var served = candidate
            if trainer.refit {
                // The same training on everything; the held-out metrics stay those of the gated candidate.
                guard let refit = train(data.withHeldOutInTraining()) else {
                    lastTrainedSeq = seen
                    return shuttingDown
                }
                served = refit
            }
            let eval =
                "full ranking on each user's newest positives unseen by the serving model, held out of the candidate"
                + (trainer.refit ? "; served model retrained with them" : "")
            // The model's settings (seed included) are recorded by the snapshot itself (`SnapshotFormat`).
            let metadata = ["epochs": "\(settings.epochs)", "warm_start_version": "\(current?.version ?? 0)", "eval": eval]
            let withMetrics = served.with(version: 0, metrics: cm)
            let saved = try store.saveSnapshot(withMetrics.snapshot(metadata: metadata, promoted: false))
            try store.setPromoted(version: saved.version, true)
            recommender.install(withMetrics.with(version: saved.version))
            let seconds = finished()
            meta["seconds"] = "\(seconds)"
            meta["refit"] = "\(trainer.refit)"
            appendToLog(.promoted, version: saved.version, seconds: seconds)
            logger.info(
                "fine-tune promoted version \(saved.version)\(current != nil && users.isEmpty ? " (no held-out items to compare on)" : "")",
                metadata: meta
            )
            return FineTuneReport(outcome: .promoted(version: saved.version), candidate: cm, current: sm, seconds: seconds)
        }
    }
}
