import ArgumentParser
import CLibc
import Foundation

@main
struct Tacit: AsyncParsableCommand {
    static func main() async {
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

    static let configuration = CommandConfiguration(
        commandName: "tacit",
        abstract: "Streaming recommender: train, evaluate, serve, replay and inspect.",
        subcommands: [EvalCommand.self, BenchCommand.self, DaemonCommand.self, ReplayCommand.self, TailCommand.self, InspectCommand.self]
    )
}
