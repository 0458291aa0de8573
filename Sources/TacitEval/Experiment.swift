import Foundation
import TacitData
import TacitModels
import TacitTensor

/// How long to train and how to pick the epoch that is reported.
public struct TrainingPlan: Sendable {
    /// Maximum epochs.
    public var epochs: Int
    /// Validate every this many epochs.
    public var evalEvery: Int
    /// Stop after this many validations without improvement (0 = never stop early).
    public var patience: Int
    public var seed: UInt64

    public init(epochs: Int, evalEvery: Int = 1, patience: Int = 10, seed: UInt64 = 2024) {
        self.epochs = epochs
        self.evalEvery = evalEvery
        self.patience = patience
        self.seed = seed
    }
}

/// One line of training progress.
public struct EpochReport: Sendable {
    public var epoch: Int
    public var loss: Float
    public var seconds: Double
    /// Validation metric used for selection, when this epoch was validated.
    public var validation: Double?
    public var isBest: Bool
}

/// The outcome of a train → select → test run; encodes as the `--json` document of `tacit eval`.
public struct ExperimentResult: Codable, Sendable {
    public var model: String
    public var data: String
    public var `protocol`: String
    public var seed: UInt64
    public var epochs: Int
    public var bestEpoch: Int
    public var selectionMetric: String
    public var metrics: [String: Double]
    public var validationMetrics: [String: Double]
    public var trainSeconds: Double
    public var secondsPerEpoch: Double
    public var dataset: String
    public var settings: [String: String]
    /// Set when the selected configuration was retrained on training + validation before the test
    /// (`tacit eval --refit`); `metrics` are then the refitted model's.
    public var refit: Refit?

    public struct Refit: Codable, Sendable {
        /// Epochs retrained: the selected (best validation) epoch.
        public var epochs: Int
        public var trainSeconds: Double
        /// Training interactions of the refit (training + validation events and their pairs).
        public var trainInteractions: Int
        /// The test metrics of the selected model itself, before the refit.
        public var selectedMetrics: [String: Double]

        enum CodingKeys: String, CodingKey {
            case epochs
            case trainSeconds = "train_seconds"
            case trainInteractions = "train_interactions"
            case selectedMetrics = "selected_metrics"
        }
    }

    enum CodingKeys: String, CodingKey {
        case model, data, `protocol`, seed, epochs, metrics, settings, dataset, refit
        case bestEpoch = "best_epoch"
        case selectionMetric = "selection_metric"
        case validationMetrics = "validation_metrics"
        case trainSeconds = "train_seconds"
        case secondsPerEpoch = "seconds_per_epoch"
    }
}

/// Train with validation-based model selection, then test once (issue 3: "Model selection on
/// validation, test reported once").
public enum Experiment {
    public static func run(
        model: Recommender,
        split: Split,
        protocol proto: EvaluationProtocol,
        plan: TrainingPlan,
        dataName: String,
        settings: [String: String] = [:],
        ks: [Int] = [5, 10, 20],
        progress: (EpochReport) -> Void = { _ in }
    ) -> ExperimentResult {
        let evaluator = Evaluator(split: split, protocol: proto, ks: ks)
        let metric = proto.selectionMetric
        var rng = SeededRNG(seed: plan.seed)
        var best: (epoch: Int, value: Double, params: [[Float]])? = nil
        var sinceBest = 0
        var trainSeconds = 0.0
        var epochsRun = 0
        let hasValidation = !split.validationUsers.isEmpty
        let clock = ContinuousClock()
        for epoch in 1...max(plan.epochs, 1) where plan.epochs > 0 {
            let start = clock.now
            let loss = model.trainEpoch(rng: &rng)
            let seconds = (clock.now - start).seconds
            trainSeconds += seconds
            epochsRun = epoch
            var report = EpochReport(epoch: epoch, loss: loss, seconds: seconds, validation: nil, isBest: false)
            if hasValidation && (epoch % plan.evalEvery == 0 || epoch == plan.epochs) {
                let value = evaluator.evaluate(model, on: .validation)[metric] ?? 0
                report.validation = value
                if best == nil || value > best!.value {
                    best = (epoch, value, model.snapshot())
                    report.isBest = true
                    sinceBest = 0
                } else {
                    sinceBest += 1
                }
            }
            progress(report)
            if plan.patience > 0 && sinceBest >= plan.patience { break }
        }
        if let best { model.restore(best.params) }
        let validation = hasValidation ? evaluator.evaluate(model, on: .validation) : [:]
        let test = evaluator.evaluate(model, on: .test)
        return ExperimentResult(
            model: model.name,
            data: dataName,
            protocol: proto.rawValue,
            seed: plan.seed,
            epochs: epochsRun,
            bestEpoch: best?.epoch ?? epochsRun,
            selectionMetric: metric,
            metrics: test,
            validationMetrics: validation,
            trainSeconds: trainSeconds,
            secondsPerEpoch: epochsRun > 0 ? trainSeconds / Double(epochsRun) : 0,
            dataset: split.dataset.summary,
            settings: settings
        )
    }
}

extension Experiment {
    /// Retrains `model` — fresh, built on `split.train`, where `split` is the selection run's split
    /// `withValidationInTraining()` — for the epochs `selected` chose on validation, with the same
    /// seed, and tests it once on the same test. Selection stays on validation; only the final
    /// model also learns from the validation events, as a model put into service would.
    public static func refit(
        _ selected: ExperimentResult,
        model: Recommender,
        split: Split,
        protocol proto: EvaluationProtocol,
        ks: [Int] = [5, 10, 20],
        progress: (EpochReport) -> Void = { _ in }
    ) -> ExperimentResult {
        precondition(split.validationUsers.isEmpty, "refit on a split without validation")
        // Without validation, `run` trains every planned epoch and tests the last one.
        let epochs = model.parameters.isEmpty ? 0 : selected.bestEpoch
        let retrained = run(
            model: model,
            split: split,
            protocol: proto,
            plan: TrainingPlan(epochs: epochs, patience: 0, seed: selected.seed),
            dataName: selected.data,
            ks: ks,
            progress: progress
        )
        var result = selected
        result.refit = .init(
            epochs: epochs,
            trainSeconds: retrained.trainSeconds,
            trainInteractions: split.train.interactions.count,
            selectedMetrics: selected.metrics
        )
        result.metrics = retrained.metrics
        return result
    }
}

extension Duration {
    /// This duration in seconds.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
