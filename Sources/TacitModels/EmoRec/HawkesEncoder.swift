import Foundation
import TacitData
import TacitTensor

/// EmoRec's Hawkes-inspired Transformer ("THP", paper §3.2) over a user's time-ordered events of every
/// feedback kind.
///
/// Input: a [CLS] slot first, then the left-padded events; each position is item + position + feedback
/// kind + a linear projection of its time. The time feature is log(1 + days since the previous event):
/// the raw epoch timestamp the paper names would swamp a linear layer, and the gap is what a Hawkes
/// process conditions on. Attention scores are multiplied by `exp(−λ Δt_ij) · exp(−|i − j| / W)` with
/// Δt_ij = max(0, t_i − t_j) **in days** (λ learnable, kept positive as softplus(ρ), or fixed), then
/// masked and normalized.
///
/// Choices the paper leaves open, stated: the blocks are SASRec's (`TransformerEncoder`: learned
/// Q/K/V projections, post-norm, GELU FFN) rather than the paper's projection-free Q = K = LN(X); and
/// attention is causal, so every position's output is the encoding of the events up to it, which lets
/// one pass train every next event (as SASRec does) instead of one target per sequence. The [CLS] slot
/// is visible to every position.
public final class HawkesEncoder {
    public struct Settings: Sendable, Equatable, Codable {
        public var transformer = TransformerEncoder.Settings(dim: 64, heads: 2, blocks: 2, dropout: 0.2, maxLength: 50)
        /// Initial (or fixed) λ_decay, per day.
        public var decayPerDay: Float = 0.1
        public var learnableDecay = true
        /// W of the positional window decay exp(−|i − j| / W).
        public var window: Float = 20
        public init() {}
    }

    public let settings: Settings
    /// Items, then [CLS]; padding after them.
    public let transformer: TransformerEncoder
    /// Feedback kinds, then [CLS], then padding: (6, d).
    public let kindEmbedding: Tensor
    public let timeWeight: Tensor, timeBias: Tensor
    /// ρ with λ = softplus(ρ) when learnable; λ itself (a constant) otherwise.
    public let decay: Tensor
    public let itemCount: Int

    public var parameters: [Tensor] {
        transformer.parameters + [kindEmbedding, timeWeight, timeBias] + (settings.learnableDecay ? [decay] : [])
    }

    static let clsKind = Int32(FeedbackKind.allCases.count), padKind = clsKind + 1

    public init(itemCount: Int, settings: Settings, rng: inout SeededRNG) {
        self.settings = settings
        self.itemCount = itemCount
        transformer = TransformerEncoder(itemCount: itemCount + 1, settings: settings.transformer, rng: &rng)
        kindEmbedding = Initializer.normal([FeedbackKind.allCases.count + 2, settings.transformer.dim], std: 0.02, rng: &rng)
        timeWeight = Initializer.normal([1, settings.transformer.dim], std: 0.02, rng: &rng)
        timeBias = Initializer.constant([settings.transformer.dim], 0)
        let lambda = settings.decayPerDay
        decay = Tensor(
            shape: [1],
            value: [settings.learnableDecay ? Foundation.log(Foundation.expm1(lambda)) : lambda],
            requiresGrad: settings.learnableDecay
        )
    }

    /// The real items' rows of the input table (what EmoRec scores the encoding against): (items, d).
    public var itemTable: Tensor { transformer.itemEmbedding.slice(axis: 0, 0..<itemCount) }

    /// λ_decay now, per day.
    public var decayRate: Float { settings.learnableDecay ? stableSoftplus(decay.item) : decay.item }

    /// One event as the encoder reads it.
    public struct Event: Sendable, Equatable {
        public var item: Int32
        public var kind: FeedbackKind
        /// Unix seconds.
        public var time: Int64
        public init(item: Int32, kind: FeedbackKind, time: Int64) {
            self.item = item
            self.kind = kind
            self.time = time
        }

        /// An interaction, its kind read through `taxonomy`.
        public init(_ e: Interaction, taxonomy: BehaviorTaxonomy) {
            self.init(item: e.item, kind: taxonomy.feedback(of: e), time: e.timestamp)
        }
    }

    /// Encodes each sequence's last `maxLength − 1` events behind a [CLS] slot → (hidden (B, L, d), L):
    /// sequence b's k-th kept event of n sits at column L − n + k; column 0 is [CLS].
    public func encode(_ sequences: [ArraySlice<Event>], training: Bool, rng: inout SeededRNG) -> (hidden: Tensor, length: Int) {
        let maxEvents = settings.transformer.maxLength - 1
        let kept = sequences.map { $0.suffix(maxEvents) }
        let length = 1 + max(1, kept.map(\.count).max() ?? 1)
        let batch = sequences.count, d = settings.transformer.dim
        let cls = Int32(itemCount), pad = transformer.padding
        var items = [Int32](repeating: pad, count: batch * length)
        var kinds = [Int32](repeating: Self.padKind, count: batch * length)
        var gaps = [Float](repeating: 0, count: batch * length)
        // Times stay integer seconds until they are subtracted: t_i / 86,400 − t_j / 86,400 rounds differently with
        // the clock's origin, and `tacit backtest` (which replays a dataset ending now) trained differently each run.
        var times = [Int64](repeating: 0, count: batch * length)
        for (b, events) in kept.enumerated() {
            let row = b * length, offset = row + length - events.count
            items[row] = cls
            kinds[row] = Self.clsKind
            times[row] = events.first?.time ?? 0
            var previous = events.first?.time ?? 0
            for (k, e) in events.enumerated() {
                items[offset + k] = e.item
                kinds[offset + k] = Int32(e.kind.rawValue)
                times[offset + k] = e.time
                gaps[offset + k] = Float(Foundation.log1p(Double(max(0, e.time - previous)) / 86_400))
                previous = e.time
            }
        }
        // Δt_ij in days (0 where either side is padding: those scores are masked anyway), and the
        // positional window decay, shared by every head and layer.
        var dt = [Float](repeating: 0, count: batch * length * length)
        var window = [Float](repeating: 0, count: length * length)
        for i in 0..<length { for j in 0..<length { window[i * length + j] = Foundation.exp(-Float(abs(i - j)) / settings.window) } }
        for b in 0..<batch {
            let row = b * length
            for i in 0..<length where items[row + i] != pad {
                for j in 0..<length where items[row + j] != pad {
                    dt[(row + i) * length + j] = Float(Double(max(0, times[row + i] - times[row + j])) / 86_400)
                }
            }
        }
        let lambda = settings.learnableDecay ? decay.softplus() : decay
        let kernel =
            (Tensor(shape: [batch, 1, length, length], value: dt) * (-lambda)).exp()
            * Tensor(shape: [1, 1, length, length], value: window)
        let time = Tensor.matmul(Tensor(shape: [batch * length, 1], value: gaps), timeWeight) + timeBias
        let extra = Tensor.gather(kindEmbedding, kinds, leadingShape: [batch, length]) + time.reshaped([batch, length, d])
        let hidden = transformer.encode(
            items,
            batch: batch,
            length: length,
            training: training,
            rng: &rng,
            extraInput: extra,
            scoreKernel: kernel
        )
        return (hidden, length)
    }

    /// The encoding at each sequence's newest position (inference, no dropout): (B, d).
    public func lastEncoding(_ sequences: [[Event]]) -> Tensor {
        var rng = SeededRNG(seed: 0)  // unused without dropout
        let (hidden, length) = encode(sequences.map { $0[...] }, training: false, rng: &rng)
        return Tensor.gather(
            hidden.reshaped([sequences.count * length, settings.transformer.dim]),
            TransformerEncoder.lastPositions(batch: sequences.count, length: length)
        )
    }
}
