import TacitData
import TacitTensor

/// EmoRec's graph encoder (paper §3.1, PyG's HeteroConv as the paper describes it): learned layer-0
/// embeddings for every node type; per layer, one convolution per relation, the messages into each
/// node type averaged across its relations, then ELU, LayerNorm and dropout; `layers` layers.
///
/// - GAT (GATConv, one head, no self-loops on these bipartite relations):
///   m_t = Σ_{s→t} α_st W h_s + b, α = softmax over t's in-edges of LeakyReLU(a_srcᵀ W h_s + a_dstᵀ W h_t).
/// - SAGE (SAGEConv, mean): m_t = W_l · mean_{s→t} h_s + W_r h_t + b.
/// - signed (diffGAT): a relation with sign −1 (negative feedback into users and items) enters the mean
///   with its sign, so it pushes its targets away from what it carries ("repels") before the nonlinearity.
public final class FeedbackGraphEncoder {
    public enum Convolution: String, Sendable { case gat, sage }

    struct RelationWeights {
        let weight: Tensor, root: Tensor?, attentionSource: Tensor?, attentionTarget: Tensor?, bias: Tensor
        var parameters: [Tensor] { [weight] + [root, attentionSource, attentionTarget].compactMap { $0 } + [bias] }
    }

    public let graph: FeedbackGraph
    public let convolution: Convolution
    public let dim: Int
    public let dropout: Float
    /// Layer-0 embeddings per node type.
    public let embeddings: [Tensor]
    /// [layer][relation]
    let convolutions: [[RelationWeights]]
    /// [layer][node type] LayerNorm gain and bias.
    let norms: [[(gain: Tensor, bias: Tensor)]]

    public var parameters: [Tensor] {
        embeddings + convolutions.flatMap { $0.flatMap(\.parameters) } + norms.flatMap { $0.flatMap { [$0.gain, $0.bias] } }
    }

    public init(graph: FeedbackGraph, convolution: Convolution, dim: Int, layers: Int, dropout: Float, rng: inout SeededRNG) {
        self.graph = graph
        self.convolution = convolution
        self.dim = dim
        self.dropout = dropout
        embeddings = graph.nodeCounts.map { Initializer.xavierNormal([$0, dim], rng: &rng) }
        convolutions = (0..<layers).map { _ in
            graph.relations.map { _ in
                switch convolution {
                case .gat:
                    RelationWeights(
                        weight: Initializer.xavierUniform([dim, dim], rng: &rng),
                        root: nil,
                        attentionSource: Initializer.xavierUniform([dim, 1], rng: &rng),
                        attentionTarget: Initializer.xavierUniform([dim, 1], rng: &rng),
                        bias: Initializer.constant([dim], 0)
                    )
                case .sage:
                    RelationWeights(
                        weight: Initializer.xavierUniform([dim, dim], rng: &rng),
                        root: Initializer.xavierUniform([dim, dim], rng: &rng),
                        attentionSource: nil,
                        attentionTarget: nil,
                        bias: Initializer.constant([dim], 0)
                    )
                }
            }
        }
        norms = (0..<layers).map { _ in graph.nodeCounts.map { _ in (Initializer.constant([dim], 1), Initializer.constant([dim], 0)) } }
    }

    /// The last layer's embeddings of every node type.
    public func encode(training: Bool, rng: inout SeededRNG) -> [Tensor] {
        var h = embeddings
        for (layer, weights) in convolutions.enumerated() {
            var next = h
            for t in graph.nodeCounts.indices {
                let incoming = graph.relations(into: t)
                guard !incoming.isEmpty else { continue }
                var sum: Tensor?
                for r in incoming {
                    let relation = graph.relations[r]
                    var m = message(relation, weights[r], source: h[relation.source], target: h[t])
                    if relation.sign < 0 { m = -m }
                    sum = sum.map { $0 + m } ?? m
                }
                let mean = sum!.scaled(by: 1 / Float(incoming.count))
                let (gain, bias) = norms[layer][t]
                next[t] = Tensor.layerNorm(mean.elu(), gamma: gain, beta: bias).dropout(dropout, training: training, rng: &rng)
            }
            h = next
        }
        return h
    }

    /// One relation's convolution: (targets, d).
    func message(_ relation: FeedbackGraph.Relation, _ w: RelationWeights, source: Tensor, target: Tensor) -> Tensor {
        let edges = relation.edges
        switch convolution {
        case .gat:
            let xs = Tensor.matmul(source, w.weight)  // (S, d)
            let scoreSource = Tensor.matmul(xs, w.attentionSource!)  // (S, 1)
            // a_dstᵀ W h_t without materializing W h_t for every target: h_t (W a_dst).
            let scoreTarget = Tensor.matmul(target, Tensor.matmul(w.weight, w.attentionTarget!))  // (T, 1)
            let logits = (Tensor.gather(scoreSource, edges.source) + Tensor.gather(scoreTarget, edges.target)).leakyRelu()
            return Tensor.edgeAggregate(edges, weights: logits.edgeSoftmax(edges), xs) + w.bias
        case .sage:
            let mean = Tensor.edgeAggregate(edges, weights: relation.meanWeights, source)
            return Tensor.matmul(mean, w.weight) + Tensor.matmul(target, w.root!) + w.bias
        }
    }
}
