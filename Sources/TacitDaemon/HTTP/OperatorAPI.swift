import Foundation
import Hummingbird
import TacitData
import TacitStore

/// The read-only JSON the operator page (`GET /`) is drawn from, documented for other tools:
/// - `GET /api/now`: status, throughput over the last seconds, lag, freshness of the newest lists;
/// - `GET /api/models`: every model version known here (snapshots, the one serving, versions with
///   published lists) with held-out and online metrics, and the trainer's log of fine-tunes;
/// - `GET /api/users/{user}`: a user's newest events and where they are served (the list itself is
///   `GET /recommendations/{user}?explain=1`);
/// - `GET /api/dead-letters`: counts by reason and the newest dead letters with their detail.
/// Nothing here changes state.
struct OperatorAPI: Sendable {
    let role: String
    let deadLetterTopic: String
    let store: EventStore
    let recommender: any RecommendationSource
    let ownership: PartitionOwnership?
    let health: HealthState
    let live: LiveActivity

    // MARK: - /api/now

    struct Now: Codable, Equatable {
        struct Totals: Codable, Equatable {
            var consumed: Int64
            var applied: Int64
            var deadLettered: Int64
            var listsPublished: Int64
            var listsRepublished: Int64
        }
        struct PerSecond: Codable, Equatable {
            var consumed: Double
            var applied: Double
            var deadLettered: Double
            var listsPublished: Double
            var windowSeconds: Double
        }
        struct Freshness: Codable, Equatable {
            var p50Ms: Int64
            var p99Ms: Int64
            /// The newest lists the quantiles are over.
            var lists: Int
        }
        var atMs: Int64
        var role: String
        var status: String
        var live: Bool
        var ready: Bool
        var brokers: String
        var assignedPartitions: Int
        var restoringPartitions: Int
        var lag: Int64?
        var serving: ModelRef
        var totals: Totals
        var perSecond: PerSecond
        var freshness: Freshness?
    }

    struct ModelRef: Codable, Equatable {
        var model: String
        var version: Int64
    }

    func now(nowMs: Int64 = epochMilliseconds()) -> Now {
        let h = health.snapshot
        let r = live.rates(nowMs: nowMs)
        let f = live.freshnessQuantiles()
        let model = recommender.currentModel
        return Now(
            atMs: nowMs,
            role: role,
            status: health.statusLine(),
            live: health.isLive(nowMs: nowMs),
            ready: h.ready && !h.stopping,
            brokers: !h.ready ? "connecting" : h.brokersDown ? "down" : "up",
            assignedPartitions: h.assignedPartitions,
            restoringPartitions: h.partitionsRestoring,
            lag: h.lag,
            serving: ModelRef(model: model.name, version: model.version),
            totals: .init(
                consumed: h.eventsConsumed,
                applied: h.eventsApplied,
                deadLettered: h.deadLettered,
                listsPublished: h.listsPublished,
                listsRepublished: h.listsRepublished
            ),
            perSecond: .init(
                consumed: r.consumed,
                applied: r.applied,
                deadLettered: r.deadLettered,
                listsPublished: r.listsPublished,
                windowSeconds: r.windowSeconds
            ),
            freshness: f.map { .init(p50Ms: $0.p50Ms, p99Ms: $0.p99Ms, lists: $0.lists) }
        )
    }

    // MARK: - /api/models

    struct Models: Codable, Equatable {
        struct Online: Codable, Equatable {
            var lists: Int64
            var hitLists: Int64
            var hr10: Double
            var ndcg10: Double
            var negshare10: Double
            /// Popularity's lists for the same users at the same moments, on the same events (nil before any).
            var control: Control?
        }
        struct Control: Codable, Equatable {
            var lists: Int64
            var hr10: Double
            var ndcg10: Double
            var negshare10: Double
        }
        struct Version: Codable, Equatable {
            var model: String
            var version: Int64
            var createdAtMs: Int64?
            var serving: Bool
            /// Held-out metrics recorded with the snapshot (the gate's numbers).
            var heldOut: [String: Double]
            var fineTuneSeconds: Double?
            var online: Online?
        }
        struct FineTune: Codable, Equatable {
            var atMs: Int64
            var model: String
            var decision: String
            var version: Int64?
            var servingVersion: Int64?
            var reason: String?
            var seconds: Double
            var candidate: [String: Double]
            var serving: [String: Double]
            var servingOnline: [String: Double]
        }
        var serving: ModelRef
        /// Oldest first; popularity (version 0, before any model) first when it published lists.
        var versions: [Version]
        /// Newest first.
        var fineTunes: [FineTune]
    }

    static let versionsShown = 200
    static let fineTunesShown = 200

    func models() throws -> Models {
        let current = recommender.currentModel
        let log = try store.fineTunes(limit: Self.fineTunesShown)
        let seconds = Dictionary(log.compactMap { e in e.version.map { ($0, e.seconds) } }, uniquingKeysWith: { a, _ in a })
        var versions: [ModelIdentity: Models.Version] = [:]
        func entry(_ id: ModelIdentity) -> Models.Version {
            versions[id]
                ?? Models.Version(
                    model: id.name,
                    version: id.version,
                    serving: id == current,
                    heldOut: [:],
                    fineTuneSeconds: id.version > 0 ? seconds[id.version] : nil
                )
        }
        for s in try store.snapshotSummaries(limit: Self.versionsShown) {
            let id = ModelIdentity(name: s.model, version: s.version)
            var v = entry(id)
            v.createdAtMs = s.createdMs
            v.heldOut = s.metrics.filter { $0.value.isFinite }
            versions[id] = v
        }
        // A serving instance reads its model from the models topic and keeps no snapshot rows.
        if let m = (recommender as? EmbeddingRecommender)?.model, versions[m.identity] == nil || versions[m.identity]?.createdAtMs == nil {
            var v = entry(m.identity)
            v.createdAtMs = m.createdMs
            v.heldOut = m.metrics.filter { $0.value.isFinite }
            versions[m.identity] = v
        }
        if versions[current] == nil { versions[current] = entry(current) }
        for q in try store.listQuality() {
            let id = ModelIdentity(name: q.model, version: q.version)
            var v = entry(id)
            v.online = .init(
                lists: q.lists,
                hitLists: q.hitLists,
                hr10: q.hr10,
                ndcg10: q.ndcg10,
                negshare10: q.negShare10,
                control: q.control.lists > 0
                    ? .init(lists: q.control.lists, hr10: q.control.hr10, ndcg10: q.control.ndcg10, negshare10: q.control.negShare10) : nil
            )
            versions[id] = v
        }
        return Models(
            serving: ModelRef(model: current.name, version: current.version),
            versions: versions.values.sorted { ($0.version, $0.model) < ($1.version, $1.model) },
            fineTunes: log.map {
                Models.FineTune(
                    atMs: $0.atMs,
                    model: $0.model,
                    decision: $0.decision.rawValue,
                    version: $0.version,
                    servingVersion: $0.servingVersion,
                    reason: $0.reason,
                    seconds: $0.seconds,
                    candidate: $0.candidate,
                    serving: $0.serving,
                    servingOnline: $0.servingOnline
                )
            }
        )
    }

    // MARK: - /api/users/{user}

    struct User: Codable, Equatable {
        struct Event: Codable, Equatable {
            var seq: Int64
            var atMs: Int64
            var item: String
            var behavior: String
            /// As explanations name it (`FeedbackKind.wireName`): `like`, `positive`, `skip`, `dislike`.
            var feedback: String?
            var value: Double?
        }
        var user: String
        var partition: Int32?
        /// `here` (lists come from this instance), `restoring` (its partition is being caught up here, or not
        /// assigned yet), `elsewhere` (another instance of the group owns its partition; this copy may be stale).
        var servedHere: String
        var eventsApplied: Int64
        var behaviorCounts: [String: Int64]
        /// Newest first.
        var events: [Event]
    }

    static let maxEventsShown = 500

    /// Nil for an unknown user.
    func user(_ external: String, events limit: Int) throws -> User? {
        guard let (id, partition) = try store.userIDAndPartition(external) else { return nil }
        let events = try store.recentEvents(user: id, limit: max(1, min(limit, Self.maxEventsShown)))
        let names = try store.itemExternalIDs(for: events.map(\.item))
        let served: String
        switch ownership?.verdict(partition: partition) ?? .serve {
        case .serve: served = "here"
        case .wait: served = "restoring"
        case .elsewhere: served = "elsewhere"
        }
        return User(
            user: external,
            partition: partition,
            servedHere: served,
            eventsApplied: try store.eventCount(user: external),
            behaviorCounts: try store.behaviorCounts(user: id),
            events: zip(events, names).map { e, name in
                User.Event(
                    seq: e.seq,
                    atMs: e.timestampMs,
                    item: name,
                    behavior: e.behavior,
                    feedback: e.feedback.flatMap(FeedbackKind.init(rawValue:))?.wireName,
                    value: e.value
                )
            }
        )
    }

    // MARK: - /api/dead-letters

    struct DeadLetters: Codable, Equatable {
        struct Letter: Codable, Equatable {
            struct Source: Codable, Equatable {
                var topic: String
                var partition: Int32
                var offset: Int64
                var timestampMs: Int64?
            }
            var reason: String
            var detail: String
            var source: Source
            /// The key as text (invalid UTF-8 replaced), if any.
            var key: String?
            /// The payload as text, invalid UTF-8 replaced, cut at `payloadShown` bytes.
            var payload: String
            var payloadBytes: Int
            /// Nil while still in the outbox (not yet acknowledged by the dead-letter topic).
            var deliveredAtMs: Int64?
        }
        var topic: String
        /// Since the store was created, by reason.
        var counts: [String: Int64]
        var pending: Int
        /// Newest first.
        var newest: [Letter]
    }

    static let payloadShown = 512

    func deadLetters(limit: Int) throws -> DeadLetters {
        let counts = try store.counts()
        let recent = try store.recentDeadLetters(limit: max(1, min(limit, EventStore.deliveredDeadLettersKept)))
        return DeadLetters(
            topic: deadLetterTopic,
            counts: counts.deadLettered,
            pending: counts.pendingDeadLetters,
            newest: recent.map { d, delivered in
                let p = d.position
                return DeadLetters.Letter(
                    reason: d.reason,
                    detail: d.detail,
                    source: .init(topic: p.partition.topic, partition: p.partition.partition, offset: p.offset, timestampMs: d.timestampMs),
                    key: d.key.map { String(decoding: $0, as: UTF8.self) },
                    payload: String(decoding: d.payload.prefix(Self.payloadShown), as: UTF8.self),
                    payloadBytes: d.payload.count,
                    deliveredAtMs: delivered
                )
            }
        )
    }

    // MARK: - Routes

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = .sortedKeys
        return e
    }()

    func register(on router: Router<BasicRequestContext>) {
        router.get("/") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                body: .init(byteBuffer: ByteBuffer(string: OperatorPage.html))
            )
        }
        router.get("/api/now") { _, _ -> Response in try Self.json(now()) }
        router.get("/api/models") { _, _ -> Response in try Self.json(models()) }
        router.get("/api/users/:user") { request, context -> Response in
            guard let external = context.parameters.get("user") else { return HTTPServer.json(.badRequest, #"{"error":"user missing"}"#) }
            let limit = request.uri.queryParameters["events"].flatMap { Int(String($0)) } ?? 50
            guard let u = try user(external, events: limit) else {
                return HTTPServer.json(.notFound, "{\"error\":\"unknown user\",\"user\":\(JSON.quoted(external))}")
            }
            return try Self.json(u)
        }
        router.get("/api/dead-letters") { request, _ -> Response in
            let limit = request.uri.queryParameters["limit"].flatMap { Int(String($0)) } ?? 20
            return try Self.json(deadLetters(limit: limit))
        }
    }

    static func json(_ value: some Encodable) throws -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json", .cacheControl: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value)))
        )
    }
}
