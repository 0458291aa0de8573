import Foundation
import TacitKafka
import TacitServiceTestSupport
import TacitStore
import Testing

@testable import TacitDaemon

/// A `socat` TCP relay on loopback, in its own session (setsid) so that stopping its process
/// group also ends the connections its `fork`ed children carry (../shared/docs/kafka.md).
final class TCPRelay: @unchecked Sendable {
    static let socat = ["/usr/bin/socat", "/bin/socat"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Whether relay tests can run; prints why not.
    static let isAvailable: Bool = {
        guard socat != nil else {
            print("SKIPPED outage test: socat missing (run scripts/setup.sh)")
            return false
        }
        return true
    }()

    let listenPort: Int
    let targetPort: Int
    private(set) var pid: pid_t = 0

    init(listen: Int, target: Int) async throws {
        listenPort = listen
        targetPort = target
        try await start()
    }

    var isRunning: Bool { pid != 0 }

    /// Starts socat as the leader of a new session (posix_spawn with POSIX_SPAWN_SETSID, what
    /// `setsid` does), so its pid is also the process-group id of every connection it forks.
    /// Spawned directly rather than through Foundation's Process: this test reaps it itself.
    func start() async throws {
        guard pid == 0 else { return }
        let args = [Self.socat!, "TCP-LISTEN:\(listenPort),bind=127.0.0.1,fork,reuseaddr", "TCP:127.0.0.1:\(targetPort)"]
        let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(0x80))  // POSIX_SPAWN_SETSID (glibc ≥ 2.26)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [0, 1, 2] {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        var child: pid_t = 0
        let rc = posix_spawn(&child, Self.socat!, &actions, &attr, argv, environ)
        guard rc == 0 else { throw TestFailure("posix_spawn socat failed: \(rc)") }
        pid = child
        try await offPool { Result { try waitForPort(self.listenPort, timeout: 10) } }.get()
        guard getpgid(child) == child else { throw TestFailure("socat \(child) is not its own process-group leader") }
    }

    /// Cuts the relay: SIGKILL to socat's whole process group (listener and every forked connection).
    func stop() {
        guard pid != 0 else { return }
        if getpgid(pid) == pid { kill(-pid, SIGKILL) } else { kill(pid, SIGKILL) }
        var status: Int32 = 0
        for _ in 0..<200 where waitpid(pid, &status, WNOHANG) == 0 { usleep(5_000) }  // reap (≤ 1 s)
        pid = 0
    }

    deinit { stop() }
}

/// Issue 4, "What must be shown" #4: the daemon reaches the broker through a relay that is cut for
/// 30 s mid-stream and restored. It must keep running, resume consuming and publishing by itself,
/// and end with exactly the produced per-user counts.
@Suite(
    "Network outage between daemon and broker",
    .serialized,
    .enabled(if: TestBroker.isAvailable && TCPRelay.isAvailable)
)
struct OutageTests {
    static let outage: Duration = .seconds(Int64(ProcessInfo.processInfo.environment["TACIT_OUTAGE_SECONDS"] ?? "") ?? 30)

    @Test func relayCutForThirtySecondsLosesNothingAndRecovers() async throws {
        let relayPort = freePort()
        // The broker advertises the relay, so every client (daemon and this test's producer) goes through it.
        let broker = try TestBroker(advertisedPort: relayPort)
        let relay = try await TCPRelay(listen: relayPort, target: broker.port)
        defer { relay.stop() }
        let bootstrap = "127.0.0.1:\(relayPort)"
        let dir = tempDir()
        defer { removeTempDir(dir) }
        var config = testConfiguration(broker: bootstrap, dir: dir)
        config.store.batchSize = 200
        let daemon = Daemon(configuration: config, logger: testLogger("daemon"), environment: [:])
        let running = Task { try await daemon.run() }
        defer { running.cancel() }

        var expected: [String: Int64] = [:]
        func records(_ range: Range<Int>, users: (Int) -> String) -> [ProducerRecord] {
            range.map { i in
                let user = users(i)
                expected[user, default: 0] += 1
                let topic = i % 3 == 0 ? "tacit.feedback" : "tacit.behaviors"
                let type = i % 3 == 0 ? "like" : (i % 7 == 0 ? "buy" : "view")
                return ProducerRecord(
                    topic: topic,
                    key: Array(user.utf8),
                    value: eventJSON(user: user, item: "i\(i % 400)", type: type, ts: 1_700_000_000_000 + Int64(i))
                )
            }
        }
        let early = { (i: Int) in "u\(i % 97)" }
        // Phase 1: a steady stream (10 × 200 events) while the daemon joins and applies.
        for c in stride(from: 0, to: 2000, by: 200) {
            try await produce(bootstrap, records(c..<c + 200, users: early))
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(await waitUntil(.seconds(30)) { daemon.health.snapshot.eventsApplied > 0 }, "daemon never applied anything")
        // Phase 2: a burst acknowledged by the broker, then the network goes at once (mid-stream).
        try await produce(bootstrap, records(2000..<6000, users: early))
        let appliedAtCut = daemon.health.snapshot.eventsApplied
        let listsAtCut = daemon.health.snapshot.listsPublished
        relay.stop()
        let cutAt = ContinuousClock.now
        var sawBrokersDown = false
        while ContinuousClock.now - cutAt < Self.outage {
            sawBrokersDown = sawBrokersDown || daemon.health.snapshot.brokersDown
            try await Task.sleep(for: .milliseconds(250))
        }
        let appliedDuringOutage = daemon.health.snapshot.eventsApplied
        // Still running: no service failed (fatal) and nothing started a shutdown (stopping).
        #expect(daemon.health.snapshot.fatal == nil && !daemon.health.snapshot.stopping)
        try await relay.start()
        let restoredAt = ContinuousClock.now
        print(
            "outage test: cut after \(appliedAtCut) of 6000 applied; \(appliedDuringOutage) applied by the end of the "
                + "\(Self.outage) outage; consumer saw all brokers down: \(sawBrokersDown); lists before cut \(listsAtCut)"
        )

        // Phase 3: new users after the restore; every one of them must get a list.
        let late = (0..<20).map { "late-\($0)" }
        try await produce(bootstrap, records(6000..<6400, users: { late[$0 % 20] }))
        let total = Int64(expected.values.reduce(0, +))
        let caughtUp = await waitUntil(.seconds(60)) { daemon.health.snapshot.eventsApplied >= total }
        let recovery = ContinuousClock.now - restoredAt
        #expect(caughtUp, "applied \(daemon.health.snapshot.eventsApplied) of \(total) after the restore")
        let lists = try await consume(bootstrap, topic: "tacit.recommendations", timeout: .seconds(30)) { got in
            Set(got.compactMap { $0.key.map { String(decoding: $0, as: UTF8.self) } }).isSuperset(of: late)
        }
        let listed = Set(lists.compactMap { $0.key.map { String(decoding: $0, as: UTF8.self) } })
        #expect(listed.isSuperset(of: late), "no list after the restore for \(Set(late).subtracting(listed).sorted())")
        #expect(daemon.health.snapshot.listsPublished > listsAtCut)
        print(
            "outage test: caught up \(total) events \(recovery) after the restore; "
                + "\(daemon.health.snapshot.listsPublished) lists published (\(listsAtCut) before the cut)"
        )

        await daemon.shutdown()
        try await running.value
        let store = try EventStore(configuration: config.store.storeConfiguration)
        #expect(try store.eventCountsByUser() == expected)
        let counts = try store.counts()
        #expect(counts.eventsApplied == total && counts.deadLettered.values.reduce(0, +) == 0)
        #expect(try store.allOffsets().values.reduce(0, +) == total)  // each record consumed exactly once
    }
}
