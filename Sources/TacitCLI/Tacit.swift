import ArgumentParser
import CLibc
import Foundation

/// The `tacit` command line. It lives in a library, with `Sources/tacit/main.swift` only calling
/// `commandLineMain()`, so that tests can parse and validate arguments the way a user types them.
public struct Tacit: AsyncParsableCommand {
    public init() {}

    /// Parses the process's arguments and runs the command. (Not named `main`: ParsableCommand's
    /// synchronous `main()` would win the overload outside an async function and could not run the daemon.)
    public static func commandLineMain() async {
        // Progress lines must reach a log file or pipe as they happen, not when a buffer fills.
        tacit_line_buffer_stdout()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    public static let configuration = CommandConfiguration(
        commandName: "tacit",
        abstract: "Streaming recommender: train, evaluate, serve, replay and inspect.",
        subcommands: [
            EvalCommand.self, BenchCommand.self, DaemonCommand.self, ReplayCommand.self, BacktestCommand.self, TailCommand.self, InspectCommand.self,
        ]
    )
}
