import ArgumentParser
import Foundation
import TacitData
import TacitEval
import TacitModels
import TacitTensor

/// `tacit inspect …`: what a model has learned, for people to look at.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what a model learns.",
        subcommands: [Hesitation.self]
    )

    /// HNT's hesitation set for one user: the items they touched only with auxiliary behaviors,
    /// with the conversion probability HNT's scorer gives each (eq. 7) and whether it is in the
    /// hesitation set (eq. 9).
    struct Hesitation: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train HNT on a dataset and list one user's hesitation items with their conversion scores.",
            discussion: """
                HNT is trained on all of the dataset's interactions (no split) for --epochs epochs with the \
                given seed, so the same command prints the same list. Items are the user's auxiliary-only \
                items (viewed, faved or carted, never bought), most likely to convert first.
                """
        )

        @Option(help: "Dataset (see `tacit eval --help`).")
        var data: String = "retail-rocket"

        @Option(help: "User id as the dataset spells it.")
        var user: String

        @OptionGroup var modelOptions: ModelOptions

        @Option(help: "Training epochs before inspecting.")
        var epochs: Int = 20

        @Option(help: "Seed.")
        var seed: UInt64 = 2024

        @Option(help: "Show at most this many items (0 = all).")
        var top: Int = 20

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        func run() throws {
            Compute.configure(threads: modelOptions.threads)
            let dataset = try DatasetLoader.load(data)
            guard let u = dataset.users.lookup(user) else {
                throw ValidationError("user '\(user)' is not in \(data) (\(dataset.userCount) users)")
            }
            guard !dataset.taxonomy.auxiliaryCodes.isEmpty else {
                throw ValidationError("\(data) has no auxiliary behaviors: HNT's hesitation set needs them")
            }
            let train = TrainingSet(
                userCount: dataset.userCount,
                itemCount: dataset.itemCount,
                taxonomy: dataset.taxonomy,
                interactions: dataset.interactions
            )
            let model = HNT(train: train, settings: try modelOptions.hntSettings(seed: seed))
            var rng = SeededRNG(seed: seed)
            for epoch in 1...max(1, epochs) {
                let loss = model.trainEpoch(rng: &rng)
                if !json { print(String(format: "epoch %3d  loss %.5f", epoch, loss)) }
            }
            // What the user did to each item, for the reader to judge the scores by.
            var behaviors: [Int32: [String: Int]] = [:]
            for e in dataset.interactions where e.user == u {
                behaviors[e.item, default: [:]][dataset.taxonomy.behaviors[Int(e.behavior)], default: 0] += 1
            }
            var rows = model.hesitation(user: u)
            if top > 0 { rows = Array(rows.prefix(top)) }
            if json {
                let out = rows.map { r -> [String: Any] in
                    [
                        "item": dataset.items[r.item], "probability": Double(r.probability), "hesitant": r.hesitant,
                        "behaviors": behaviors[r.item] ?? [:],
                    ]
                }
                let doc: [String: Any] = [
                    "user": user, "data": data, "seed": seed, "epochs": epochs, "mu": Double(modelOptions.mu),
                    "items": out,
                ]
                let bytes = try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: bytes, as: UTF8.self))
                return
            }
            print(
                "user \(user): \(rows.count) auxiliary-only items shown; hesitation set = top \(modelOptions.mu) share of all users' auxiliary-only pairs"
            )
            print("item        p(convert)  hesitant  behaviors")
            for r in rows {
                let b = (behaviors[r.item] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " ")
                let id = dataset.items[r.item]
                print(
                    id.padding(toLength: max(10, id.count), withPad: " ", startingAt: 0)
                        + String(format: "  %.4f      %@  %@", r.probability, r.hesitant ? "yes     " : "no      ", b)
                )
            }
        }
    }
}
