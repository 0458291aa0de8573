import TacitData
import TacitTensor

/// SASRec (Kang & McAuley 2018): the user is the Transformer encoding of their recent positives, and
/// s(u, i) = ⟨h_last, e_i⟩ with the item table shared between input and output.
///
/// Two losses: `crossEntropy` over all items at every position (RecBole's default, and what its
/// published MovieLens-1M numbers use), or `bpr` against one uniformly sampled negative per position
/// (the SINE reference code's SASRec). `skipNegatives` makes it SASRec-N: each position whose target
/// positive has an observed skip just before it also gets the BPR pair (positive, skip), the skips
/// being plain extra negatives, with no sub-interests and no separate weight.
public final class SASRec: SequenceRecommender {
    public enum Loss: String, Sendable, CaseIterable, Codable {
        case crossEntropy = "ce"
        case bpr
    }

    public struct Settings: Sendable, Equatable, Codable {
        public var transformer = TransformerEncoder.Settings()
        public var loss: Loss = .crossEntropy
        public var skipNegatives = false
        public var learningRate: Float = 1e-3
        /// Windows (sequences of up to `maxLength` positions) per step.
        public var batchSize = 128
        /// L2 folded into Adam's gradient.
        public var weightDecay: Float = 0
        /// Training windows end this many positions apart (nil: `maxLength`, disjoint windows); see
        /// `SequenceWindows`.
        public var windowStride: Int?
        public var seed: UInt64 = 2024

        public init(
            transformer: TransformerEncoder.Settings = .init(),
            loss: Loss = .crossEntropy,
            skipNegatives: Bool = false,
            learningRate: Float = 1e-3,
            batchSize: Int = 128,
            weightDecay: Float = 0,
            windowStride: Int? = nil,
            seed: UInt64 = 2024
        ) {
            self.transformer = transformer
            self.loss = loss
            self.skipNegatives = skipNegatives
            self.learningRate = learningRate
            self.batchSize = batchSize
            self.weightDecay = weightDecay
            self.windowStride = windowStride
            self.seed = seed
        }
    }

    public var name: String { settings.skipNegatives ? "sasrec-n" : "sasrec" }
    public let settings: Settings
    public let encoder: TransformerEncoder
    public var parameters: [Tensor] { encoder.parameters }
    public let itemCount: Int
    let training: SequenceTraining
    var windows: SequenceWindows { training.windows }
    var sampler: NegativeSampler { training.sampler }
    let optimizer: Adam

    public init(train: TrainingSet, settings: Settings = Settings()) {
        self.settings = settings
        itemCount = train.itemCount
        var rng = SeededRNG(seed: settings.seed)
        encoder = TransformerEncoder(itemCount: train.itemCount, settings: settings.transformer, rng: &rng)
        training = SequenceTraining(
            train,
            maxLength: settings.transformer.maxLength,
            stride: settings.windowStride,
            padding: encoder.padding
        )
        optimizer = Adam(encoder.parameters, settings: .init(learningRate: settings.learningRate, weightDecay: settings.weightDecay))
    }

    /// The real items' rows of the shared table: (items, d).
    var itemTable: Tensor { encoder.itemEmbedding.slice(axis: 0, 0..<itemCount) }

    public func trainEpoch(rng: inout SeededRNG) -> Float {
        windows.forEachBatch(size: settings.batchSize, rng: &rng) { batch, rng in
            let hidden = encoder.encode(batch.inputs, batch: batch.count, length: batch.length, training: true, rng: &rng)
                .reshaped([batch.count * batch.length, settings.transformer.dim])
            let loss = self.loss(hidden: hidden, batch: batch, rng: &rng)
            loss.backward()
            optimizer.step()
            return loss.item
        }
    }

    /// The loss of one batch from its encoded positions (B·L, d).
    func loss(hidden: Tensor, batch: SequenceWindows.Batch, rng: inout SeededRNG) -> Tensor {
        let cells = batch.targets.indices.filter { batch.targets[$0] >= 0 }
        let h = Tensor.gather(hidden, cells.map { Int32($0) })  // (N, d)
        let targets = cells.map { batch.targets[$0] }
        var loss: Tensor
        switch settings.loss {
        case .crossEntropy:
            loss = Tensor.softmaxCrossEntropy(logits: Tensor.matmul(h, itemTable, transB: true), targets: targets)
        case .bpr:
            let negatives = cells.map { sampler.sample(for: batch.users[$0 / batch.length], rng: &rng) }
            loss = Tensor.bprLoss(
                positive: Tensor.rowDot(h, Tensor.gather(encoder.itemEmbedding, targets)),
                negative: Tensor.rowDot(h, Tensor.gather(encoder.itemEmbedding, negatives))
            )
        }
        if settings.skipNegatives {
            let withSkip = cells.indices.filter { batch.targetSkips[cells[$0]] >= 0 }
            if !withSkip.isEmpty {
                let hs = Tensor.gather(h, withSkip.map { Int32($0) })
                let pos = Tensor.rowDot(hs, Tensor.gather(encoder.itemEmbedding, withSkip.map { targets[$0] }))
                let neg = Tensor.rowDot(hs, Tensor.gather(encoder.itemEmbedding, withSkip.map { batch.targetSkips[cells[$0]] }))
                // Weighted by their share of positions, so a skip pair counts as much as a sampled pair.
                loss = loss + Tensor.bprLoss(positive: pos, negative: neg).scaled(by: Float(withSkip.count) / Float(cells.count))
            }
        }
        return loss
    }

    public func scores(users: [Int32]) -> [Float] { scores(histories: users.map { training.histories[Int($0)] }) }

    public func scores(histories: [[Interaction]]) -> [Float] {
        Tensor.withoutGrad {
            let last = lastHidden(histories.map { PositiveSequence($0, kinds: training.kinds).items[...] })
            return Tensor.matmul(last, itemTable, transB: true).value
        }
    }

    /// The encoding at the most recent position of each sequence: (B, d).
    func lastHidden(_ sequences: [ArraySlice<Int32>]) -> Tensor {
        let (inputs, length) = encoder.leftPadded(sequences)
        var rng = SeededRNG(seed: 0)  // unused: no dropout at inference
        let hidden = encoder.encode(inputs, batch: sequences.count, length: length, training: false, rng: &rng)
        let d = settings.transformer.dim
        return Tensor.gather(
            hidden.reshaped([sequences.count * length, d]),
            TransformerEncoder.lastPositions(batch: sequences.count, length: length)
        )
    }
}
