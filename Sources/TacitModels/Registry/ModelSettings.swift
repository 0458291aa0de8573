import TacitData

/// One model with its typed settings: the single place a model is built, by `tacit eval`, `tacit bench`,
/// the daemon's trainer and the backtest, and the record a snapshot keeps (`Codable`, as
/// `{"model": kind, "settings": {…}}`) so that serving rebuilds exactly the network it restores into,
/// whatever the configuration says since.
public enum ModelSettings: Sendable, Equatable {
    /// Counts of the target behavior (`allBehaviors`: of any behavior, the multi-behavior floor).
    case popularity(allBehaviors: Bool)
    case bpr(EmbeddingSettings)
    case lightgcn(EmbeddingSettings)
    case hnt(HNT.Settings)
    case sasrec(SASRec.Settings)
    case sine(SINE.Settings)
    case emorec(EmoRec.Settings)

    public var kind: ModelKind {
        switch self {
        case .popularity: .popularity
        case .bpr: .bpr
        case .lightgcn: .lightgcn
        case .hnt: .hnt
        case .sasrec: .sasrec
        case .sine: .sine
        case .emorec: .emorec
        }
    }

    /// The name the built model reports: the kind's, or its variant's (`popularity-all`, `sasrec-n`).
    public var name: String {
        switch self {
        case .popularity(let all): all ? "popularity-all" : "popularity"
        case .sasrec(let s): s.skipNegatives ? "sasrec-n" : "sasrec"
        default: kind.rawValue
        }
    }

    /// Embedding size d.
    public var dim: Int {
        switch self {
        case .popularity: 0
        case .bpr(let s), .lightgcn(let s): s.dim
        case .hnt(let s): s.embedding.dim
        case .sasrec(let s): s.transformer.dim
        case .sine(let s): s.transformer.dim
        case .emorec(let s): s.dim
        }
    }

    /// Adam's step size (0 for popularity, which does not train).
    public var learningRate: Float {
        switch self {
        case .popularity: 0
        case .bpr(let s), .lightgcn(let s): s.learningRate
        case .hnt(let s): s.embedding.learningRate
        case .sasrec(let s): s.learningRate
        case .sine(let s): s.learningRate
        case .emorec(let s): s.learningRate
        }
    }

    /// The seed of initialization (a fine-tune round varies it).
    public var seed: UInt64 {
        get {
            switch self {
            case .popularity: 0
            case .bpr(let s), .lightgcn(let s): s.seed
            case .hnt(let s): s.embedding.seed
            case .sasrec(let s): s.seed
            case .sine(let s): s.seed
            case .emorec(let s): s.seed
            }
        }
        set {
            switch self {
            case .popularity: break
            case .bpr(var s):
                s.seed = newValue
                self = .bpr(s)
            case .lightgcn(var s):
                s.seed = newValue
                self = .lightgcn(s)
            case .hnt(var s):
                s.embedding.seed = newValue
                self = .hnt(s)
            case .sasrec(var s):
                s.seed = newValue
                self = .sasrec(s)
            case .sine(var s):
                s.seed = newValue
                self = .sine(s)
            case .emorec(var s):
                s.seed = newValue
                self = .emorec(s)
            }
        }
    }

    /// The model, untrained, over `train` (an `EmbeddingModel` for bpr, lightgcn and hnt, a
    /// `SequenceRecommender` for sasrec, sine and emorec).
    public func build(train: TrainingSet) -> any Recommender {
        switch self {
        case .popularity(let all): Popularity(train: train, allBehaviors: all)
        case .bpr(let s): BPRMF(train: train, settings: s)
        case .lightgcn(let s): LightGCN(train: train, settings: s)
        case .hnt(let s): HNT(train: train, settings: s)
        case .sasrec(let s): SASRec(train: train, settings: s)
        case .sine(let s): SINE(train: train, settings: s)
        case .emorec(let s): EmoRec(train: train, settings: s)
        }
    }

    /// What a sequential model serves with, to restore trained values into: SASRec and SINE whole,
    /// EmoRec its serving form (`EmoRec.serving`: graph tables of the `servedUsers` it was trained on,
    /// the Hawkes encoder and polarity head); nil for the other kinds. Histories come in `taxonomy`.
    public func servingNetwork(itemCount: Int, servedUsers: Int, taxonomy: BehaviorTaxonomy) -> (any SequenceRecommender)? {
        let empty = TrainingSet(userCount: 0, itemCount: itemCount, taxonomy: taxonomy, interactions: [])
        switch self {
        case .sasrec(let s): return SASRec(train: empty, settings: s)
        case .sine(let s): return SINE(train: empty, settings: s)
        case .emorec(let s):
            return EmoRecServing(
                itemCount: itemCount,
                userCount: servedUsers,
                dim: s.dim,
                hawkes: s.variant.sequence ? s.hawkes : nil,
                polarityHead: s.variant.polarityHead,
                taxonomy: taxonomy
            )
        default: return nil
        }
    }

    /// These settings with what only shapes training (step size, batch, windows, seed, loss weights)
    /// set to the library defaults: two settings with the same architecture build networks whose
    /// values can be carried from one to the other.
    public var architecture: ModelSettings {
        switch self {
        case .popularity: return self
        case .bpr(var s):
            s.clearTraining()
            return .bpr(s)
        case .lightgcn(var s):
            s.clearTraining()
            return .lightgcn(s)
        case .hnt(var s):
            s.embedding.clearTraining()
            let d = HNT.Settings()
            (s.lambda1, s.lambda2, s.hesitationWarmup, s.hesitationEvery) = (d.lambda1, d.lambda2, d.hesitationWarmup, d.hesitationEvery)
            return .hnt(s)
        case .sasrec(var s):
            let d = SASRec.Settings()
            (s.learningRate, s.batchSize, s.weightDecay, s.windowStride, s.seed) = (
                d.learningRate, d.batchSize, d.weightDecay, d.windowStride, d.seed
            )
            return .sasrec(s)
        case .sine(var s):
            let d = SINE.Settings()
            (s.learningRate, s.batchSize, s.weightDecay, s.windowStride, s.seed) = (
                d.learningRate, d.batchSize, d.weightDecay, d.windowStride, d.seed
            )
            (s.skipWeight, s.dcorWeight) = (d.skipWeight, d.dcorWeight)
            return .sine(s)
        case .emorec(var s):
            let d = EmoRec.Settings()
            (s.learningRate, s.pairBatch, s.windowBatch, s.weightDecay, s.seed) = (d.learningRate, d.pairBatch, d.windowBatch, d.weightDecay, d.seed)
            s.polarityWeight = d.polarityWeight
            return .emorec(s)
        }
    }
}

extension EmbeddingSettings {
    fileprivate mutating func clearTraining() {
        let d = EmbeddingSettings()
        (learningRate, batchSize, l2, seed) = (d.learningRate, d.batchSize, d.l2, d.seed)
    }
}

extension ModelSettings: Codable {
    private enum CodingKeys: String, CodingKey { case model, settings }
    private struct PopularitySettings: Codable { var allBehaviors: Bool }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(ModelKind.self, forKey: .model) {
        case .popularity: self = .popularity(allBehaviors: try c.decode(PopularitySettings.self, forKey: .settings).allBehaviors)
        case .bpr: self = .bpr(try c.decode(EmbeddingSettings.self, forKey: .settings))
        case .lightgcn: self = .lightgcn(try c.decode(EmbeddingSettings.self, forKey: .settings))
        case .hnt: self = .hnt(try c.decode(HNT.Settings.self, forKey: .settings))
        case .sasrec: self = .sasrec(try c.decode(SASRec.Settings.self, forKey: .settings))
        case .sine: self = .sine(try c.decode(SINE.Settings.self, forKey: .settings))
        case .emorec: self = .emorec(try c.decode(EmoRec.Settings.self, forKey: .settings))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .model)
        switch self {
        case .popularity(let all): try c.encode(PopularitySettings(allBehaviors: all), forKey: .settings)
        case .bpr(let s), .lightgcn(let s): try c.encode(s, forKey: .settings)
        case .hnt(let s): try c.encode(s, forKey: .settings)
        case .sasrec(let s): try c.encode(s, forKey: .settings)
        case .sine(let s): try c.encode(s, forKey: .settings)
        case .emorec(let s): try c.encode(s, forKey: .settings)
        }
    }
}
