import Foundation
import Logging
import TacitKafka
import TacitServiceTestSupport
import TacitStore
import Testing

@testable import TacitDaemon

@Suite("Daemon end to end against a real Tansu broker", .serialized, .enabled(if: TestBroker.isAvailable))
struct DaemonEndToEndTests {
    @Test func eventsInListsOutDeadLettersAsideGracefulStop() async throws {
        let broker = try TestBroker()
        let dir = tempDir()
        defer { removeTempDir(dir) }
        let config = testConfiguration(broker: broker.bootstrap, dir: dir)
        let daemon = Daemon(configuration: config, logger: testLogger("daemon"), environment: [:])
        let running = Task { try await daemon.run() }

        // 20 users × 5 events, keyed by user, on both input topics; plus 4 bad records.
        let users = (0..<20).map { "user-\($0)" }
        var records: [ProducerRecord] = []
        for (u, user) in users.enumerated() {
            for k in 0..<5 {
                let topic = k % 2 == 0 ? "tacit.behaviors" : "tacit.feedback"
                let type = k % 2 == 0 ? (k == 4 ? "buy" : "view") : "like"
                records.append(
                    ProducerRecord(
                        topic: topic,
                        key: Array(user.utf8),
                        value: eventJSON(
                            user: user,
                            item: "item-\((u + k * 3) % 40)",
                            type: type,
                            ts: 1_700_000_000_000 + Int64(u * 10 + k)
                        )
                    )
                )
            }
        }
        let bad: [(String?, [UInt8])] = [
            ("user-0", Array("{not json".utf8)),
            ("user-1", Array(#"{"user":"user-1","item":"i","type":"teleport","ts":1700000000000}"#.utf8)),
            ("user-2", Array(#"{"user":"user-2","item":"i","type":"buy"}"#.utf8)),
            ("someone-else", eventJSON(user: "user-3", item: "i")),
        ]
        for (key, value) in bad {
            records.append(ProducerRecord(topic: "tacit.behaviors", key: key.map { Array($0.utf8) }, value: value))
        }
        try await produce(broker.bootstrap, records)

        // A list for every user arrives on tacit.recommendations.
        let lists = try await consume(broker.bootstrap, topic: "tacit.recommendations", timeout: .seconds(60)) { got in
            Set(got.compactMap { $0.key.map { String(decoding: $0, as: UTF8.self) } }).isSuperset(of: users)
        }
        var latest: [String: [String: Any]] = [:]
        for m in lists {
            guard let o = jsonObject(m.value), let user = o["user"] as? String else {
                Issue.record("unparseable list: \(String(decoding: m.value, as: UTF8.self))")
                continue
            }
            #expect(m.key.map { String(decoding: $0, as: UTF8.self) } == user)
            latest[user] = o
        }
        #expect(Set(latest.keys).isSuperset(of: users))
        if let o = latest["user-0"] {
            let items = o["items"] as? [[String: Any]] ?? []
            #expect(!items.isEmpty && items.count <= 5)
            #expect(items.allSatisfy { $0["item"] is String && $0["score"] is NSNumber })
            #expect(o["model"] as? String == "popularity" && o["model_version"] as? Int == 0)
            #expect((o["generated_at"] as? String)?.hasSuffix("Z") == true)
            let through = o["events_through"] as? [String: Int] ?? [:]
            #expect(through.keys.allSatisfy { $0.hasPrefix("tacit.behaviors/") || $0.hasPrefix("tacit.feedback/") })
            // Consumed items (liked, bought) are excluded; viewed ones stay eligible (publisher.reshow_auxiliary).
            let own = Set([1, 3, 4].map { "item-\((0 + $0 * 3) % 40)" })
            #expect(items.allSatisfy { !own.contains($0["item"] as! String) })
        }

        // Bad records land in the dead-letter topic with reasons and their source position.
        let dead = try await consume(broker.bootstrap, topic: "tacit.deadletter", timeout: .seconds(30)) { $0.count >= 4 }
        let reasons = dead.compactMap { jsonObject($0.value)?["reason"] as? String }.sorted()
        #expect(reasons == ["key_mismatch", "malformed_json", "missing_field", "unknown_type"])
        for m in dead {
            let o = jsonObject(m.value) ?? [:]
            let source = o["source"] as? [String: Any] ?? [:]
            #expect(source["topic"] as? String == "tacit.behaviors" && source["offset"] is Int)
            #expect(o["payload_base64"] is String && o["detail"] is String)
            #expect(m.headers.contains { $0.name == "tacit.reason" })
            if o["reason"] as? String == "malformed_json" {
                #expect(Data(base64Encoded: o["payload_base64"] as! String) == Data("{not json".utf8))
            }
        }

        // Online quality: each user buys an item of their list new to them; their next list scores that one.
        var second: [ProducerRecord] = []
        for (u, user) in users.enumerated() {
            let own = Set((0..<5).map { "item-\((u + $0 * 3) % 40)" })
            guard
                let top = (latest[user]?["items"] as? [[String: Any]])?.compactMap({ $0["item"] as? String })
                    .first(where: { !own.contains($0) })
            else { continue }
            second.append(
                ProducerRecord(
                    topic: "tacit.behaviors",
                    key: Array(user.utf8),
                    value: eventJSON(user: user, item: top, type: "buy", ts: 1_700_000_100_000)
                )
            )
        }
        try await produce(broker.bootstrap, second)
        let store = try EventStore(configuration: config.store.storeConfiguration)
        let scored = await waitUntil(.seconds(30)) {
            ((try? store.listQuality())?.first { $0.model == "popularity" }?.lists ?? 0) >= Int64(second.count)
        }
        #expect(scored, "online quality: \(String(describing: try? store.listQuality()))")
        let quality = try #require(try store.listQuality().first { $0.model == "popularity" && $0.version == 0 })
        // A user whose first events came in two batches had a list scored on the second batch too.
        #expect(quality.hitLists >= Int64(second.count) && quality.hr10 > 0.5, "\(quality)")

        // HTTP: health, metrics, ad-hoc reads.
        let (hs, hb) = try httpGet(port: config.http.port, path: "/healthz")
        #expect(hs == 200 && hb.contains("\"ready\":true"))
        let (ms, mb) = try httpGet(port: config.http.port, path: "/metrics")
        #expect(ms == 200 && mb.contains("tacit_events_applied_total \(100 + second.count)"))
        #expect(mb.contains("tacit_events_deadlettered_total{reason=\"malformed_json\"} 1"))
        #expect(mb.contains("tacit_online_hr10{model=\"popularity\",version=\"0\"}"))
        let (rs, rb) = try httpGet(port: config.http.port, path: "/recommendations/user-7")
        #expect(rs == 200 && rb.contains("\"user\":\"user-7\""))
        #expect(try httpGet(port: config.http.port, path: "/recommendations/nobody").0 == 404)

        // Graceful stop: returns within the timeout with everything persisted.
        let t0 = ContinuousClock.now
        await daemon.shutdown()
        try await running.value
        #expect(ContinuousClock.now - t0 < .milliseconds(config.service.shutdownTimeoutMs))
        let counts = try store.counts()
        #expect(counts.eventsApplied == 100 + Int64(second.count) && counts.users == 20)
        #expect(counts.pendingDeadLetters == 0)
        #expect(counts.deadLettered.values.reduce(0, +) == 4)
        let offsets = try store.allOffsets()
        #expect(offsets.values.reduce(0, +) == 104 + Int64(second.count))  // every record, good or bad, consumed exactly once
        #expect(try store.owedLists().isEmpty)  // every user's list was acknowledged
    }
}
