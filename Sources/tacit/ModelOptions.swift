import ArgumentParser
import TacitModels
import TacitTensor

/// Options shared by the commands that build a model.
struct ModelOptions: ParsableArguments {
    @Option(help: "Model: popularity, bpr, lightgcn.")
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

    @Option(help: "Threads for our kernels and OpenBLAS (0 = all cores).")
    var threads: Int = 0

    func settings(seed: UInt64) -> EmbeddingSettings {
        EmbeddingSettings(dim: dim, learningRate: learningRate, batchSize: batchSize, l2: l2, layers: layers, seed: seed)
    }

    var description: [String: String] {
        ["dim": "\(dim)", "layers": "\(layers)", "lr": "\(learningRate)", "batch_size": "\(batchSize)", "l2": "\(l2)",
         "threads": "\(Compute.threads)"]
    }

    func validate() throws {
        guard dim > 0 else { throw ValidationError("--dim must be positive") }
        guard layers >= 0 else { throw ValidationError("--layers must be ≥ 0") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        guard learningRate > 0 else { throw ValidationError("--lr must be positive") }
    }
}
