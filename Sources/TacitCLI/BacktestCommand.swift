import ArgumentParser
import Foundation
import Logging
import TacitDaemon
import TacitData
import TacitEval
import TacitStore
import TacitTensor

/// `tacit backtest`: the daemon's trainer and serving path over a dataset in event-time order, no
/// Kafka, each served model scored on the events that came after it (`Backtest`).
struct BacktestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Replay a dataset through the daemon's store, trainer and serving path offline; score each served model on the events after it.",
        discussion: """
        Events go through the daemon's parser and taxonomy (--config, or the defaults), in event-time \
        order with their original spacing. The first --warmup share is applied and fine-tuned on; the \
        rest is cut into --rounds chunks. Before each chunk is applied, every user already known gets \
        the list the daemon would serve (top 10, consumed items left out), scored against the items \
        they take positively in the chunk and had not consumed: HR@10 and NDCG@10, full ranking. A \
        fine-tune (candidate, gate, promotion, refit) follows each chunk. Compare [trainer] settings \
        with --config, --model and --refit.
        """)

    @Option(help: "Dataset, as for `tacit eval --data`: ml-100k, ml-1m, retail-rocket, tmall, or a path.")
    var data: String = "ml-100k"

    @Option(help: "Daemon configuration file ([taxonomy], [events], [store], [trainer]); default: the built-in defaults.")
    var config: String?

    @Option(help: "Override [trainer] model.")
    var model: String?

    @Option(help: "Override [trainer] refit (true or false).")
    var refit: Bool?

    @Option(help: "Share of the events applied before the first fine-tune.")
    var warmup: Double = 0.5

    @Option(help: "Chunks the remaining events are cut into (one fine-tune after each).")
    var rounds: Int = 5

    @Option(help: "SQLite file to build (must not exist; kept afterwards). Default: a temporary file, removed.")
    var store: String?

    @Option(help: "Write the rounds as JSON to this file.")
    var json: String?

    func validate() throws {
        guard warmup > 0, warmup < 1 else { throw ValidationError("--warmup must be in (0, 1)") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be ≥ 1") }
        if let store, FileManager.default.fileExists(atPath: store) { throw ValidationError("--store \(store): already exists") }
    }

    func run() async throws {
        var c = try config.map { try TacitConfiguration.load(path: $0) } ?? TacitConfiguration()
        if let model { c.trainer.model = model }
        if let refit { c.trainer.refit = refit }
        let temporary = store == nil
            ? FileManager.default.temporaryDirectory.appendingPathComponent("tacit-backtest-\(ProcessInfo.processInfo.processIdentifier)")
            : nil
        if let temporary { try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true) }
        defer { if let temporary { try? FileManager.default.removeItem(at: temporary) } }
        c.store.path = store ?? temporary!.appendingPathComponent("backtest.sqlite").path
        c.store.synchronous = .normal

        var logger = Logger(label: "tacit-backtest")
        logger.logLevel = .error   // the table says what each fine-tune did
        let backtest = try Backtest(configuration: c, logger: logger)
        Compute.configure(threads: c.trainer.threads)
        print("command: \(CommandLine.arguments.joined(separator: " "))")
        print("machine: \(Machine.summary); threads \(Compute.threads)")
        let source = ReplaySource.dataset(try DatasetLoader.load(data))
        print("loaded:  \(source.description)")

        // The daemon's parser, with the original spacing ending now (so no timestamp is out of range).
        let now = wallMs(), shift = source.shiftMs(wallNowMs: now)
        let parser = EventParser(taxonomy: c.taxonomy, limits: c.events)
        var events: [UserEvent] = []
        var rejected: [String: Int] = [:]
        events.reserveCapacity(source.count)
        for n in 0..<source.count {
            let (key, value) = source.record(n, sendMs: now, shiftMs: shift, mode: .shift, ids: true, typeMap: [:])
            switch parser.parse(value: value, key: key, nowMs: now) {
            case .success(let e): events.append(e)
            case .failure(let reason): rejected[reason.code, default: 0] += 1
            }
        }
        let warm = Int(Double(events.count) * warmup)
        print("events:  \(events.count) parsed\(rejected.isEmpty ? "" : ", dead letters \(rejected)"); warm-up \(warm), then \(rounds) rounds")
        print("trainer: model \(c.trainer.model), refit \(c.trainer.refit), epochs \(c.trainer.epochs), dim \(c.trainer.dim), "
            + "learning rate \(c.trainer.effectiveLearningRate), holdout \(c.trainer.holdoutFraction), seed \(c.trainer.seed)")
        print("round  events             users  new users  HR@10   NDCG@10  served by       model share  then fine-tune (seconds)")
        var round = 0
        let results = try await backtest.run(events: events, warmupEvents: warm, rounds: rounds) { r in
            let name = round == 0 ? "warm" : "\(round)"
            round += 1
            print(name.padding(toLength: 6, withPad: " ", startingAt: 0) + " "
                + "\(r.firstEvent)..<\(r.endEvent)".padding(toLength: 18, withPad: " ", startingAt: 0)
                + String(format: " %5d  %9d  %.4f  %.4f   ", r.users, r.newUsers, r.hr10, r.ndcg10)
                + r.servedBy.padding(toLength: 15, withPad: " ", startingAt: 0)
                + String(format: " %11.2f  ", r.modelShare) + r.fineTune + String(format: " (%.1f)", r.fineTuneSeconds))
        }
        let scored = results.dropFirst()
        let users = scored.reduce(0) { $0 + $1.users }
        let hr = scored.reduce(0.0) { $0 + $1.hr10 * Double($1.users) } / Double(max(users, 1))
        let ndcg = scored.reduce(0.0) { $0 + $1.ndcg10 * Double($1.users) } / Double(max(users, 1))
        print(String(format: "all rounds: %d lists scored, HR@10 %.4f, NDCG@10 %.4f", users, hr, ndcg))
        if let json {
            struct Output: Encodable {
                var command: String, machine: String, data: String, model: String, refit: Bool, seed: Int
                var warmupEvents: Int, rounds: [Backtest.Round], users: Int, hr10: Double, ndcg10: Double
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            let out = Output(command: CommandLine.arguments.joined(separator: " "), machine: Machine.summary, data: data,
                             model: c.trainer.model, refit: c.trainer.refit, seed: c.trainer.seed, warmupEvents: warm,
                             rounds: results, users: users, hr10: hr, ndcg10: ndcg)
            try encoder.encode(out).write(to: URL(fileURLWithPath: json))
            print("wrote \(json)")
        }
    }
}
