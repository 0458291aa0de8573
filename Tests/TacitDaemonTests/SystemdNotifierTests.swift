import Foundation
import TacitServiceTestSupport
import Testing

@testable import TacitDaemon

#if canImport(Glibc)
import Glibc
#endif

/// A datagram socket standing in for systemd's notify socket.
final class NotifySocket: @unchecked Sendable {
    let fd: Int32
    let name: String  // what goes into NOTIFY_SOCKET

    init(abstract: Bool) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let unique = "tacit-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let bytes: [UInt8]
        if abstract {
            name = "@" + unique
            bytes = [0] + Array(unique.utf8)
        } else {
            name = FileManager.default.temporaryDirectory.appendingPathComponent(unique).path
            bytes = Array(name.utf8) + [0]
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes) }
        let len = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        guard rc == 0 else { throw TestFailure("bind: \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func receive() -> String? {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buf, buf.count, 0)
        return n < 0 ? nil : String(decoding: buf[0..<n], as: UTF8.self)
    }

    deinit {
        close(fd)
        if !name.hasPrefix("@") { unlink(name) }
    }
}

@Suite("sd_notify")
struct SystemdNotifierTests {
    @Test(arguments: [false, true])
    func sendsStatesToTheSocket(abstract: Bool) throws {
        let sock = try NotifySocket(abstract: abstract)
        let n = SystemdNotifier(environment: ["NOTIFY_SOCKET": sock.name])
        #expect(try n.notify(.ready, .status("consuming\n3 partitions")))
        #expect(sock.receive() == "READY=1\nSTATUS=consuming 3 partitions")
        try n.notify(.watchdog)
        #expect(sock.receive() == "WATCHDOG=1")
        try n.notify(.stopping, .extendTimeout(.seconds(3)))
        #expect(sock.receive() == "STOPPING=1\nEXTEND_TIMEOUT_USEC=3000000")
    }

    @Test func noSocketMeansNoOp() throws {
        let n = SystemdNotifier(environment: [:])
        #expect(!n.isEnabled)
        #expect(try !n.notify(.ready))
        #expect(n.watchdogInterval == nil)
    }

    @Test func watchdogIntervalIsHalved() {
        let n = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "\(getpid())"])
        #expect(n.watchdogInterval == .seconds(30) && n.watchdogPingInterval == .seconds(15))
        let other = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"])
        #expect(other.watchdogInterval == nil)  // meant for another process
    }

    @Test func missingSocketIsAnError() {
        let n = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent/notify"])
        #expect(throws: SystemdNotifier.NotifyError.self) { try n.notify(.ready) }
    }
}
