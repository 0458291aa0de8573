import Foundation
import TacitTensor

/// SASRec's encoder (Kang & McAuley 2018, as RecBole builds it): item + learned position embeddings,
/// LayerNorm and dropout, then `blocks` post-norm Transformer layers of causal multi-head
/// self-attention and a GELU feed-forward net. SINE's encoder (eqs. 6–10) is the same with one head
/// and its β-scaled attention, passed in as `attentionScale`.
///
/// Sequences are left-padded to the batch's length L ≤ `maxLength`, so the last position is always the
/// most recent item and position embeddings count back from it. Every query attends to itself and to
/// earlier, non-padding keys only (the causal and key-padding masks; the SINE reference code forgot
/// the second).
public final class TransformerEncoder {
    public struct Settings: Sendable, Equatable, Codable {
        /// Hidden size d.
        public var dim: Int = 64
        public var heads: Int = 2
        public var blocks: Int = 2
        /// Feed-forward inner size (RecBole: 4·d).
        public var innerSize: Int = 256
        /// Dropout on embeddings, attention probabilities and sub-layer outputs.
        public var dropout: Float = 0.5
        /// Longest history encoded; older items are dropped.
        public var maxLength: Int = 50

        public init(
            dim: Int = 64,
            heads: Int = 2,
            blocks: Int = 2,
            innerSize: Int? = nil,
            dropout: Float = 0.5,
            maxLength: Int = 50
        ) {
            self.dim = dim
            self.heads = heads
            self.blocks = blocks
            self.innerSize = innerSize ?? 4 * dim
            self.dropout = dropout
            self.maxLength = maxLength
        }
    }

    /// One Transformer layer's weights. Linear weights are (in, out).
    struct Block {
        let query: Tensor, queryBias: Tensor, key: Tensor, keyBias: Tensor, value: Tensor, valueBias: Tensor
        let output: Tensor, outputBias: Tensor, norm1: Tensor, norm1Bias: Tensor
        let inner: Tensor, innerBias: Tensor, outer: Tensor, outerBias: Tensor, norm2: Tensor, norm2Bias: Tensor

        var parameters: [Tensor] {
            [
                query, queryBias, key, keyBias, value, valueBias, output, outputBias, norm1, norm1Bias,
                inner, innerBias, outer, outerBias, norm2, norm2Bias,
            ]
        }
    }

    public let settings: Settings
    /// Item embeddings, (items + 1, d); the last row is padding. Models score items against rows 0..<items.
    public let itemEmbedding: Tensor
    /// Position embeddings, (maxLength, d); row maxLength − 1 is the most recent position.
    public let positionEmbedding: Tensor
    let inputNorm: Tensor, inputNormBias: Tensor
    let layers: [Block]

    public var parameters: [Tensor] {
        [itemEmbedding, positionEmbedding, inputNorm, inputNormBias] + layers.flatMap(\.parameters)
    }

    /// The padding index (= the number of real items).
    public var padding: Int32 { Int32(itemEmbedding.shape[0] - 1) }

    public init(itemCount: Int, settings: Settings, rng: inout SeededRNG) {
        precondition(settings.dim % settings.heads == 0, "dim \(settings.dim) is not a multiple of heads \(settings.heads)")
        self.settings = settings
        let d = settings.dim
        // RecBole's initialization: N(0, 0.02) weights, zero biases, unit LayerNorm gains.
        func weight(_ shape: [Int], _ rng: inout SeededRNG) -> Tensor { Initializer.normal(shape, std: 0.02, rng: &rng) }
        itemEmbedding = weight([itemCount + 1, d], &rng)
        positionEmbedding = weight([settings.maxLength, d], &rng)
        inputNorm = Initializer.constant([d], 1)
        inputNormBias = Initializer.constant([d], 0)
        layers = (0..<settings.blocks).map { _ in
            Block(
                query: weight([d, d], &rng),
                queryBias: Initializer.constant([d], 0),
                key: weight([d, d], &rng),
                keyBias: Initializer.constant([d], 0),
                value: weight([d, d], &rng),
                valueBias: Initializer.constant([d], 0),
                output: weight([d, d], &rng),
                outputBias: Initializer.constant([d], 0),
                norm1: Initializer.constant([d], 1),
                norm1Bias: Initializer.constant([d], 0),
                inner: weight([d, settings.innerSize], &rng),
                innerBias: Initializer.constant([settings.innerSize], 0),
                outer: weight([settings.innerSize, d], &rng),
                outerBias: Initializer.constant([d], 0),
                norm2: Initializer.constant([d], 1),
                norm2Bias: Initializer.constant([d], 0)
            )
        }
    }

    /// Encodes `batch` left-padded sequences of length `length` (`inputs`: batch × length item indices,
    /// padding = `padding`). `attentionScale` (batch × length × length), when given, multiplies the
    /// attention probabilities of every layer (SINE's β, eq. 9). `extraInput` (batch, length, d) is added
    /// to the item and position embeddings (EmoRec's time and feedback-kind embeddings), and
    /// `scoreKernel` (batch, 1, length, length) multiplies the attention scores before the softmax
    /// (EmoRec's Hawkes decay); both take gradients. → (batch, length, d).
    public func encode(
        _ inputs: [Int32],
        batch: Int,
        length: Int,
        training: Bool,
        rng: inout SeededRNG,
        attentionScale: [Float]? = nil,
        extraInput: Tensor? = nil,
        scoreKernel: Tensor? = nil
    ) -> Tensor {
        precondition(inputs.count == batch * length && length <= settings.maxLength, "encode: \(inputs.count) inputs for \(batch)×\(length)")
        let d = settings.dim, h = settings.heads, dh = d / h, p = settings.dropout
        let positions = positionEmbedding.slice(axis: 0, (settings.maxLength - length)..<settings.maxLength)
        var x = Tensor.gather(itemEmbedding, inputs, leadingShape: [batch, length]) + positions
        if let extraInput { x = x + extraInput }
        x = Tensor.layerNorm(x, gamma: inputNorm, beta: inputNormBias).dropout(p, training: training, rng: &rng)
        let mask = attentionMask(inputs, batch: batch, length: length)
        let scale = attentionScale.map { s -> Tensor in
            precondition(s.count == batch * length * length, "attentionScale needs batch × length × length values")
            return Tensor(shape: [batch, 1, length, length], value: s)
        }
        for layer in layers {
            func heads(_ w: Tensor, _ b: Tensor) -> Tensor {
                let y = Tensor.linear(x, w, b)  // (B, L, d)
                if h == 1 { return y }
                return y.reshaped([batch, length, h, dh]).permuted([0, 2, 1, 3]).reshaped([batch * h, length, dh])
            }
            let q = heads(layer.query, layer.queryBias), k = heads(layer.key, layer.keyBias), v = heads(layer.value, layer.valueBias)
            var attention = Tensor.batchedMatmul(q, k, transB: true).scaled(by: 1 / Float(dh).squareRoot())
            if let scoreKernel {
                attention = (attention.reshaped([batch, h, length, length]) * scoreKernel).reshaped([batch * h, length, length])
            }
            attention = attention.softmax(mask: mask)  // (B·h, L, L)
            if let scale { attention = (attention.reshaped([batch, h, length, length]) * scale).reshaped([batch * h, length, length]) }
            attention = attention.dropout(p, training: training, rng: &rng)
            var context = Tensor.batchedMatmul(attention, v)  // (B·h, L, dh)
            if h > 1 { context = context.reshaped([batch, h, length, dh]).permuted([0, 2, 1, 3]) }
            context = context.reshaped([batch, length, d])
            let attended = Tensor.linear(context, layer.output, layer.outputBias).dropout(p, training: training, rng: &rng)
            let mid = Tensor.layerNorm(attended + x, gamma: layer.norm1, beta: layer.norm1Bias)
            let ffn = Tensor.linear(Tensor.linear(mid, layer.inner, layer.innerBias).gelu(), layer.outer, layer.outerBias)
                .dropout(p, training: training, rng: &rng)
            x = Tensor.layerNorm(ffn + mid, gamma: layer.norm2, beta: layer.norm2Bias)
        }
        return x
    }

    /// 1 where query t may attend to key j (j ≤ t and key j is not padding), per sequence; the same
    /// for every head: (B·h, L, L).
    func attentionMask(_ inputs: [Int32], batch: Int, length: Int) -> Tensor {
        let h = settings.heads, pad = padding
        var mask = [Float](repeating: 0, count: batch * h * length * length)
        for b in 0..<batch {
            let row = b * length
            for head in 0..<h {
                let base = (b * h + head) * length * length
                for t in 0..<length {
                    for j in 0...t where inputs[row + j] != pad { mask[base + t * length + j] = 1 }
                }
            }
        }
        return Tensor(shape: [batch * h, length, length], value: mask)
    }

    /// The last `maxLength` items of each sequence, left-padded to the longest: (inputs, length).
    public func leftPadded(_ sequences: [ArraySlice<Int32>]) -> (inputs: [Int32], length: Int) {
        let length = max(1, min(settings.maxLength, sequences.map(\.count).max() ?? 1))
        return (Self.leftPad(sequences, length: length, fill: padding), length)
    }

    /// The last `length` values of each sequence, right-aligned in rows of `length` filled with `fill`:
    /// `sequences.count × length`, row-major (the layout `encode` reads; also for per-item side data).
    public static func leftPad(_ sequences: [ArraySlice<Int32>], length: Int, fill: Int32) -> [Int32] {
        var out = [Int32](repeating: fill, count: sequences.count * length)
        for (b, s) in sequences.enumerated() {
            let tail = s.suffix(length)
            let offset = b * length + length - tail.count
            for (k, value) in tail.enumerated() { out[offset + k] = value }
        }
        return out
    }

    /// Row indices of each sequence's newest position in an encoding reshaped to (batch · length, …).
    public static func lastPositions(batch: Int, length: Int) -> [Int32] {
        (0..<batch).map { Int32($0 * length + length - 1) }
    }
}
