import ArgumentParser
import Foundation
import TacitData
import TacitEval
import TacitModels
import TacitTensor

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Train a model, pick its epoch on validation, report test metrics once.",
        discussion: """
            Protocols: full (RecBole general: ratings ≥ 3, 10-core, random 8:1:1, full ranking), sampled99 (HNT: \
            leave-one-out on the target behavior, 99 sampled negatives), leave-last-10 (EmoRec), sequential \
            (RecBole sequential: leave-one-out in time order, full ranking), skips (SINE reference code).
            """
    )

    @Option(help: "Dataset: ml-100k, ml-1m, retail-rocket, tmall, or a path (folder with train.tsv, .inter, .jsonl, .tsv).")
    var data: String = "ml-100k"

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Watch-time events: the watched share of duration_ms from which a watch is positive.")
    var watchPositive: Double = WatchThresholds().positiveFraction

    @Option(help: "Watch-time events: a watch shorter than this (ms) is a skip.")
    var skipBelowMs: Int64 = WatchThresholds().skipBelowMs

    @Option(name: .customLong("protocol"), help: "Evaluation protocol: \(EvaluationProtocol.allCases.map(\.rawValue).joined(separator: ", ")).")
    var protocolName: String = "full"

    @Option(help: "Maximum training epochs.")
    var epochs: Int = 100

    @Option(help: "Validate every N epochs.")
    var evalEvery: Int = 1

    @Option(help: "Stop after this many validations without improvement (0 = never).")
    var patience: Int = 10

    @Option(help: "Seed(s), comma-separated; several seeds report mean ± std.")
    var seed: String = "2024"

    @Flag(
        help:
            "After choosing the epoch on validation, retrain from scratch on training + validation for that many epochs and test the retrained model (the selected model's test metrics stay in the JSON as refit.selected_metrics)."
    )
    var refit = false

    @Option(help: "Write the result as JSON to this file.")
    var json: String?

    @Flag(help: "Print only the final table.")
    var quiet = false

    func validate() throws {
        _ = try ArgumentValues.evaluationProtocol(protocolName)
        _ = try ArgumentValues.seeds(seed)
        guard epochs >= 0, patience >= 0 else { throw ValidationError("--epochs and --patience must be ≥ 0") }
        guard evalEvery >= 1 else { throw ValidationError("--eval-every must be ≥ 1") }
        guard watchPositive > 0, watchPositive <= 1 else { throw ValidationError("--watch-positive must be in (0, 1]") }
        guard skipBelowMs >= 0 else { throw ValidationError("--skip-below-ms must be ≥ 0") }
    }

    func run() throws {
        let proto = try ArgumentValues.evaluationProtocol(protocolName)
        let seeds = try ArgumentValues.seeds(seed)
        Compute.configure(threads: modelOptions.threads)
        let command = CommandLine.arguments.joined(separator: " ")
        say("command: \(command)")
        say("machine: \(Machine.summary); threads \(Compute.threads)")
        let dataset = try DatasetLoader.load(data, watch: WatchThresholds(positiveFraction: watchPositive, skipBelowMs: skipBelowMs))
        say("loaded:  \(dataset.summary)")

        var results: [ExperimentResult] = []
        for s in seeds {
            let split = proto.split(dataset, seed: s)
            say(
                "split:   \(proto.rawValue), seed \(s): \(split.train.interactions.count) train interactions, "
                    + "\(split.validationUsers.count) validation users, \(split.testUsers.count) test users; \(split.dataset.summary)"
            )
            guard !split.testUsers.isEmpty, !split.train.interactions.isEmpty else {
                throw ValidationError("protocol \(proto.rawValue) leaves no test users or no training data on \(data)")
            }
            let model = try modelOptions.makeModel(train: split.train, seed: s)
            let epochs = model.parameters.isEmpty ? 0 : epochs
            let result = Experiment.run(
                model: model,
                split: split,
                protocol: proto,
                plan: TrainingPlan(epochs: epochs, evalEvery: evalEvery, patience: patience, seed: s),
                dataName: data,
                settings: modelOptions.description
            ) { r in
                let v = r.validation.map { String(format: "  valid %@ %.4f%@", proto.selectionMetric, $0, r.isBest ? " *" : "") } ?? ""
                say(String(format: "epoch %3d  loss %.5f  %.2fs", r.epoch, r.loss, r.seconds) + v)
            }
            say("best epoch \(result.bestEpoch) of \(result.epochs); \(String(format: "%.2f", result.secondsPerEpoch)) s/epoch")
            guard refit else {
                results.append(result)
                continue
            }
            let selected = result.metrics
            say(
                String(
                    format: "selected model on test: HR@10 %.4f, NDCG@10 %.4f",
                    selected["HR@10"] ?? 0,
                    selected["NDCG@10"] ?? 0
                )
            )
            let refitSplit = split.withValidationInTraining()
            say("refit:   \(result.bestEpoch) epochs on \(refitSplit.train.interactions.count) interactions (training + validation)")
            let refitted = Experiment.refit(
                result,
                model: try modelOptions.makeModel(train: refitSplit.train, seed: s),
                split: refitSplit,
                protocol: proto
            ) { r in
                say(String(format: "refit %3d  loss %.5f  %.2fs", r.epoch, r.loss, r.seconds))
            }
            results.append(refitted)
        }
        print(ResultTable.render(results))
        if let json {
            try ResultTable.json(results).write(to: URL(fileURLWithPath: json))
            print("wrote \(json)")
        }
    }

    func say(_ s: String) {
        if !quiet { print(s) }
    }
}
