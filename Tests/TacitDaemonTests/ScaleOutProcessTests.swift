import Foundation
import TacitKafka
import TacitServiceTestSupport
import TacitStore
import Testing

@testable import TacitDaemon

/// A small LightGCN, fine-tuned every 240 events and promoted whatever it scores: these tests are about
/// where models and users go, not how good the model is.
func scaleOutTrainer() -> TacitConfiguration.Trainer {
    var t = trainerConfig()
    t.everyEvents = 240
    t.intervalSeconds = 3_600
    t.promotionMargin = 1
    return t
}

/// Issue 23, as operators run it: separate processes on the real broker, one `train` and three `serve`
/// instances, events streaming; then one serving instance is killed with -9, later the trainer too; the
/// trainer is restarted on its own store, and at the end the killed serving instance on its own.
@Suite("Scale-out as processes: a trainer, three serving instances, a kill", .serialized, .enabled(if: TestBroker.isAvailable))
struct ScaleOutProcessTests {
    static let users = (0..<60).map { "u\($0)" }

    /// Round `round` of the stream: one buy per user, from the user's taste cluster (A for even, B for odd).
    static func round(_ round: Int) -> [ProducerRecord] {
        users.enumerated().map { u, user in
            let cluster = u % 2 == 0 ? "A" : "B"
            return ProducerRecord(
                topic: "tacit.behaviors",
                key: Array(user.utf8),
                value: eventJSON(user: user, item: "\(cluster)\((u + round * 7) % 12)", ts: 1_700_000_000_000 + Int64(round * 100 + u))
            )
        }
    }

    /// A metric of a child process from its `/metrics` (nil: not answering).
    static func metric(port: Int, _ name: String) async -> Double? {
        await offPool {
            guard let (status, body) = try? httpGet(port: port, path: "/metrics"), status == 200 else { return nil }
            let line = body.split(separator: "\n").first { $0.hasPrefix(name + " ") }
            return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        }
    }

    static func counts(_ dir: URL) throws -> [String: Int64] {
        try EventStore(configuration: StoreConfiguration(path: dir.appendingPathComponent("tacit.sqlite").path)).eventCountsByUser()
    }

    @Test func threeServingInstancesAndATrainerListEveryUserAndAKilledOnesUsersMoveWhole() async throws {
        let broker = try TestBroker(topics: TestBroker.topics + ["tacit.models"])
        defer { broker.stop() }
        let trainDir = TemporaryDirectory()
        let serveDirs = (0..<3).map { _ in TemporaryDirectory() }
        let ports = (0..<3).map { _ in freePort() }
        var trainer = try startDaemonProcess(broker: broker.bootstrap, dir: trainDir.url, role: .train, group: "tacit-trainer")
        let serving = try zip(serveDirs, ports).map { dir, port in
            try startDaemonProcess(broker: broker.bootstrap, dir: dir.url, role: .serve, group: "tacit-serve", httpPort: port)
        }
        defer { for p in [trainer] + serving where p.isRunning { kill(p.processIdentifier, SIGKILL) } }

        // The three serving instances split the 8 input partitions before anything is sent.
        var joined = false
        for _ in 0..<600 where !joined {
            var assigned: [Double] = []
            for port in ports { assigned.append(await Self.metric(port: port, "tacit_assigned_partitions") ?? 0) }
            joined = assigned.allSatisfy { $0 > 0 } && assigned.reduce(0, +) == 8
            if !joined { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(joined, "three serving instances share the input partitions")

        // Stream 60 rounds, 250 ms apart (240 events/s); kill instance 0 after round 20, the trainer after
        // round 36, restart the trainer after round 48.
        var produced: [String: Int64] = [:]
        var lastReportBeforeKill: [String: DeliveryReport] = [:]
        var killedAtMs: Int64 = 0
        var versionAtTrainerKill = 0.0
        var listsAtTrainerKill = 0.0
        var listsWhileTrainerDown = 0.0
        func survivorsSum(_ name: String) async -> Double {
            var sum = 0.0
            for i in [1, 2] { sum += await Self.metric(port: ports[i], name) ?? 0 }
            return sum
        }
        // Serving model version per instance, sampled while streaming: when each version reached each one.
        var firstSeen: [Int: [Int: ContinuousClock.Instant]] = [:]  // version → instance → time
        func sample(_ instances: [Int]) async {
            for i in instances {
                guard let v = await Self.metric(port: ports[i], "tacit_serving_model_version"), v > 0 else { continue }
                if firstSeen[Int(v), default: [:]][i] == nil { firstSeen[Int(v), default: [:]][i] = .now }
            }
        }
        for r in 0..<60 {
            let records = Self.round(r)
            let reports = try await produce(broker.bootstrap, records)
            for (record, report) in zip(records, reports) {
                let user = String(decoding: record.key!, as: UTF8.self)
                produced[user, default: 0] += 1
                if killedAtMs == 0 { lastReportBeforeKill[user] = report }
            }
            if r == 20 {
                killedAtMs = epochMilliseconds()
                kill(serving[0].processIdentifier, SIGKILL)
                await waitForExit(serving[0])
            }
            if r == 36 {
                kill(trainer.processIdentifier, SIGKILL)
                await waitForExit(trainer)
                for i in [1, 2] {
                    versionAtTrainerKill = max(versionAtTrainerKill, await Self.metric(port: ports[i], "tacit_serving_model_version") ?? 0)
                }
                listsAtTrainerKill = await survivorsSum("tacit_recommendations_published_total")
            }
            if r == 48 {
                listsWhileTrainerDown = await survivorsSum("tacit_recommendations_published_total") - listsAtTrainerKill
                trainer = try startDaemonProcess(broker: broker.bootstrap, dir: trainDir.url, role: .train, group: "tacit-trainer")
            }
            await sample(killedAtMs == 0 ? [0, 1, 2] : [1, 2])
            try await Task.sleep(for: .milliseconds(200))
        }
        // The killed instance's users: those its store holds (their partitions moved to the survivors).
        let moved = Set(try Self.counts(serveDirs[0].url).keys)
        #expect(!moved.isEmpty && moved.count < Self.users.count)

        // Survivors hold every user's whole history, each event once: the owner has exactly what was
        // produced; a stale copy (a partition that moved between survivors) never has more.
        var whole = false
        for _ in 0..<900 where !whole {
            let stores = try [1, 2].map { try Self.counts(serveDirs[$0].url) }
            whole = Self.users.allSatisfy { u in stores.map { $0[u] ?? 0 }.max() == produced[u] }
            if !whole { try await Task.sleep(for: .milliseconds(100)) }
        }
        let stores = try [1, 2].map { try Self.counts(serveDirs[$0].url) }
        #expect(whole, "survivors hold every user's produced count")
        #expect(stores.allSatisfy { store in store.allSatisfy { $0.value <= produced[$0.key] ?? 0 } }, "nothing applied twice")

        // With the trainer dead, serving went on with the model it had.
        #expect(versionAtTrainerKill > 0 && listsWhileTrainerDown > 0, "lists published while the trainer was down")

        // The restarted trainer resumed from its own offsets: its store holds each event exactly once.
        var trainerWhole = false
        for _ in 0..<900 where !trainerWhole {
            trainerWhole = try Self.counts(trainDir.url) == produced
            if !trainerWhole { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(trainerWhole, "the restarted trainer holds exactly the produced per-user counts")

        // Both survivors end on one model version, a newer one from the restarted trainer (promotions stop
        // with the stream).
        var versions: [Double] = []
        var same = false
        for _ in 0..<900 where !same {
            versions = []
            for i in [1, 2] { versions.append(await Self.metric(port: ports[i], "tacit_serving_model_version") ?? -1) }
            same = versions[0] > versionAtTrainerKill && versions[0] == versions[1]
            if !same { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(same, "survivors serve one model version, newer than the killed trainer's v\(versionAtTrainerKill): \(versions)")

        // Every user's newest list comes from the model; each moved user's first list after the kill came
        // from a survivor that had rebuilt their history (it reflects their last event before the kill).
        var newest: [String: [String: Any]] = [:]
        var firstAfterKill: [String: (ms: Int64, list: [String: Any])] = [:]
        _ = try await consume(broker.bootstrap, topic: "tacit.recommendations", timeout: .seconds(60)) { messages in
            for m in messages {
                guard let o = jsonObject(m.value), let user = o["user"] as? String else { continue }
                newest[user] = o
                if moved.contains(user), let ts = m.timestampMs, ts > killedAtMs, firstAfterKill[user] == nil {
                    firstAfterKill[user] = (ts, o)
                }
            }
            return Set(newest.keys).isSuperset(of: Self.users) && firstAfterKill.count == moved.count
                && newest.values.allSatisfy { $0["model"] as? String == "lightgcn" }
        }
        #expect(Set(newest.keys) == Set(Self.users), "every user got a list")
        #expect(newest.values.allSatisfy { $0["model"] as? String == "lightgcn" }, "every newest list is from the model")
        #expect(firstAfterKill.count == moved.count, "every moved user got a list after the kill")
        for (user, first) in firstAfterKill {
            guard let report = lastReportBeforeKill[user] else { continue }
            let through = first.list["events_through"] as? [String: Int] ?? [:]
            #expect(
                (through["\(report.topic)/\(report.partition)"] ?? -1) >= Int(report.offset),
                "\(user)'s first list after the kill reflects their history from before it"
            )
        }

        // Not asserted (timing): printed for the README.
        let delays = firstAfterKill.values.map { Double($0.ms - killedAtMs) / 1000 }.sorted()
        let spreads = firstSeen.sorted { $0.key < $1.key }.compactMap { version, seen -> String? in
            guard seen.count >= 2, let first = seen.values.min(), let last = seen.values.max() else { return nil }
            return "v\(version) \(Double((last - first).milliseconds) / 1000) s on \(seen.count)"
        }
        print(
            "scale-out processes: \(moved.count) users moved; kill → first list for a moved user: min \(delays.first ?? -1) s, "
                + "median \(delays.isEmpty ? -1 : delays[delays.count / 2]) s, max \(delays.last ?? -1) s; "
                + "same model version on the serving instances within: \(spreads.joined(separator: ", ")); "
                + "trainer killed at v\(Int(versionAtTrainerKill)), \(Int(listsWhileTrainerDown)) lists while it was down, restarted trainer's newest v\(Int(versions.first ?? -1))"
        )

        // The killed instance comes back on its own store: the group gives it partitions again; a copy it
        // has is brought up to date from its stored offsets, and the survivors, which held every partition,
        // now hold stale copies of what it took. GET /recommendations answers only on the owner: 421 where
        // a stale copy is, 404 where the user was never seen.
        let restarted = try startDaemonProcess(
            broker: broker.bootstrap,
            dir: serveDirs[0].url,
            role: .serve,
            group: "tacit-serve",
            httpPort: ports[0]
        )
        defer { if restarted.isRunning { kill(restarted.processIdentifier, SIGKILL) } }
        var settled = false
        for _ in 0..<900 where !settled {
            var assigned: [Double] = [], restoring = 0.0
            for port in ports {
                assigned.append(await Self.metric(port: port, "tacit_assigned_partitions") ?? 0)
                restoring += await Self.metric(port: port, "tacit_partitions_restoring") ?? 1
            }
            settled = assigned.allSatisfy { $0 > 0 } && assigned.reduce(0, +) == 8 && restoring == 0
            if !settled { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(settled, "the restarted instance has partitions again and nothing is restoring")
        var answers: [Int: Int] = [:]
        var ownersOK = true
        for user in Self.users {
            var statuses: [Int] = []
            for port in ports {
                let status = await offPool { (try? httpGet(port: port, path: "/recommendations/\(user)"))?.0 ?? -1 }
                statuses.append(status)
                answers[status, default: 0] += 1
            }
            if statuses.filter({ $0 == 200 }).count != 1 || !statuses.allSatisfy({ [200, 404, 421].contains($0) }) {
                ownersOK = false
                Issue.record("\(user): \(statuses)")
            }
            if statuses[0] == 200 {
                #expect(try Self.counts(serveDirs[0].url)[user] == produced[user], "\(user)'s copy on the restarted instance is up to date")
            }
        }
        #expect(ownersOK && (answers[421] ?? 0) > 0, "one owner per user; stale copies answer 421: \(answers)")
        print("restarted serving instance: GET /recommendations statuses over the three instances: \(answers.sorted { $0.key < $1.key })")

        for p in [trainer, serving[1], serving[2], restarted] { kill(p.processIdentifier, SIGTERM) }
        for p in [trainer, serving[1], serving[2], restarted] {
            await waitForExit(p)
            #expect(p.terminationReason == .exit && p.terminationStatus == 0)
        }
    }
}
