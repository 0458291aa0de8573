import ArgumentParser
import Foundation
import Logging
import TacitDaemon

/// `tacit daemon --config configs/tacit.toml`: the streaming service (Kafka in, SQLite state,
/// fine-tuning, recommendations out) until SIGTERM/SIGINT.
struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Run the streaming recommender until SIGTERM or SIGINT.",
        discussion: """
            Consumes the configured input topics, applies events and offsets to SQLite in one transaction \
            per batch, fine-tunes the configured model (trainer.model) and publishes top-K lists. Logs go \
            to standard error. Exit status: 0 after a graceful stop, 78 (EX_CONFIG) for a configuration \
            error (the message names the file and the key), 1 when a service failed.
            """
    )

    @Option(name: .shortAndLong, help: "The TOML configuration file (configs/tacit.toml documents every key).")
    var config: String = "configs/tacit.toml"

    @Flag(help: "Validate the configuration, print a summary and exit.")
    var check = false

    /// sysexits.h EX_CONFIG: systemd units can use it in RestartPreventExitStatus=.
    static let exitConfigError: Int32 = 78

    func run() async throws {
        let configuration: TacitConfiguration
        let components: DaemonComponents
        do {
            configuration = try TacitConfiguration.load(path: config)
            components = try DaemonComponents.fromConfiguration(configuration)
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("tacit daemon: configuration error: \(error)\n".utf8))
            throw ExitCode(Self.exitConfigError)
        } catch {
            FileHandle.standardError.write(Data("tacit daemon: \(config): \(error)\n".utf8))
            throw ExitCode(Self.exitConfigError)
        }
        let c = configuration
        let summary =
            "config \(config): brokers \(c.kafka.brokers.joined(separator: ",")), group \(c.kafka.groupID), "
            + "topics \(c.kafka.inputTopics.joined(separator: ",")) → \(c.kafka.outputTopic), store \(c.store.path), "
            + "model \(c.trainer.model)\(c.trainer.enabled ? "" : " (trainer disabled)"), "
            + (c.http.enabled ? "http \(c.http.host):\(c.http.port)" : "http off")
        if check {
            print("ok: \(summary)")
            return
        }
        DaemonCommand.bootstrapLogging()
        let logger = Logger(label: "tacit")
        logger.info("tacit daemon", metadata: ["summary": "\(summary)"])
        do {
            try await Daemon.run(configuration: configuration, components: components, logger: logger)
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("tacit daemon: configuration error: \(error)\n".utf8))
            throw ExitCode(Self.exitConfigError)
        } catch {
            FileHandle.standardError.write(Data("tacit daemon: failed: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    /// Logs to standard error (journald under systemd; stdout stays free for tools).
    static func bootstrapLogging() {
        LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
    }
}
