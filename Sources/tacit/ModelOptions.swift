import ArgumentParser
import TacitData
import TacitEval
import TacitModels
import TacitTensor

/// Options shared by the commands that build a model.
struct ModelOptions: ParsableArguments {
    @Option(help: "Model: \(ModelFactory.names.joined(separator: ", ")).")
    var model: String = "lightgcn"

    @Option(help: "Embedding size d.")
    var dim: Int = 64

    @Option(help: "Graph propagation layers (graph models).")
    var layers: Int = 3

    @Option(name: .customLong("lr"), help: "Adam learning rate.")
    var learningRate: Float = 1e-3

    @Option(help: "Training pairs per step.")
    var batchSize: Int = 2048

    @Option(help: "L2 penalty on the embeddings a batch touches.")
    var l2: Float = 1e-4

    @Option(help: "HNT ablation: \(HNT.Settings.ablations.joined(separator: ", ")).")
    var ablation: String = "full"

    @Option(help: "HNT attention heads (must divide --dim).")
    var heads: Int = HNT.Settings().heads

    @Option(help: "HNT μ: share of auxiliary-only pairs taken into the hesitation set.")
    var mu: Float = HNT.Settings().mu

    @Option(help: "HNT β: BPR weight of a hesitation pair.")
    var beta: Float = HNT.Settings().beta

    @Flag(inversion: .prefixedNo, help: "HNT: hesitation pairs also become β-weighted edges of the target graph.")
    var hesitationEdges = true

    @Flag(inversion: .prefixedNo, help: "HNT: attention transfer from auxiliary behaviors into the target (eqs. 10–16).")
    var transfer = true

    @Option(help: "HNT λ1 (hesitation module loss).")
    var lambda1: Float = HNT.Settings().lambda1

    @Option(help: "HNT λ2 (contrastive alignment loss).")
    var lambda2: Float = HNT.Settings().lambda2

    @Option(help: "HNT InfoNCE temperature τ.")
    var tau: Float = HNT.Settings().temperature

    @Option(help: "Threads for our kernels and OpenBLAS (0 = all cores).")
    var threads: Int = 0

    func settings(seed: UInt64) -> EmbeddingSettings {
        EmbeddingSettings(dim: dim, learningRate: learningRate, batchSize: batchSize, l2: l2, layers: layers, seed: seed)
    }

    /// The model these options describe, over `train`.
    func makeModel(train: TrainingSet, seed: UInt64) throws -> Recommender {
        try ModelFactory.make(model, train: train, settings: settings(seed: seed), hnt: hntSettings(seed: seed))
    }

    func hntSettings(seed: UInt64) throws -> HNT.Settings {
        var h = HNT.Settings()
        h.embedding = settings(seed: seed)
        h.heads = heads
        h.mu = mu
        h.beta = beta
        h.lambda1 = lambda1
        h.lambda2 = lambda2
        h.temperature = tau
        h.hesitationEdges = hesitationEdges
        h.transfer = transfer
        try h.apply(ablation: ablation)
        return h
    }

    var description: [String: String] {
        var d = ["dim": "\(dim)", "layers": "\(layers)", "lr": "\(learningRate)", "batch_size": "\(batchSize)", "l2": "\(l2)",
                 "threads": "\(Compute.threads)"]
        if model == "hnt" {
            d.merge(["ablation": ablation, "heads": "\(heads)", "mu": "\(mu)", "beta": "\(beta)", "lambda1": "\(lambda1)",
                     "lambda2": "\(lambda2)", "tau": "\(tau)",
                     "hesitation_edges": "\(hesitationEdges)", "transfer": "\(transfer)"]) { $1 }
        }
        return d
    }

    func validate() throws {
        guard dim > 0 else { throw ValidationError("--dim must be positive") }
        guard layers >= 0 else { throw ValidationError("--layers must be ≥ 0") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        guard learningRate > 0 else { throw ValidationError("--lr must be positive") }
        guard heads > 0, dim % heads == 0 else { throw ValidationError("--heads must be positive and divide --dim (\(dim))") }
        guard mu >= 0, mu <= 1 else { throw ValidationError("--mu must be in [0, 1]") }
        guard HNT.Settings.ablations.contains(ablation) else {
            throw ValidationError("unknown --ablation '\(ablation)': choose one of \(HNT.Settings.ablations.joined(separator: ", "))")
        }
    }
}
