import Foundation
import Logging
import TacitKafka
import TacitServiceTestSupport
import TacitStore
import Testing

@testable import TacitDaemon

/// The sum of every sample of `name` in Prometheus text (all label sets).
func prometheusSum(_ text: String, _ name: String) -> Double {
    text.split(separator: "\n").filter { $0.hasPrefix(name + " ") || $0.hasPrefix(name + "{") }
        .compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +)
}

@Suite("The operator page in headless Chromium, against a real Tansu broker", .serialized, .enabled(if: TestBroker.isAvailable))
struct OperatorPageTests {
    /// A daemon serving LightGCN gets events, promotes a model, publishes and scores lists and dead-letters bad
    /// records; the page, loaded in Debian's chromium, shows in each panel the numbers `/metrics` and the store hold.
    @Test func eachPanelShowsTheDaemonsLiveNumbers() async throws {
        let broker = try TestBroker()
        let dir = tempDir()
        defer { removeTempDir(dir) }
        var config = testConfiguration(broker: broker.bootstrap, dir: dir)
        config.trainer = trainerConfig(model: "lightgcn")
        // One fine-tune, from the first 120 events: the numbers hold still once the stream stops.
        config.trainer.everyEvents = 100
        config.trainer.intervalSeconds = 3600
        let daemon = Daemon(
            configuration: config,
            components: try DaemonComponents.fromConfiguration(config),
            logger: testLogger("daemon"),
            environment: [:]
        )
        let running = Task { try await daemon.run() }
        let port = config.http.port

        // 20 users in two clusters, 6 buys each; bad records among them, one an HTML payload.
        var records = clusterRecords(usersPerCluster: 10).compactMap { r -> ProducerRecord? in
            guard case .event(let e) = r.payload else { return nil }
            return ProducerRecord(topic: "tacit.behaviors", key: Array(e.user.utf8), value: eventJSON(user: e.user, item: e.item, ts: e.timestampMs))
        }
        let html = #"<img src=x onerror="document.title='injected'">"#
        records += [
            ProducerRecord(topic: "tacit.behaviors", key: Array("a0".utf8), value: Array("{not json".utf8)),
            ProducerRecord(topic: "tacit.behaviors", key: Array("a1".utf8), value: Array(html.utf8)),
            ProducerRecord(
                topic: "tacit.feedback",
                key: Array("a2".utf8),
                value: Array(#"{"user":"a2","item":"A1","type":"teleport","ts":1700000000000}"#.utf8)
            ),
        ]
        try await produce(broker.bootstrap, records)

        // The page's live rates while events flow (the "now" endpoint it draws from).
        var sawRate = false
        _ = await waitUntil(.seconds(20)) {
            guard let (_, body) = try? httpGet(port: port, path: "/api/now") else { return false }  // not listening yet
            let perSecond = jsonObject(Array(body.utf8))?["per_second"] as? [String: Any]
            sawRate = (perSecond?["applied"] as? Double ?? 0) > 0
            return sawRate
        }
        #expect(sawRate, "no applied rate in /api/now while 120 events were applied")

        // LightGCN promoted and its lists out; then each user buys once more, which scores those lists online.
        let store = try EventStore(configuration: config.store.storeConfiguration)
        let promoted = await waitUntil(.seconds(60)) { (try? store.fineTunes(limit: 5))?.contains { $0.decision == .promoted } == true }
        try #require(promoted, "no promotion")
        _ = try await consume(broker.bootstrap, topic: "tacit.recommendations", timeout: .seconds(30)) { got in
            Set(got.compactMap { m in jsonObject(m.value).flatMap { $0["model"] as? String == "lightgcn" ? $0["user"] as? String : nil } }).count
                >= 20
        }
        let second = (0..<10).flatMap { u in ["a", "b"].map { c in ("\(c)\(u)", c == "a" ? "B\(u)" : "A\(u)") } }.map { user, item in
            ProducerRecord(topic: "tacit.behaviors", key: Array(user.utf8), value: eventJSON(user: user, item: item, ts: 1_700_000_100_000))
        }
        try await produce(broker.bootstrap, second)
        let scored = await waitUntil(.seconds(30)) { (try? store.listQuality())?.contains { $0.model == "lightgcn" && $0.lists > 0 } == true }
        try #require(scored, "no lightgcn list scored online: \(String(describing: try? store.listQuality()))")
        // Quiet: everything applied and every owed list delivered.
        let quiet = await waitUntil(.seconds(30)) {
            (try? store.counts().eventsApplied) == 140 && (try? store.owedLists().isEmpty) == true
                && (try? store.counts().pendingDeadLetters) == 0
        }
        try #require(quiet)
        try await Task.sleep(for: .seconds(1))

        let dom = try await HeadlessChromium.dumpDOM("http://127.0.0.1:\(port)/?user=a3&refresh=60000")
        let (_, metrics) = try httpGet(port: port, path: "/metrics")

        // Now: the counters are /metrics' own.
        #expect(dom.dataValue(id: "now-applied") == "140")
        #expect(Double(dom.dataValue(id: "now-applied") ?? "") == prometheusSum(metrics, "tacit_events_applied_total"))
        #expect(Double(dom.dataValue(id: "now-consumed") ?? "") == prometheusSum(metrics, "tacit_events_consumed_total"))
        #expect(Double(dom.dataValue(id: "now-deadlettered") ?? "") == prometheusSum(metrics, "tacit_events_deadlettered_total"))
        #expect(Double(dom.dataValue(id: "now-lists") ?? "") == prometheusSum(metrics, "tacit_recommendations_published_total"))
        #expect(Double(dom.dataValue(id: "now-partitions") ?? "") == prometheusSum(metrics, "tacit_assigned_partitions"))
        #expect(dom.dataValue(id: "now-brokers") == "up")
        let p50 = Double(dom.dataValue(id: "now-freshness-p50") ?? ""), p99 = Double(dom.dataValue(id: "now-freshness-p99") ?? "")
        #expect(p50 != nil && p99 != nil && p50! <= p99!, "freshness p50 \(String(describing: p50)) p99 \(String(describing: p99))")

        // Models: the promoted version with its online numbers as the store has them, and the fine-tune log.
        let quality = try #require(try store.listQuality().first { $0.model == "lightgcn" })
        let versionID = "version-lightgcn-\(quality.version)"
        #expect(dom.contains("id=\"\(versionID)\""), "no row for lightgcn v\(quality.version)")
        let row = dom.components(separatedBy: "id=\"\(versionID)\"").dropFirst().first?.components(separatedBy: "</tr>").first ?? ""
        #expect(row.contains("data-value=\"\(quality.lists)\""), "online lists \(quality.lists) not in \(row)")
        #expect(row.contains("data-value=\"\(quality.hr10)\""), "online HR@10 \(quality.hr10) not in \(row)")
        // Each of those lists went out with popularity's list for the same user and moment beside it (the control).
        #expect(quality.control.lists == quality.lists, "control \(quality.control) for \(quality.lists) lists")
        #expect(prometheusSum(metrics, "tacit_online_control_lists") == Double(quality.control.lists))
        #expect(dom.contains("promoted → v\(quality.version)"))
        #expect(dom.contains("<polyline"), "no online-metrics plot")

        // A user: their events and the list /recommendations gives, in order.
        #expect(dom.dataValue(id: "user-applied") == "\(try store.eventCount(user: "a3"))")
        let (status, body) = try httpGet(port: port, path: "/recommendations/a3")
        let listed = (jsonObject(Array(body.utf8))?["items"] as? [[String: Any]] ?? []).compactMap { $0["item"] as? String }
        #expect(status == 200 && !listed.isEmpty)
        #expect(dom.texts(class: "list-item") == listed)
        #expect(dom.contains("because you took"))

        // Dead letters: counts by reason, and the newest with their detail, as text (the HTML payload not run).
        #expect(dom.dataValue(id: "dl-count-malformed_json") == "2")
        #expect(dom.dataValue(id: "dl-count-unknown_type") == "1")
        #expect(dom.dataValue(id: "dl-pending") == "0")
        #expect(dom.texts(class: "neg dl-reason").sorted() == ["malformed_json", "malformed_json", "unknown_type"])
        #expect(dom.contains("{not json"))
        #expect(dom.contains("&lt;img src=x onerror="), "the HTML payload is not shown as text")
        #expect(!dom.contains("<img src=\"x\""), "the HTML payload became an element")
        #expect(dom.contains("<title>Tacit</title>"))

        // An unknown user is said so.
        let unknown = try await HeadlessChromium.dumpDOM("http://127.0.0.1:\(port)/?user=nobody&refresh=60000", budgetMs: 3000)
        #expect(unknown.contains("unknown user nobody"))

        await daemon.shutdown()
        try await running.value
    }

    /// The JSON endpoints answer with the documented shapes.
    @Test func apiEndpointsAreReadOnlyJSON() async throws {
        let broker = try TestBroker()
        let dir = tempDir()
        defer { removeTempDir(dir) }
        let config = testConfiguration(broker: broker.bootstrap, dir: dir)
        let daemon = Daemon(configuration: config, logger: testLogger("daemon"), environment: [:])
        let running = Task { try await daemon.run() }
        let port = config.http.port
        try await produce(broker.bootstrap, [ProducerRecord(topic: "tacit.behaviors", key: Array("u".utf8), value: eventJSON(user: "u", item: "i"))])
        let applied = await waitUntil(.seconds(30)) {
            guard let (_, body) = try? httpGet(port: port, path: "/api/now") else { return false }  // not listening yet
            return (jsonObject(Array(body.utf8))?["totals"] as? [String: Any])?["applied"] as? Int == 1
        }
        #expect(applied)
        let now = try #require(jsonObject(Array(try httpGet(port: port, path: "/api/now").1.utf8)))
        #expect(
            Set(now.keys).isSuperset(of: [
                "at_ms", "role", "status", "live", "ready", "brokers", "assigned_partitions", "serving", "totals", "per_second",
            ])
        )
        #expect((now["serving"] as? [String: Any])?["model"] as? String == "popularity")
        let models = try #require(jsonObject(Array(try httpGet(port: port, path: "/api/models").1.utf8)))
        #expect((models["versions"] as? [[String: Any]])?.first?["model"] as? String == "popularity")
        #expect((models["fine_tunes"] as? [Any])?.isEmpty == true)
        let user = try #require(jsonObject(Array(try httpGet(port: port, path: "/api/users/u").1.utf8)))
        let events = user["events"] as? [[String: Any]] ?? []
        #expect(events.count == 1 && events[0]["item"] as? String == "i" && events[0]["behavior"] as? String == "buy")
        #expect(user["served_here"] as? String == "here")
        #expect(try httpGet(port: port, path: "/api/users/nobody").0 == 404)
        let dead = try #require(jsonObject(Array(try httpGet(port: port, path: "/api/dead-letters").1.utf8)))
        #expect(dead["topic"] as? String == "tacit.deadletter" && (dead["newest"] as? [Any])?.isEmpty == true)
        let (pageStatus, page) = try httpGet(port: port, path: "/")
        #expect(pageStatus == 200 && page.contains("<title>Tacit</title>"))
        // Nothing fetched from outside (the one address in it is SVG's namespace).
        #expect(!page.replacingOccurrences(of: "\"http://www.w3.org/2000/svg\"", with: "").contains("http"), "the page names an outside address")
        await daemon.shutdown()
        try await running.value
    }
}
