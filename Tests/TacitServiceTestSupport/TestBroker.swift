import CRDKafka
import Foundation

/// The repository root, found from this file's path.
public let repoRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A real Tansu broker on a free loopback port, started for one test and stopped after it.
///
/// Broker tests are skipped, with the reason printed, only when the broker binary is missing
/// (run scripts/setup.sh). With `TACIT_REQUIRE_BROKER=1` a missing broker is a failure instead.
/// librdkafka must be 2.16 (LD_LIBRARY_PATH=.tools/lib): Debian's 2.0.2 cannot talk to Tansu,
/// and the tests fail loudly rather than pass without a broker.
public final class TestBroker: @unchecked Sendable {
    public static let binary = repoRoot.appendingPathComponent(".tools/bin/tansu").path

    /// Whether broker tests can run; prints why not.
    public static let isAvailable: Bool = {
        if FileManager.default.isExecutableFile(atPath: binary) { return true }
        let reason = "SKIPPED broker tests: no Tansu binary at \(binary) (run scripts/setup.sh)"
        print(reason)
        FileHandle.standardError.write(Data((reason + "\n").utf8))
        if ProcessInfo.processInfo.environment["TACIT_REQUIRE_BROKER"] == "1" {
            fatalError("TACIT_REQUIRE_BROKER=1 but \(reason)")
        }
        return false
    }()

    public static let topics = ["tacit.behaviors", "tacit.feedback", "tacit.recommendations", "tacit.deadletter"]

    public let port: Int
    /// The port clients should use (a relay's, when one sits in front).
    public var bootstrap: String { "127.0.0.1:\(advertisedPort)" }
    public let advertisedPort: Int
    private let process: Process

    /// Starts a broker and creates `topics` with `partitions` partitions each.
    public init(partitions: Int = 4, topics: [String] = TestBroker.topics, advertisedPort: Int? = nil) throws {
        let version = String(cString: rd_kafka_version_str())
        guard rd_kafka_version() >= 0x0201_0000 else {
            throw TestFailure("librdkafka \(version) is loaded; Tansu needs ≥ 2.1. Run tests with LD_LIBRARY_PATH=.tools/lib (scripts/env.sh)")
        }
        port = freePort()
        self.advertisedPort = advertisedPort ?? port
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = [
            "broker", "--listener-url", "tcp://127.0.0.1:\(port)",
            "--advertised-listener-url", "tcp://127.0.0.1:\(self.advertisedPort)",
        ]
        let log = FileHandle(forWritingAtPath: "/dev/null")
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try waitForPort(port, timeout: 10)
        for t in topics { try createTopic(t, partitions: partitions) }
    }

    public func createTopic(_ name: String, partitions: Int) throws {
        let status = try runCommand(
            Self.binary,
            ["topic", "create", "--broker", "tcp://127.0.0.1:\(port)", "--partitions", "\(partitions)", name]
        )
        guard status == 0 else { throw TestFailure("tansu topic create \(name) failed (exit \(status))") }
    }

    public func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)  // memory broker: nothing to persist, stop fast
        process.waitUntilExit()
    }

    deinit { stop() }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// A TCP port that was free a moment ago.
public func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
    }
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

public func waitForPort(_ port: Int, timeout: Double) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        close(fd)
        if rc == 0 { return }
        usleep(50_000)
    }
    throw TestFailure("nothing listening on 127.0.0.1:\(port) after \(timeout) s")
}
