import ArgumentParser
import Foundation
import TacitData
import TacitEval
import TacitModels
import TacitTensor

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time training epochs and split the time by op kind (BLAS vs the rest).",
        discussion: "Prints the command, machine, data and the median of the timed epochs. Never asserted on in tests."
    )

    @Option(help: "Dataset (see `tacit eval --help`).")
    var data: String = "ml-1m"

    @Option(name: .customLong("protocol"), help: "Protocol whose training split is used.")
    var protocolName: String = "full"

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Timed epochs (after one warm-up epoch); 0 times inference only.")
    var runs: Int = 5

    @Option(help: "Seed.")
    var seed: UInt64 = 2024

    @Option(help: "Users timed one at a time for the inference cost (score all items + top 10; 0 = skip).")
    var inferenceUsers: Int = 500

    @Option(help: "Write the result as JSON to this file.")
    var json: String?

    func validate() throws {
        _ = try ArgumentValues.evaluationProtocol(protocolName)
        guard runs >= 0, inferenceUsers >= 0 else { throw ValidationError("--runs and --inference-users must be ≥ 0") }
    }

    func run() throws {
        let proto = try ArgumentValues.evaluationProtocol(protocolName)
        Compute.configure(threads: modelOptions.threads)
        print("command: \(CommandLine.arguments.joined(separator: " "))")
        print("machine: \(Machine.summary); threads \(Compute.threads)")
        let split = proto.split(try DatasetLoader.load(data), seed: seed)
        print("data:    \(split.dataset.summary); \(split.train.target.nonZeros) training pairs")
        let model = try modelOptions.makeModel(train: split.train, seed: seed)
        if runs == 0 {
            // Inference only: an untrained model costs the same to run as a trained one.
            if let inference = inferenceCost(model, split: split) { report(inference, model) }
            return
        }
        var rng = SeededRNG(seed: seed)
        let clock = ContinuousClock()
        let warm = clock.now
        _ = model.trainEpoch(rng: &rng)
        print(String(format: "warm-up epoch: %.3f s", (clock.now - warm).seconds))
        Profiler.reset()
        Profiler.enable(true)
        var times: [Double] = []
        for r in 1...runs {
            let t = clock.now
            let loss = model.trainEpoch(rng: &rng)
            times.append((clock.now - t).seconds)
            print(String(format: "epoch %d: %.3f s  loss %.5f", r, times.last!, loss))
        }
        Profiler.enable(false)
        let profile = Profiler.snapshot()
        let total = times.reduce(0, +)
        let median = times.sorted()[times.count / 2]
        print(
            String(
                format: "median s/epoch over %d epochs: %.3f (min %.3f, max %.3f)",
                times.count,
                median,
                times.min()!,
                times.max()!
            )
        )
        print("time by op kind (share of all timed epochs):")
        var accounted = 0.0
        for (cat, s) in profile.sorted(by: { $0.value > $1.value }) {
            accounted += s
            print(String(format: "  %-14@ %7.3f s  %5.1f%%", cat.rawValue, s, 100 * s / total))
        }
        print(String(format: "  %-14@ %7.3f s  %5.1f%%", "unattributed", total - accounted, 100 * (total - accounted) / total))
        print(String(format: "BLAS share: %.1f%%", 100 * (profile[.blas] ?? 0) / total))
        let inference = inferenceCost(model, split: split)
        if let inference { report(inference, model) }
        if let json {
            let doc: [String: Any] = [
                "model": modelOptions.model, "data": data, "protocol": proto.rawValue, "seed": seed,
                "epoch_seconds": times, "median_seconds_per_epoch": median, "machine": Machine.summary,
                "threads": Compute.threads, "settings": modelOptions.description,
                "profile_seconds": Dictionary(uniqueKeysWithValues: profile.map { ($0.key.rawValue, $0.value) }),
                "inference_p50_ms": (inference?.p50 ?? 0) * 1000, "inference_p99_ms": (inference?.p99 ?? 0) * 1000,
                "inference_users": inference?.users ?? 0,
            ]
            try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: json))
        }
    }

    /// Seconds to serve one user as the daemon does (a sequential model re-encodes the user's whole
    /// training history), over the first `inferenceUsers` users with training data: (p50, p99).
    func inferenceCost(_ model: Recommender, split: Split) -> (p50: Double, p99: Double, users: Int)? {
        guard inferenceUsers > 0 else { return nil }
        let histories = split.train.histories()
        let users = histories.indices.filter { !histories[$0].isEmpty }.prefix(inferenceUsers)
        guard !users.isEmpty else { return nil }
        let clock = ContinuousClock()
        var times: [Double] = []
        for u in users {
            let t = clock.now
            let scores = (model as? SequenceRecommender)?.scores(histories: [histories[u]]) ?? model.scores(users: [Int32(u)])
            _ = scores.withUnsafeBufferPointer { Metrics.topK($0, k: 10, excluded: { _ in false }) }
            times.append((clock.now - t).seconds)
        }
        times.sort()
        return (times[times.count / 2], times[min(times.count - 1, Int(Double(times.count) * 0.99))], times.count)
    }

    func report(_ inference: (p50: Double, p99: Double, users: Int), _ model: Recommender) {
        print(
            String(
                format: "inference, one user at a time (%@; %d users): p50 %.3f ms, p99 %.3f ms",
                model is SequenceRecommender ? "re-encode the history, score all items, top 10" : "score all items, top 10",
                inference.users,
                inference.p50 * 1000,
                inference.p99 * 1000
            )
        )
    }
}
