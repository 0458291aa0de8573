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
            """
    )

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

    @Option(help: "What lists are judged on: any (new items taken positively) or a behavior (e.g. buy: items taken with it, viewed before or not).")
    var target: String = "any"

    @Option(help: "Override [trainer] seed; comma-separated seeds run the backtest once each and report mean ± std.")
    var seed: String?

    func validate() throws {
        guard warmup > 0, warmup < 1 else { throw ValidationError("--warmup must be in (0, 1)") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be ≥ 1") }
        guard !target.isEmpty else { throw ValidationError("--target needs a value: any or a behavior") }
        if let seed { _ = try ArgumentValues.seeds(seed) }
        if let store, FileManager.default.fileExists(atPath: store) { throw ValidationError("--store \(store): already exists") }
    }

    /// One seed's rounds and their list-weighted means.
    struct Run: Encodable {
        var seed: Int
        var rounds: [Backtest.Round]
        var users: Int, hr10: Double, ndcg10: Double, negLists: Int, negShare10: Double
        var auxOnlyUsers: Int, auxOnlyHR10: Double, auxOnlyNDCG10: Double
        var fineTuneSecondsMedian: Double, peakMemoryMB: Double

        init(seed: Int, rounds: [Backtest.Round]) {
            self.seed = seed
            self.rounds = rounds
            let scored = rounds.dropFirst()
            func weighted(_ value: (Backtest.Round) -> Double, by weight: (Backtest.Round) -> Int) -> Double {
                let w = scored.reduce(0) { $0 + weight($1) }
                return scored.reduce(0.0) { $0 + value($1) * Double(weight($1)) } / Double(max(w, 1))
            }
            users = scored.reduce(0) { $0 + $1.users }
            hr10 = weighted(\.hr10, by: \.users)
            ndcg10 = weighted(\.ndcg10, by: \.users)
            negLists = scored.reduce(0) { $0 + $1.negLists }
            negShare10 = weighted(\.negShare10, by: \.negLists)
            auxOnlyUsers = scored.reduce(0) { $0 + $1.auxOnlyUsers }
            auxOnlyHR10 = weighted(\.auxOnlyHR10, by: \.auxOnlyUsers)
            auxOnlyNDCG10 = weighted(\.auxOnlyNDCG10, by: \.auxOnlyUsers)
            let times = rounds.map(\.fineTuneSeconds).sorted()
            fineTuneSecondsMedian = times.isEmpty ? 0 : times[times.count / 2]
            peakMemoryMB = rounds.map(\.peakMemoryMB).max() ?? 0
        }
    }

    func run() async throws {
        var c = try config.map { try TacitConfiguration.load(path: $0) } ?? TacitConfiguration()
        if let model { c.trainer.model = model }
        if let refit { c.trainer.refit = refit }
        let seeds = try seed.map { try ArgumentValues.seeds($0).map { Int($0) } } ?? [c.trainer.seed]
        let target = Backtest.Target(self.target)
        if case .behavior(let b) = target, !c.taxonomy.allTypes.contains(b) {
            throw ValidationError("--target \(b): not a type of [taxonomy] (\(c.taxonomy.allTypes.joined(separator: ", ")), or any)")
        }
        let temporary =
            store == nil
            ? FileManager.default.temporaryDirectory.appendingPathComponent(
                "tacit-backtest-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
            )
            : nil
        if let temporary { try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true) }
        defer { if let temporary { try? FileManager.default.removeItem(at: temporary) } }
        c.store.synchronous = .normal

        var logger = Logger(label: "tacit-backtest")
        logger.logLevel = .error  // the table says what each fine-tune did
        Compute.configure(threads: c.trainer.threads)
        print("command: \(CommandLine.arguments.joined(separator: " "))")
        print("machine: \(Machine.summary); threads \(Compute.threads)")
        let dataset = try DatasetLoader.load(data)
        if dataset.taxonomy.behaviors == ["event"] {
            throw ValidationError(
                "--data \(data): no `type` (or `behavior`) column and no `rating` (or `value`) column, so no event "
                    + "has a type the daemon knows; add one of them (types: \(c.taxonomy.allTypes.joined(separator: ", ")))"
            )
        }
        let source = ReplaySource.dataset(dataset)
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
        guard !events.isEmpty else {
            throw ValidationError(
                "--data \(data): none of its \(source.count) records parsed as events (dead letters \(rejected)); "
                    + "check the type column against [taxonomy]"
            )
        }
        let warm = Int(Double(events.count) * warmup)
        print("events:  \(events.count) parsed\(rejected.isEmpty ? "" : ", dead letters \(rejected)"); warm-up \(warm), then \(rounds) rounds")
        print(
            "trainer: model \(c.trainer.model), refit \(c.trainer.refit), epochs \(c.trainer.epochs), "
                + (c.trainer.modelSettings.map { "dim \($0.dim), learning rate \($0.learningRate), " } ?? "")
                + "holdout \(c.trainer.holdoutFraction), seeds \(seeds.map(String.init).joined(separator: ","))"
        )
        print("lists:   target \(target), exclude consumed \(c.publisher.excludeConsumed), reshow auxiliary \(c.publisher.reshowAuxiliary)")
        var runs: [Run] = []
        for (n, s) in seeds.enumerated() {
            c.trainer.seed = s
            c.store.path =
                store.map { seeds.count == 1 ? $0 : "\($0).seed\(s)" }
                ?? temporary!.appendingPathComponent("backtest-\(n).sqlite").path
            let backtest = try Backtest(configuration: c, logger: logger)
            print("seed \(s)")
            print(
                "round  events             users  new users  HR@10   NDCG@10  NegShare@10  aux-only HR@10 (users)  served by       model share  then fine-tune (seconds, peak MiB)"
            )
            var round = 0
            let results = try await backtest.run(events: events, warmupEvents: warm, rounds: rounds, target: target) { r in
                let name = round == 0 ? "warm" : "\(round)"
                round += 1
                print(
                    name.padding(toLength: 6, withPad: " ", startingAt: 0) + " "
                        + "\(r.firstEvent)..<\(r.endEvent)".padding(toLength: 18, withPad: " ", startingAt: 0)
                        + String(
                            format: " %5d  %9d  %.4f  %.4f   %.4f     %.4f (%5d)         ",
                            r.users,
                            r.newUsers,
                            r.hr10,
                            r.ndcg10,
                            r.negShare10,
                            r.auxOnlyHR10,
                            r.auxOnlyUsers
                        )
                        + r.servedBy.padding(toLength: 15, withPad: " ", startingAt: 0)
                        + String(format: " %11.2f  ", r.modelShare) + r.fineTune
                        + String(format: " (%.1f s, %.0f MiB)", r.fineTuneSeconds, r.peakMemoryMB)
                )
            }
            let run = Run(seed: s, rounds: results)
            print(
                String(
                    format: "seed %d, all rounds: %d lists scored, HR@10 %.4f, NDCG@10 %.4f, NegShare@10 %.4f (%d lists), "
                        + "aux-only HR@10 %.4f NDCG@10 %.4f (%d), fine-tune median %.1f s, peak %.0f MiB",
                    s,
                    run.users,
                    run.hr10,
                    run.ndcg10,
                    run.negShare10,
                    run.negLists,
                    run.auxOnlyHR10,
                    run.auxOnlyNDCG10,
                    run.auxOnlyUsers,
                    run.fineTuneSecondsMedian,
                    run.peakMemoryMB
                )
            )
            runs.append(run)
        }
        func ms(_ f: (Run) -> Double) -> (Double, Double) {
            let xs = runs.map(f), m = xs.reduce(0, +) / Double(xs.count)
            return (m, xs.count > 1 ? (xs.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(xs.count - 1)).squareRoot() : 0)
        }
        let hr = ms(\.hr10), ndcg = ms(\.ndcg10), neg = ms(\.negShare10), auxHR = ms(\.auxOnlyHR10), auxNDCG = ms(\.auxOnlyNDCG10)
        print(
            "\(c.trainer.model) over seeds \(seeds.map(String.init).joined(separator: ",")) (target \(target)): "
                + String(
                    format: "HR@10 %.4f ± %.4f, NDCG@10 %.4f ± %.4f, NegShare@10 %.4f ± %.4f, aux-only HR@10 %.4f ± %.4f NDCG@10 %.4f ± %.4f",
                    hr.0,
                    hr.1,
                    ndcg.0,
                    ndcg.1,
                    neg.0,
                    neg.1,
                    auxHR.0,
                    auxHR.1,
                    auxNDCG.0,
                    auxNDCG.1
                )
        )
        if let json {
            struct Summary: Encodable { var mean: Double, std: Double }
            struct Output: Encodable {
                var command: String, machine: String, data: String, model: String, refit: Bool, target: String
                var warmupEvents: Int, seeds: [Int], runs: [Run]
                var hr10: Summary, ndcg10: Summary, negShare10: Summary, auxOnlyHR10: Summary, auxOnlyNDCG10: Summary
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            func summary(_ p: (Double, Double)) -> Summary { Summary(mean: p.0, std: p.1) }
            let out = Output(
                command: CommandLine.arguments.joined(separator: " "),
                machine: Machine.summary,
                data: data,
                model: c.trainer.model,
                refit: c.trainer.refit,
                target: target.description,
                warmupEvents: warm,
                seeds: seeds,
                runs: runs,
                hr10: summary(hr),
                ndcg10: summary(ndcg),
                negShare10: summary(neg),
                auxOnlyHR10: summary(auxHR),
                auxOnlyNDCG10: summary(auxNDCG)
            )
            try encoder.encode(out).write(to: URL(fileURLWithPath: json))
            print("wrote \(json)")
        }
    }
}
