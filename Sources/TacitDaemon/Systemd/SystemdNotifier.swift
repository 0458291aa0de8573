#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The `sd_notify` protocol without libsystemd: datagrams of `KEY=VALUE` lines to the AF_UNIX
/// socket named by `$NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace).
///
/// With no `$NOTIFY_SOCKET` (not started by systemd, or `Type=` other than notify) every call is
/// a no-op, so the daemon behaves the same in a terminal.
public struct SystemdNotifier: Sendable {
    /// The socket address, or nil when not running under systemd's notify protocol.
    public let socketPath: String?
    /// The watchdog interval systemd expects pings within (`$WATCHDOG_USEC`), if enabled for us.
    public let watchdogInterval: Duration?

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `environment`.
    public init(environment: [String: String]) {
        socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        if let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init), usec > 0,
            environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == getpid() }) ?? true
        {
            watchdogInterval = .microseconds(Int64(usec))
        } else {
            watchdogInterval = nil
        }
    }

    public var isEnabled: Bool { socketPath != nil }

    /// How often to send WATCHDOG=1: half the interval systemd enforces (sd_watchdog_enabled(3)).
    public var watchdogPingInterval: Duration? { watchdogInterval.map { $0 / 2 } }

    public enum State: Sendable, Equatable {
        case ready
        case stopping
        case reloading
        case watchdog
        case status(String)
        /// Ask systemd to extend the start/stop timeout (EXTEND_TIMEOUT_USEC).
        case extendTimeout(Duration)

        var line: String {
            switch self {
            case .ready: "READY=1"
            case .stopping: "STOPPING=1"
            case .reloading: "RELOADING=1"
            case .watchdog: "WATCHDOG=1"
            case .status(let s): "STATUS=" + s.map { $0 == "\n" ? " " : $0 }
            case .extendTimeout(let d):
                "EXTEND_TIMEOUT_USEC=\(d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000)"
            }
        }
    }

    /// Sends `states` in one datagram. Returns false when not under systemd; throws on a socket
    /// error (systemd gone, permission), which callers log and otherwise ignore.
    @discardableResult
    public func notify(_ states: State...) throws(NotifyError) -> Bool {
        try notify(states)
    }

    @discardableResult
    public func notify(_ states: [State]) throws(NotifyError) -> Bool {
        guard let path = socketPath else { return false }
        let message = states.map(\.line).joined(separator: "\n")
        try Self.send(message, to: path)
        return true
    }

    public struct NotifyError: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { "sd_notify: \(message)" }
    }

    static func send(_ message: String, to path: String) throws(NotifyError) {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }  // abstract namespace: leading NUL, not NUL-terminated
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity else { throw NotifyError(message: "socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))

        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw NotifyError(message: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let sent = message.utf8CString.withUnsafeBufferPointer { buf in
            withUnsafePointer(to: &addr) { ap in
                ap.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    sendto(fd, buf.baseAddress, buf.count - 1, Int32(MSG_NOSIGNAL), sa, length)
                }
            }
        }
        guard sent >= 0 else { throw NotifyError(message: "sendto \(path): \(String(cString: strerror(errno)))") }
    }
}
