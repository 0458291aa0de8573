import ArgumentParser
import Foundation
import TacitData
import TacitEval
import TacitModels
import TacitTensor

/// Options shared by the commands that build a model.
struct ModelOptions: ParsableArguments {
    /// `--model` names: every `ModelKind`, and the variants `popularity-all` (counts of any behavior)
    /// and `sasrec-n` (SASRec with skips as negatives).
    static let names = ["popularity", "popularity-all", "bpr", "lightgcn", "hnt", "sasrec", "sasrec-n", "sine", "emorec"]
    /// Older spellings still accepted.
    static let aliases = ["pop": "popularity", "bprmf": "bpr"]

    @Option(help: "Model: \(ModelOptions.names.joined(separator: ", ")).")
    var model: String = "lightgcn"

    @Option(help: "Embedding size d (default 64; sine 50).")
    var dim: Int?

    @Option(help: "Graph propagation layers (graph models; default 3, emorec 2).")
    var layers: Int?

    @Option(name: .customLong("lr"), help: "Adam learning rate.")
    var learningRate: Float = 1e-3

    @Option(help: "Training pairs per step (default 2048); sequences per step for sasrec, sasrec-n (default 32) and sine (default 128).")
    var batchSize: Int?

    @Option(help: "L2 penalty on the embeddings a batch touches.")
    var l2: Float = 1e-4

    @Option(
        help:
            "Ablation. hnt: \(HNT.Settings.ablations.joined(separator: ", ")); sine: \(SINE.Ablation.allCases.map(\.rawValue).joined(separator: ", "))."
    )
    var ablation: String = "full"

    @Option(help: "Attention heads, must divide --dim (default: hnt \(HNT.Settings().heads), sasrec 2, sine 1).")
    var heads: Int?

    @Option(help: "HNT μ: share of auxiliary-only pairs taken into the hesitation set.")
    var mu: Float = HNT.Settings().mu

    @Option(help: "HNT β: BPR weight of a hesitation pair.")
    var beta: Float = HNT.Settings().beta

    @Option(help: "HNT: compute the hesitation module's losses on every N-th step only, weighted N·λ1 (1: every step, the paper's).")
    var hesitationEvery: Int = HNT.Settings().hesitationEvery

    @Flag(inversion: .prefixedNo, help: "HNT: hesitation pairs also become β-weighted edges of the target graph.")
    var hesitationEdges = true

    @Flag(help: "HNT: final embeddings are the mean of the layers, as LightGCN's (default: their sum, eq. 17).")
    var averageLayers = false

    @Flag(inversion: .prefixedNo, help: "HNT: attention transfer from auxiliary behaviors into the target (eqs. 10–16).")
    var transfer = true

    @Option(help: "HNT λ1 (hesitation module loss).")
    var lambda1: Float = HNT.Settings().lambda1

    @Option(help: "HNT λ2 (contrastive alignment loss).")
    var lambda2: Float = HNT.Settings().lambda2

    @Option(help: "HNT InfoNCE temperature τ.")
    var tau: Float = HNT.Settings().temperature

    @Option(help: "Sequential models: longest history encoded (default: sasrec 50, sine 200).")
    var maxLen: Int?

    @Option(help: "Sequential models: Transformer blocks.")
    var blocks: Int = 2

    @Option(help: "Sequential models: feed-forward inner size (default: sasrec 4·d, sine d).")
    var inner: Int?

    @Option(help: "Sequential models: dropout (default 0.5; emorec's THP 0.2).")
    var dropout: Float?

    @Option(
        help:
            "Sequential models: training windows end this many positions apart; below --max-len every target sees that much more context (default: --max-len, disjoint windows)."
    )
    var windowStride: Int?

    @Option(
        help:
            "sasrec, sasrec-n: loss, ce (softmax over all items) or bpr (one sampled negative); emorec's THP variants: the same choice (default bpr, the paper's)."
    )
    var loss: String?

    @Option(help: "sine: sub-interest prototypes K.")
    var prototypes: Int = SINE.Settings().prototypes

    @Flag(inversion: .prefixedNo, help: "sine: β-weighted attention (eqs. 8–9), without label leakage.")
    var betaAttention = SINE.Settings().betaAttention

    @Option(help: "sine: β₁, attention weight within a sub-interest (others 1 − β₁).")
    var beta1: Float = SINE.Settings().beta1

    @Option(help: "sine: λ₂, weight of the observed-skip BPR pairs.")
    var skipWeight: Float = SINE.Settings().skipWeight

    @Option(help: "sine: λ₃, weight of the prototypes' distance correlation.")
    var dcorWeight: Float = SINE.Settings().dcorWeight

    @Option(help: "emorec: the paper's variant, \(EmoRec.Variant.allCases.map(\.paperName).joined(separator: ", ")) (any case).")
    var variant: String = EmoRec.Variant.diffGATTHPExtraTask.paperName

    @Option(help: "emorec: which training events are BPR positives, all, positive (ratings ≥ 4 / positive kinds) or explicit (5 / like).")
    var bprPositives: String = EmoRec.Positives.all.rawValue

    @Option(help: "emorec +extra_task: weight of the next-interaction polarity cross-entropy.")
    var polarityWeight: Float = EmoRec.Settings().polarityWeight

    @Option(help: "emorec: λ_decay of the Hawkes attention kernel, per day (initial value when learnable).")
    var decay: Float = HawkesEncoder.Settings().decayPerDay

    @Flag(inversion: .prefixedNo, help: "emorec: learn λ_decay.")
    var learnableDecay = true

    @Option(help: "emorec: W of the positional window decay exp(−|i − j| / W).")
    var decayWindow: Float = HawkesEncoder.Settings().window

    @Option(help: "emorec: dropout on the graph layers.")
    var graphDropout: Float = EmoRec.Settings().graphDropout

    @Option(help: "Threads for our kernels and OpenBLAS (0 = all cores).")
    var threads: Int = 0

    var isSequential: Bool { ["sasrec", "sasrec-n", "sine"].contains(model) }
    var lossValue: String { loss ?? (model == "emorec" ? "bpr" : "ce") }
    var layersValue: Int { layers ?? (model == "emorec" ? 2 : 3) }
    var dropoutValue: Float { dropout ?? (model == "emorec" ? 0.2 : 0.5) }
    var variantValue: EmoRec.Variant? { EmoRec.Variant(name: variant) }
    var dimValue: Int { dim ?? (model == "sine" ? SINE.Settings().transformer.dim : 64) }
    var headsValue: Int { heads ?? (model == "hnt" ? HNT.Settings().heads : model == "sine" ? 1 : 2) }
    /// SASRec: 32 sequences per step (about RecBole's 2048 targets per step; 128 took twice the epochs on
    /// ML-100k); SINE: its reference code's 128.
    /// EmoRec: 128 windows per step with the THP, 4096 pairs without.
    var batchValue: Int {
        if let batchSize { return batchSize }
        if model == "emorec" { return variantValue?.sequence ?? true ? EmoRec.Settings().windowBatch : EmoRec.Settings().pairBatch }
        return model == "sine" ? 128 : isSequential ? 32 : 2048
    }
    var maxLenValue: Int { maxLen ?? (model == "sine" ? SINE.Settings().transformer.maxLength : 50) }
    var innerValue: Int { inner ?? (model == "sine" ? dimValue : 4 * dimValue) }

    func settings(seed: UInt64) -> EmbeddingSettings {
        EmbeddingSettings(dim: dimValue, learningRate: learningRate, batchSize: batchValue, l2: l2, layers: layersValue, seed: seed)
    }

    /// `--model` with its alias resolved.
    var modelName: String { Self.aliases[model] ?? model }

    /// The model these options describe (`validate()` has accepted `--model`).
    func modelSettings(seed: UInt64) throws -> ModelSettings {
        switch modelName {
        case "popularity", "popularity-all": return .popularity(allBehaviors: modelName == "popularity-all")
        case "bpr": return .bpr(settings(seed: seed))
        case "lightgcn": return .lightgcn(settings(seed: seed))
        case "hnt": return .hnt(try hntSettings(seed: seed))
        case "sasrec", "sasrec-n":
            var s = sasrecSettings(seed: seed)
            s.skipNegatives = modelName == "sasrec-n"
            return .sasrec(s)
        case "sine": return .sine(sineSettings(seed: seed))
        case "emorec": return .emorec(emorecSettings(seed: seed))
        default: throw ValidationError(Self.unknownModel(model))
        }
    }

    /// The model these options describe, untrained, over `train`.
    func makeModel(train: TrainingSet, seed: UInt64) throws -> any Recommender {
        try modelSettings(seed: seed).build(train: train)
    }

    static func unknownModel(_ name: String) -> String { "unknown model '\(name)': choose one of \(names.joined(separator: ", "))" }

    var transformer: TransformerEncoder.Settings {
        TransformerEncoder.Settings(
            dim: dimValue,
            heads: headsValue,
            blocks: blocks,
            innerSize: innerValue,
            dropout: dropoutValue,
            maxLength: maxLenValue
        )
    }

    func sasrecSettings(seed: UInt64) -> SASRec.Settings {
        SASRec.Settings(
            transformer: transformer,
            loss: SASRec.Loss(rawValue: lossValue) ?? .crossEntropy,
            learningRate: learningRate,
            batchSize: batchValue,
            windowStride: windowStride,
            seed: seed
        )
    }

    func sineSettings(seed: UInt64) -> SINE.Settings {
        var s = SINE.Settings()
        s.transformer = transformer
        s.prototypes = prototypes
        s.ablation = SINE.Ablation(rawValue: ablation) ?? .full
        s.betaAttention = betaAttention
        s.beta1 = beta1
        s.skipWeight = skipWeight
        s.dcorWeight = dcorWeight
        s.learningRate = learningRate
        s.batchSize = batchValue
        s.windowStride = windowStride
        s.seed = seed
        return s
    }

    func emorecSettings(seed: UInt64) -> EmoRec.Settings {
        var s = EmoRec.Settings()
        s.variant = variantValue ?? .diffGATTHPExtraTask
        s.dim = dimValue
        s.graphLayers = layersValue
        s.graphDropout = graphDropout
        s.hawkes.transformer = transformer
        s.hawkes.decayPerDay = decay
        s.hawkes.learnableDecay = learnableDecay
        s.hawkes.window = decayWindow
        s.bprPositives = EmoRec.Positives(rawValue: bprPositives) ?? .all
        s.polarityWeight = polarityWeight
        s.loss = SASRec.Loss(rawValue: lossValue) ?? .bpr
        s.learningRate = learningRate
        s.pairBatch = batchValue
        s.windowBatch = batchValue
        s.seed = seed
        return s
    }

    func hntSettings(seed: UInt64) throws -> HNT.Settings {
        var h = HNT.Settings()
        h.embedding = settings(seed: seed)
        h.heads = headsValue
        h.mu = mu
        h.beta = beta
        h.hesitationEvery = hesitationEvery
        h.lambda1 = lambda1
        h.lambda2 = lambda2
        h.temperature = tau
        h.hesitationEdges = hesitationEdges
        h.averageLayers = averageLayers
        h.transfer = transfer
        if HNT.Settings.ablations.contains(ablation) { try h.apply(ablation: ablation) }
        return h
    }

    var description: [String: String] {
        var d = [
            "dim": "\(dimValue)", "layers": "\(layersValue)", "lr": "\(learningRate)", "batch_size": "\(batchValue)", "l2": "\(l2)",
            "threads": "\(Compute.threads)",
        ]
        if isSequential {
            d = [
                "dim": "\(dimValue)", "heads": "\(headsValue)", "blocks": "\(blocks)", "inner": "\(innerValue)",
                "dropout": "\(dropoutValue)", "max_len": "\(maxLenValue)", "window_stride": "\(windowStride ?? maxLenValue)", "lr": "\(learningRate)",
                "batch_size": "\(batchValue)",
                "threads": "\(Compute.threads)",
            ]
            if model != "sine" { d["loss"] = lossValue }
            if model == "sine" {
                d.merge([
                    "ablation": ablation, "prototypes": "\(prototypes)", "beta_attention": "\(betaAttention)",
                    "beta1": "\(beta1)", "skip_weight": "\(skipWeight)", "dcor_weight": "\(dcorWeight)",
                ]) { $1 }
            }
        }
        if model == "emorec", let v = variantValue {
            d.merge(["variant": v.paperName, "graph_dropout": "\(graphDropout)", "bpr_positives": bprPositives]) { $1 }
            if v.sequence {
                d.merge([
                    "heads": "\(headsValue)", "blocks": "\(blocks)", "inner": "\(innerValue)", "dropout": "\(dropoutValue)",
                    "max_len": "\(maxLenValue)", "decay_per_day": "\(decay)", "learnable_decay": "\(learnableDecay)",
                    "decay_window": "\(decayWindow)", "loss": lossValue,
                ]) { $1 }
            }
            if v.polarityHead { d["polarity_weight"] = "\(polarityWeight)" }
        }
        if model == "hnt" {
            d.merge([
                "ablation": ablation, "heads": "\(headsValue)", "mu": "\(mu)", "beta": "\(beta)", "lambda1": "\(lambda1)",
                "lambda2": "\(lambda2)", "tau": "\(tau)", "hesitation_every": "\(hesitationEvery)",
                "hesitation_edges": "\(hesitationEdges)", "average_layers": "\(averageLayers)", "transfer": "\(transfer)",
            ]) { $1 }
        }
        return d
    }

    /// Every check runs at parse time, before any data is loaded, and names the option at fault.
    func validate() throws {
        guard Self.names.contains(modelName) else { throw ValidationError(Self.unknownModel(model)) }
        guard threads >= 0 else { throw ValidationError("--threads must be ≥ 0 (0 = all cores)") }
        guard l2 >= 0 else { throw ValidationError("--l2 must be ≥ 0") }
        guard dimValue > 0 else { throw ValidationError("--dim must be positive") }
        guard layersValue >= 0 else { throw ValidationError("--layers must be ≥ 0") }
        guard batchValue > 0 else { throw ValidationError("--batch-size must be positive") }
        guard learningRate > 0 else { throw ValidationError("--lr must be positive") }
        guard headsValue > 0, dimValue % headsValue == 0 else { throw ValidationError("--heads must be positive and divide --dim (\(dimValue))") }
        guard mu >= 0, mu <= 1 else { throw ValidationError("--mu must be in [0, 1]") }
        guard hesitationEvery >= 1 else { throw ValidationError("--hesitation-every must be ≥ 1") }
        guard maxLenValue > 0, blocks >= 1, innerValue > 0 else { throw ValidationError("--max-len, --blocks and --inner must be positive") }
        guard dropoutValue >= 0, dropoutValue < 1, graphDropout >= 0, graphDropout < 1 else {
            throw ValidationError("--dropout and --graph-dropout must be in [0, 1)")
        }
        guard SASRec.Loss(rawValue: lossValue) != nil else { throw ValidationError("unknown --loss '\(lossValue)': choose ce or bpr") }
        if let windowStride, windowStride <= 0 { throw ValidationError("--window-stride must be positive") }
        guard prototypes >= 1 else { throw ValidationError("--prototypes must be ≥ 1") }
        guard beta1 >= 0, beta1 <= 1 else { throw ValidationError("--beta1 must be in [0, 1]") }
        guard skipWeight >= 0, dcorWeight >= 0 else { throw ValidationError("--skip-weight and --dcor-weight must be ≥ 0") }
        guard beta >= 0, lambda1 >= 0, lambda2 >= 0 else { throw ValidationError("--beta, --lambda1 and --lambda2 must be ≥ 0") }
        guard tau > 0 else { throw ValidationError("--tau must be positive") }
        if model == "emorec" {
            guard variantValue != nil else {
                throw ValidationError(
                    "unknown --variant '\(variant)': choose one of \(EmoRec.Variant.allCases.map(\.paperName).joined(separator: ", "))"
                )
            }
            guard EmoRec.Positives(rawValue: bprPositives) != nil else {
                throw ValidationError("unknown --bpr-positives '\(bprPositives)': choose all, positive or explicit")
            }
            guard decay >= 0, decayWindow > 0, polarityWeight >= 0 else {
                throw ValidationError("--decay and --polarity-weight must be ≥ 0, --decay-window positive")
            }
            guard learnableDecay == false || decay > 0 else { throw ValidationError("a learnable --decay starts above 0") }
        }
        let ablations = model == "sine" ? SINE.Ablation.allCases.map(\.rawValue) : HNT.Settings.ablations
        guard ablations.contains(ablation) else {
            throw ValidationError("unknown --ablation '\(ablation)' for \(model): choose one of \(ablations.joined(separator: ", "))")
        }
    }
}

/// Option values shared by the commands that evaluate or benchmark, parsed with errors naming the option.
enum ArgumentValues {
    static func evaluationProtocol(_ name: String) throws -> EvaluationProtocol {
        guard let proto = EvaluationProtocol(rawValue: name) else {
            throw ValidationError(
                "unknown --protocol '\(name)': choose one of \(EvaluationProtocol.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        return proto
    }

    /// "1,2,3" → [1, 2, 3].
    static func seeds(_ list: String) throws -> [UInt64] {
        let seeds = try list.split(separator: ",").map { s -> UInt64 in
            guard let v = UInt64(s.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--seed: '\(s)' is not a number") }
            return v
        }
        guard !seeds.isEmpty else { throw ValidationError("--seed needs at least one value") }
        return seeds
    }
}
