import Hummingbird
import Logging
import ServiceLifecycle
import TacitStore

/// The daemon's HTTP endpoints (Hummingbird):
/// - `GET /healthz` → `{"live","ready","status"}`, 200 when live and ready, else 503
///   (`/healthz/live` and `/healthz/ready` answer one question each);
/// - `GET /metrics` → Prometheus text format;
/// - `GET /recommendations/{user}` → the list the publisher would send now (same JSON), 404 for
///   an unknown user, 503 while no model can serve or the user's partition is being restored here, 421 when
///   another instance of the consumer group owns the user's partition (this store's copy may be stale);
/// - `GET /` and `GET /api/…`: the operator page and the JSON it reads (`OperatorAPI`).
enum HTTPServer {
    static func makeApplication(
        host: String,
        port: Int,
        store: EventStore,
        recommender: any RecommendationSource,
        publisher: PublisherService?,
        ownership: PartitionOwnership? = nil,
        metrics: DaemonMetrics,
        health: HealthState,
        operatorAPI: OperatorAPI,
        logger: Logger
    ) -> any Service {
        let router = Router()
        operatorAPI.register(on: router)
        router.get("/healthz") { _, _ -> Response in
            let now = epochMilliseconds()
            let live = health.isLive(nowMs: now), ready = health.snapshot.ready && !health.snapshot.stopping
            return json(
                live && ready ? .ok : .serviceUnavailable,
                "{\"live\":\(live),\"ready\":\(ready),\"status\":\(JSON.quoted(health.statusLine()))}"
            )
        }
        router.get("/healthz/live") { _, _ -> Response in
            let live = health.isLive(nowMs: epochMilliseconds())
            return json(live ? .ok : .serviceUnavailable, "{\"live\":\(live)}")
        }
        router.get("/healthz/ready") { _, _ -> Response in
            let ready = health.snapshot.ready && !health.snapshot.stopping
            return json(ready ? .ok : .serviceUnavailable, "{\"ready\":\(ready)}")
        }
        router.get("/metrics") { _, _ -> Response in
            let last = health.snapshot.lastBatchMs
            if last > 0 { metrics.lastBatchAge.set(Double(epochMilliseconds() - last) / 1000) }
            var buffer: [UInt8] = []
            metrics.registry.emit(into: &buffer)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer))
            )
        }
        router.get("/recommendations/:user") { request, context -> Response in
            guard let external = context.parameters.get("user") else { return json(.badRequest, #"{"error":"user missing"}"#) }
            do {
                guard let (user, partition) = try store.userIDAndPartition(external) else {
                    return json(.notFound, "{\"error\":\"unknown user\",\"user\":\(JSON.quoted(external))}")
                }
                switch ownership?.verdict(partition: partition) ?? .serve {
                case .serve: break
                case .wait:
                    return json(
                        .serviceUnavailable,
                        "{\"error\":\"this user's partition is not assigned here yet or is being restored\",\"partition\":\(partition ?? -1)}"
                    )
                case .elsewhere:
                    return json(.misdirectedRequest, "{\"error\":\"another instance owns this user's partition\",\"partition\":\(partition ?? -1)}")
                }
                let rules = publisher?.settings.rules ?? ListBuilder.Rules()
                let explain = ["1", "true"].contains(request.uri.queryParameters["explain"].map(String.init) ?? "")
                guard let recs = try ListBuilder(store: store, source: recommender, rules: rules).list(user: user, explain: explain) else {
                    return json(.serviceUnavailable, #"{"error":"no model is serving yet"}"#)
                }
                let body = try PublisherService.message(
                    user: external,
                    recs,
                    store: store,
                    generatedAtMs: epochMilliseconds(),
                    through: try store.allOffsets()
                )
                return json(.ok, body)
            } catch {
                logger.error("GET /recommendations", metadata: ["error": "\(error)"])
                return json(.internalServerError, "{\"error\":\(JSON.quoted("\(error)"))}")
            }
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "tacit"),
            logger: logger
        )
    }

    static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
