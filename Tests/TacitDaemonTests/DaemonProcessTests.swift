import Foundation
import Logging
import TacitKafka
import TacitServiceTestSupport
import TacitStore
import Testing

@testable import TacitDaemon

/// Starts the test binary as a separate daemon process (see `daemonChild`). With a `role`, it runs that role
/// with a small LightGCN that every fine-tune promotes (`scaleOutTrainer`), in consumer group `group`.
func startDaemonProcess(
    broker: String,
    dir: URL,
    notifySocket: String? = nil,
    debounceMs: Int? = nil,
    model: String? = nil,
    role: TacitConfiguration.Service.Role? = nil,
    group: String? = nil,
    httpPort: Int? = nil
) throws -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: testBinaryPath())
    p.arguments = ["--testing-library", "swift-testing", "--filter", "daemonChild"]
    var env = ProcessInfo.processInfo.environment
    env["TACIT_DAEMON_CHILD_BROKER"] = broker
    env["TACIT_DAEMON_CHILD_DIR"] = dir.path
    if let notifySocket { env["NOTIFY_SOCKET"] = notifySocket }
    env["TACIT_DAEMON_CHILD_DEBOUNCE_MS"] = debounceMs.map(String.init)
    env["TACIT_DAEMON_CHILD_MODEL"] = model
    env["TACIT_DAEMON_CHILD_ROLE"] = role?.rawValue
    env["TACIT_DAEMON_CHILD_GROUP"] = group
    env["TACIT_DAEMON_CHILD_HTTP_PORT"] = httpPort.map(String.init)
    p.environment = env
    // TACIT_TEST_CHILD_LOGS=<dir> keeps each child's output there (with TACIT_TEST_LOG=info, say).
    var log = FileHandle(forWritingAtPath: "/dev/null")
    if let logs = env["TACIT_TEST_CHILD_LOGS"] {
        let path = "\(logs)/\(role?.rawValue ?? "daemon")-\(dir.lastPathComponent).log"
        FileManager.default.createFile(atPath: path, contents: nil)
        log = FileHandle(forWritingAtPath: path)
    }
    p.standardOutput = log
    p.standardError = log
    try p.run()
    return p
}

func appliedCount(_ dir: URL) -> Int64 {
    let path = dir.appendingPathComponent("tacit.sqlite").path
    guard FileManager.default.fileExists(atPath: path),
        let s = try? EventStore(configuration: StoreConfiguration(path: path))
    else { return 0 }
    return (try? s.counts().eventsApplied) ?? 0
}

@Suite("Daemon as a process: SIGTERM and kill -9", .serialized, .enabled(if: TestBroker.isAvailable))
struct DaemonProcessTests {
    /// The child side: with TACIT_DAEMON_CHILD_BROKER set, run a daemon until SIGTERM. Otherwise a no-op.
    @Test func daemonChild() async throws {
        let env = ProcessInfo.processInfo.environment
        guard let broker = env["TACIT_DAEMON_CHILD_BROKER"], let dir = env["TACIT_DAEMON_CHILD_DIR"] else { return }
        let port = env["TACIT_DAEMON_CHILD_HTTP_PORT"].flatMap(Int.init)
        var config = testConfiguration(
            broker: broker,
            dir: URL(fileURLWithPath: dir),
            httpPort: port ?? 0,
            group: env["TACIT_DAEMON_CHILD_GROUP"] ?? "tacit-test"
        )
        config.http.enabled = port != nil
        config.store.batchSize = 200
        if let debounce = env["TACIT_DAEMON_CHILD_DEBOUNCE_MS"].flatMap(Int.init) { config.publisher.debounceMs = debounce }
        if let model = env["TACIT_DAEMON_CHILD_MODEL"] { config.trainer.model = model }
        if let role = env["TACIT_DAEMON_CHILD_ROLE"].flatMap(TacitConfiguration.Service.Role.init(rawValue:)) {
            config.service.role = role
            config.trainer = scaleOutTrainer()
        }
        // As `tacit daemon` builds it: the configured model, trainer and models topic.
        let daemon = Daemon(
            configuration: config,
            components: try DaemonComponents.fromConfiguration(config),
            logger: Logger(label: "tacit-child"),
            environment: env
        )
        try await daemon.run(signals: true)
    }

    @Test func sigtermExitsZeroWithEverythingPersisted() async throws {
        let broker = try TestBroker()
        let dir = tempDir()
        defer { removeTempDir(dir) }
        let notify = try NotifySocket(abstract: true)
        let child = try startDaemonProcess(broker: broker.bootstrap, dir: dir, notifySocket: notify.name)
        defer { if child.isRunning { kill(child.processIdentifier, SIGKILL) } }
        var messages: [String] = []
        while let m = await offPool({ notify.receive() }) {
            messages.append(m)
            if m.contains("READY=1") { break }
        }
        #expect(messages.last?.contains("READY=1") == true)
        let records = (0..<300).map { i in
            ProducerRecord(topic: "tacit.behaviors", key: Array("u\(i % 30)".utf8), value: eventJSON(user: "u\(i % 30)", item: "i\(i)"))
        }
        try await produce(broker.bootstrap, records)
        #expect(await waitUntil(.seconds(60)) { appliedCount(dir) == 300 })
        let t0 = ContinuousClock.now
        kill(child.processIdentifier, SIGTERM)
        await waitForExit(child)
        let took = ContinuousClock.now - t0
        print("SIGTERM → exit \(child.terminationStatus) in \(took)")
        #expect(child.terminationReason == .exit && child.terminationStatus == 0)
        #expect(took < .seconds(10))
        var stopping = false
        while let m = await offPool({ notify.receive() }) {
            if m.contains("STOPPING=1") {
                stopping = true
                break
            }
        }
        #expect(stopping)
        #expect(appliedCount(dir) == 300)
    }

    @Test func killNineWhileStreamingLosesNothingAndAppliesNothingTwice() async throws {
        let broker = try TestBroker()
        let dir = tempDir()
        defer { removeTempDir(dir) }
        let total = 4000
        let producerTask = Task {
            for chunk in stride(from: 0, to: total, by: 100) {
                var records: [ProducerRecord] = []
                for i in chunk..<chunk + 100 {
                    let user = "u\(i % 97)"
                    let topic = i % 3 == 0 ? "tacit.feedback" : "tacit.behaviors"
                    let type = i % 3 == 0 ? "like" : "view"
                    let value = eventJSON(user: user, item: "i\(i % 500)", type: type, ts: 1_700_000_000_000 + Int64(i))
                    records.append(ProducerRecord(topic: topic, key: Array(user.utf8), value: value))
                }
                try await produce(broker.bootstrap, records)
                try await Task.sleep(for: .milliseconds(150))
            }
        }
        var kills = 0
        var child = try startDaemonProcess(broker: broker.bootstrap, dir: dir)
        while kills < 5 {
            let before = appliedCount(dir)
            // Kill once it is making progress (joined the group and applying), at a random moment.
            _ = await waitUntil(.seconds(30)) { appliedCount(dir) > before }
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...400)))
            kill(child.processIdentifier, SIGKILL)
            await waitForExit(child)
            kills += 1
            child = try startDaemonProcess(broker: broker.bootstrap, dir: dir)
        }
        try await producerTask.value
        let done = await waitUntil(.seconds(90)) { appliedCount(dir) == Int64(total) }
        kill(child.processIdentifier, SIGTERM)
        await waitForExit(child)
        #expect(done, "applied \(appliedCount(dir)) of \(total)")
        let store = try EventStore(configuration: StoreConfiguration(path: dir.appendingPathComponent("tacit.sqlite").path))
        var expected: [String: Int64] = [:]
        for i in 0..<total { expected["u\(i % 97)", default: 0] += 1 }
        #expect(try store.eventCountsByUser() == expected)
        print("daemon crash test: \(kills) kill -9, \(try store.counts().eventsApplied) events applied of \(total) produced")
    }
}

extension DaemonProcessTests {
    /// Issue 22: lists used to wait for the debounce in memory only, so a `kill -9` after a batch
    /// was applied but before its lists went out left those users without a list after the
    /// restart until they had another event.
    @Test func killNineBeforeListsAreSentStillGivesEveryUserTheirList() async throws {
        let broker = try TestBroker()
        let dir = tempDir()
        defer { removeTempDir(dir) }
        // A 10-minute debounce: when the kill comes, every list is certainly still pending.
        var child = try startDaemonProcess(broker: broker.bootstrap, dir: dir, debounceMs: 600_000)
        defer { if child.isRunning { kill(child.processIdentifier, SIGKILL) } }

        let users = (0..<20).map { "user-\($0)" }
        var records: [ProducerRecord] = []
        for k in 0..<3 {
            for (u, user) in users.enumerated() {
                records.append(
                    ProducerRecord(
                        topic: "tacit.behaviors",
                        key: Array(user.utf8),
                        value: eventJSON(
                            user: user,
                            item: "item-\((u + k * 7) % 30)",
                            type: k == 2 ? "buy" : "view",
                            ts: 1_700_000_000_000 + Int64(k * 100 + u)
                        )
                    )
                )
            }
        }
        let reports = try await produce(broker.bootstrap, records)
        var newest: [String: DeliveryReport] = [:]  // each user's last record: the event the list must reflect
        for (record, report) in zip(records, reports) { newest[String(decoding: record.key!, as: UTF8.self)] = report }
        #expect(await waitUntil(.seconds(60)) { appliedCount(dir) == Int64(records.count) })
        kill(child.processIdentifier, SIGKILL)
        await waitForExit(child)

        let restarted = ContinuousClock.now
        child = try startDaemonProcess(broker: broker.bootstrap, dir: dir)
        let lists = try await consume(broker.bootstrap, topic: "tacit.recommendations", timeout: .seconds(30)) { got in
            Set(got.compactMap { $0.key.map { String(decoding: $0, as: UTF8.self) } }).isSuperset(of: users)
        }
        print(
            "kill -9 before publishing: \(Set(lists.compactMap(\.key)).count) of \(users.count) users got a list "
                + "within \(ContinuousClock.now - restarted) of the restart"
        )
        let path = dir.appendingPathComponent("tacit.sqlite").path
        let storedOffsets = try EventStore(configuration: StoreConfiguration(path: path)).allOffsets()
        var latest: [String: [String: Any]] = [:]
        for m in lists { if let o = jsonObject(m.value), let user = o["user"] as? String { latest[user] = o } }
        #expect(Set(latest.keys) == Set(users), "missing lists: \(Set(users).subtracting(latest.keys).sorted())")
        for user in users {
            guard let o = latest[user], let report = newest[user] else { continue }
            let through = o["events_through"] as? [String: Int] ?? [:]
            // Every partition the store has applied, not just those applied since the restart.
            #expect(through == Dictionary(uniqueKeysWithValues: storedOffsets.map { ($0.key.description, Int($0.value) - 1) }))
            let partition = "\(report.topic)/\(report.partition)"
            #expect((through[partition] ?? -1) >= Int(report.offset), "\(user)'s list does not reflect its newest event")
        }
        // Acknowledged lists are paid for: nothing stays owed.
        let cleared = await waitUntil(.seconds(10)) {
            (try? EventStore(configuration: StoreConfiguration(path: path)).owedLists().isEmpty) == true
        }
        #expect(cleared)
        kill(child.processIdentifier, SIGTERM)
        await waitForExit(child)
        #expect(child.terminationReason == .exit && child.terminationStatus == 0)
    }
}

/// Runs a blocking call on a plain thread, keeping the cooperative pool free.
func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { cont in
        Thread { cont.resume(returning: body()) }.start()
    }
}

extension DaemonProcessTests {
    /// Issue 23: state follows its partition. Two instances share the group; one is killed with -9; the
    /// survivor is assigned its partitions, finds no offsets of its own for them, and replays them from
    /// their start, so it ends with every user's whole history, each event once.
    @Test func aKilledInstancesPartitionsAreRebuiltByTheSurvivorFromKafka() async throws {
        let broker = try TestBroker()
        let (dirA, dirB) = (tempDir(), tempDir())
        defer {
            removeTempDir(dirA)
            removeTempDir(dirB)
        }
        let a = try startDaemonProcess(broker: broker.bootstrap, dir: dirA, model: "popularity")
        let b = try startDaemonProcess(broker: broker.bootstrap, dir: dirB, model: "popularity")
        defer {
            for p in [a, b] where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
        func events(_ round: Int, count: Int) -> [ProducerRecord] {
            (0..<20).flatMap { u in
                (0..<count).map { k in
                    ProducerRecord(
                        topic: "tacit.behaviors",
                        key: Array("u\(u)".utf8),
                        value: eventJSON(user: "u\(u)", item: "r\(round)-\(k)", ts: 1_700_000_000_000 + Int64(round * 100 + k))
                    )
                }
            }
        }
        // Both members joined (each applies its share) before the first round is counted.
        try await produce(broker.bootstrap, events(0, count: 10))
        let split = await waitUntil(.seconds(60)) {
            appliedCount(dirA) + appliedCount(dirB) == 200 && appliedCount(dirA) > 0 && appliedCount(dirB) > 0
        }
        #expect(split, "applied A \(appliedCount(dirA)), B \(appliedCount(dirB)) of 200")
        let killed = ContinuousClock.now
        kill(a.processIdentifier, SIGKILL)
        await waitForExit(a)
        try await produce(broker.bootstrap, events(1, count: 5))
        let rebuilt = await waitUntil(.seconds(90)) { appliedCount(dirB) == 300 }
        print("kill -9 → survivor holds every user's history: \(ContinuousClock.now - killed)")
        kill(b.processIdentifier, SIGTERM)
        await waitForExit(b)
        #expect(rebuilt, "survivor applied \(appliedCount(dirB)) of 300")
        let store = try EventStore(configuration: StoreConfiguration(path: dirB.appendingPathComponent("tacit.sqlite").path))
        #expect(try store.eventCountsByUser() == Dictionary(uniqueKeysWithValues: (0..<20).map { ("u\($0)", Int64(15)) }))
    }
}
