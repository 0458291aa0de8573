import TacitModels

/// `[trainer.<model>]`: each learned model's own settings, read into `TacitConfiguration.Trainer`'s
/// typed fields. Every section is read and checked whichever model is served, so a bad value is named
/// before anyone switches to that model. Keys a model does not have are unknown keys of its section.
enum ModelSections {
    /// Keys `[trainer]` held before each model had its section: naming them says where they went.
    static let moved = [
        "dim", "learning_rate", "layers", "batch_size", "l2", "mu", "beta", "heads", "ablation", "max_length", "blocks",
        "dropout", "sequences_per_step", "window_stride", "loss", "prototypes", "variant",
    ]

    static func parse(_ trainer: inout TOMLSection, into t: inout TacitConfiguration.Trainer) throws(ConfigurationError) {
        for key in moved where trainer.table?[key] != nil {
            let section = t.modelSettings.map { "[trainer.\($0.kind.rawValue)]" } ?? "[trainer.<model>]"
            throw trainer.error(key, "moved to the section of the model it is for, e.g. \(section) \(key) = …")
        }
        if trainer.table?["trend_half_life"] != nil {
            throw trainer.error("trend_half_life", "moved to [trainer.trending] half_life = …")
        }
        var trending = try trainer.subsection("trending")
        t.trendHalfLife = try trending.double("half_life", default: t.trendHalfLife, range: 1...1e9)
        guard TrendCounts.halfLives.contains(t.trendHalfLife) else {
            throw trending.error("half_life", "must be one of \(TrendCounts.halfLives.map { "\(Int($0))" }.joined(separator: ", "))")
        }
        try trending.finish()

        var bpr = try trainer.subsection("bpr")
        t.bpr = try embedding(&bpr, default: t.bpr, layers: false)
        try bpr.finish()

        var lightgcn = try trainer.subsection("lightgcn")
        t.lightgcn = try embedding(&lightgcn, default: t.lightgcn, layers: true)
        try lightgcn.finish()

        var hnt = try trainer.subsection("hnt")
        var h = HNT.Settings()
        h.embedding = try embedding(&hnt, default: t.hnt.embedding, layers: true)
        h.mu = Float(try hnt.double("mu", default: Double(t.hnt.mu), range: 0...1))
        h.beta = Float(try hnt.double("beta", default: Double(t.hnt.beta), range: 0...10))
        h.heads = try hnt.int("heads", default: t.hnt.heads, range: 1...64)
        h.hesitationEvery = try hnt.int("hesitation_every", default: t.hnt.hesitationEvery, range: 1...1000)
        h.averageLayers = try hnt.bool("average_layers", default: t.hnt.averageLayers)
        if h.embedding.dim % h.heads != 0 { throw hnt.error("heads", "must divide \(hnt.key("dim")) (\(h.embedding.dim))") }
        let ablation = try hnt.string("ablation", default: "hesitation-only")
        do { try h.apply(ablation: ablation) } catch {
            throw hnt.error("ablation", "unknown HNT variant \"\(ablation)\": choose \(HNT.Settings.ablations.joined(separator: ", "))")
        }
        t.hnt = h
        try hnt.finish()

        var sasrec = try trainer.subsection("sasrec")
        try sequence(&sasrec, into: &t.sasrec, \.transformer, \.learningRate, \.batchSize, windowStride: \.windowStride, innerPerDim: 4)
        t.sasrec.loss = try sasrec.choice("loss", default: t.sasrec.loss)
        try sasrec.finish()

        var sine = try trainer.subsection("sine")
        try sequence(&sine, into: &t.sine, \.transformer, \.learningRate, \.batchSize, windowStride: \.windowStride, innerPerDim: 1)
        t.sine.prototypes = try sine.int("prototypes", default: t.sine.prototypes, range: 1...64)
        t.sine.ablation = try sine.choice("ablation", default: t.sine.ablation)
        try sine.finish()

        var emorec = try trainer.subsection("emorec")
        try sequence(&emorec, into: &t.emorec, \.hawkes.transformer, \.learningRate, \.windowBatch, windowStride: nil, innerPerDim: 4)
        t.emorec.dim = t.emorec.hawkes.transformer.dim
        // The graph-only variants train on pairs: as many per step as the windows hold positions.
        t.emorec.pairBatch = t.emorec.windowBatch * t.emorec.hawkes.transformer.maxLength
        t.emorec.loss = try emorec.choice("loss", default: t.emorec.loss)
        let variant = try emorec.string("variant", default: t.emorec.variant.paperName)
        guard let v = EmoRec.Variant(name: variant) else {
            throw emorec.error(
                "variant",
                "unknown EmoRec variant \"\(variant)\": choose \(EmoRec.Variant.allCases.map(\.paperName).joined(separator: ", "))"
            )
        }
        t.emorec.variant = v
        try emorec.finish()
    }

    /// `dim`, `learning_rate`, `batch_size`, `l2` (and `layers` for the graph models).
    private static func embedding(_ s: inout TOMLSection, default d: EmbeddingSettings, layers: Bool) throws(ConfigurationError) -> EmbeddingSettings
    {
        var e = d
        e.dim = try s.int("dim", default: d.dim, range: 1...4_096)
        e.learningRate = Float(try s.double("learning_rate", default: Double(d.learningRate), range: 1e-7...10))
        e.batchSize = try s.int("batch_size", default: d.batchSize, range: 1...1_000_000)
        e.l2 = Float(try s.double("l2", default: Double(d.l2), range: 0...10))
        if layers { e.layers = try s.int("layers", default: d.layers, range: 1...8) }
        return e
    }

    /// What the sequential models' sections share, read into `settings` (its current values are the
    /// defaults): `dim`, `heads` (dividing dim), `blocks`, `max_length`, `dropout` (the feed-forward size
    /// follows dim), `learning_rate`, `sequences_per_step` and, where the model has it, `window_stride`
    /// (0 or left out: disjoint windows; at most `max_length`).
    private static func sequence<Settings>(
        _ s: inout TOMLSection,
        into settings: inout Settings,
        _ transformerKey: WritableKeyPath<Settings, TransformerEncoder.Settings>,
        _ learningRateKey: WritableKeyPath<Settings, Float>,
        _ sequencesPerStepKey: WritableKeyPath<Settings, Int>,
        windowStride windowStrideKey: WritableKeyPath<Settings, Int?>?,
        innerPerDim: Int
    ) throws(ConfigurationError) {
        let d = settings[keyPath: transformerKey]
        let dim = try s.int("dim", default: d.dim, range: 1...4_096)
        let heads = try s.int("heads", default: d.heads, range: 1...64)
        if dim % heads != 0 { throw s.error("heads", "must divide \(s.key("dim")) (\(dim))") }
        let transformer = TransformerEncoder.Settings(
            dim: dim,
            heads: heads,
            blocks: try s.int("blocks", default: d.blocks, range: 1...16),
            innerSize: innerPerDim * dim,
            dropout: Float(try s.double("dropout", default: Double(d.dropout), range: 0...0.95)),
            maxLength: try s.int("max_length", default: d.maxLength, range: 1...10_000)
        )
        settings[keyPath: transformerKey] = transformer
        settings[keyPath: learningRateKey] = Float(
            try s.double("learning_rate", default: Double(settings[keyPath: learningRateKey]), range: 1e-7...10)
        )
        settings[keyPath: sequencesPerStepKey] = try s.int("sequences_per_step", default: settings[keyPath: sequencesPerStepKey], range: 1...100_000)
        if let windowStrideKey {
            let stride = try s.int("window_stride", default: settings[keyPath: windowStrideKey] ?? 0, range: 0...10_000)
            if stride > transformer.maxLength {
                throw s.error("window_stride", "must be at most \(s.key("max_length")) (\(transformer.maxLength)); 0 means max_length")
            }
            settings[keyPath: windowStrideKey] = stride > 0 ? stride : nil
        }
    }
}
