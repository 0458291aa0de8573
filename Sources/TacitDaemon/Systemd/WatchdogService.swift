import Logging
import ServiceLifecycle

/// Pings systemd's watchdog at half the configured interval while `isHealthy()` holds, and
/// keeps `STATUS=` current. A wedged ingest loop stops the pings, and systemd restarts us.
public struct WatchdogService: Service {
    let notifier: SystemdNotifier
    let isHealthy: @Sendable () -> Bool
    let status: @Sendable () -> String
    let logger: Logger

    public init(
        notifier: SystemdNotifier,
        logger: Logger,
        isHealthy: @escaping @Sendable () -> Bool,
        status: @escaping @Sendable () -> String
    ) {
        self.notifier = notifier
        self.isHealthy = isHealthy
        self.status = status
        self.logger = logger
    }

    public func run() async throws {
        // A service that returns early would end the whole group: without systemd, just wait.
        guard notifier.isEnabled else {
            try? await gracefulShutdown()
            return
        }
        let interval = notifier.watchdogPingInterval ?? .seconds(5)
        let pingWatchdog = notifier.watchdogInterval != nil
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var states: [SystemdNotifier.State] = [.status(status())]
            if pingWatchdog && isHealthy() { states.append(.watchdog) }
            do {
                try notifier.notify(states)
            } catch {
                logger.warning("systemd notify failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: min(interval, .seconds(5)))
        }
        // Graceful shutdown began (this service is signalled first): tell systemd.
        do {
            try notifier.notify(.stopping, .status("stopping: finishing the batch, flushing"))
        } catch {
            logger.warning("systemd notify failed", metadata: ["error": "\(error)"])
        }
    }
}
