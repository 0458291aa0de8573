import TacitData
import TacitTensor

/// A trained EmoRec as the daemon serves it: the graph's final item and user embeddings, frozen at the
/// fine-tune (propagating the graph needs the whole training graph), and the Hawkes Transformer and
/// polarity head, which re-encode a user's newest events on every request. A user the graph has not
/// seen (or an index past its table) is scored on the sequence alone.
///
/// Parameters, in snapshot order: graph items (items, d), graph users (users, d), then the THP's and
/// the polarity head's tensors.
public final class EmoRecServing: SequenceRecommender {
    public var name: String { "emorec" }
    public let graphItems: Tensor
    public let graphUsers: Tensor
    public let hawkes: HawkesEncoder?
    public let polarity: (weight: Tensor, bias: Tensor)?
    public let itemCount: Int
    /// How histories' behaviors map to feedback kinds.
    public let taxonomy: BehaviorTaxonomy

    public var parameters: [Tensor] {
        [graphItems, graphUsers] + sequenceParameters(hawkes, polarity)
    }

    /// An untrained shell of the given shape (to restore a snapshot into).
    public init(
        itemCount: Int,
        userCount: Int,
        dim: Int,
        hawkes: HawkesEncoder.Settings?,
        polarityHead: Bool,
        taxonomy: BehaviorTaxonomy
    ) {
        self.itemCount = itemCount
        self.taxonomy = taxonomy
        var rng = SeededRNG(seed: 0)
        graphItems = Tensor(zeros: [itemCount, dim], requiresGrad: true)
        graphUsers = Tensor(zeros: [userCount, dim], requiresGrad: true)
        var settings = hawkes
        settings?.transformer.dim = dim
        self.hawkes = settings.map { HawkesEncoder(itemCount: itemCount, settings: $0, rng: &rng) }
        polarity = polarityHead ? (Tensor(zeros: [dim, dim], requiresGrad: true), Tensor(zeros: [1], requiresGrad: true)) : nil
    }

    /// The serving form of a trained model (its THP and head shared, the graph tables copied).
    public init(_ model: EmoRec) {
        let (users, items) = model.encodeGraph()
        graphItems = Tensor(shape: items.shape, value: items.value, requiresGrad: true)
        graphUsers = Tensor(shape: users.shape, value: users.value, requiresGrad: true)
        hawkes = model.hawkes
        polarity = model.polarity
        itemCount = model.itemCount
        taxonomy = model.taxonomy
    }

    public func trainEpoch(rng: inout SeededRNG) -> Float {
        preconditionFailure("EmoRecServing is trained as an EmoRec")
    }

    /// The graph term alone for each user (no events).
    public func scores(users: [Int32]) -> [Float] { scores(events: users.map { _ in [] }, users: users) }

    /// Histories carry their user (`Interaction.user`); behaviors read through `taxonomy`.
    public func scores(histories: [[Interaction]]) -> [Float] {
        scores(
            events: histories.map { h in
                h.filter { Int($0.item) < itemCount }.map { HawkesEncoder.Event($0, taxonomy: taxonomy) }
            },
            users: histories.map { $0.first?.user ?? -1 }
        )
    }

    /// ⟨g_u, g_i⟩ + ⟨h_u, e_i⟩ for every item after each user's events: `users.count × items`. A user
    /// index < 0 or past the graph's table has no graph term.
    public func scores(events: [[HawkesEncoder.Event]], users: [Int32]) -> [Float] {
        let dim = graphItems.shape[1], userCount = graphUsers.shape[0]
        return Tensor.withoutGrad {
            let table = Tensor.concat([graphUsers, Tensor(zeros: [1, dim])], axis: 0)
            let rows = users.map { $0 >= 0 && Int($0) < userCount ? $0 : Int32(userCount) }
            var scores = Tensor.matmul(Tensor.gather(table, rows), graphItems, transB: true)
            if let hawkes {
                scores = scores + Tensor.matmul(hawkes.lastEncoding(events), hawkes.itemTable, transB: true)
            }
            return scores.value
        }
    }

    /// Probability that the next interaction after each history, if it is with `items[b]`, is positive
    /// (`+extra_task` variants; nil otherwise).
    public func polarity(events: [[HawkesEncoder.Event]], items: [Int32]) -> [Float]? {
        guard let polarity, let hawkes else { return nil }
        return Tensor.withoutGrad {
            let h = hawkes.lastEncoding(events)
            return (Tensor.rowDot(Tensor.matmul(h, polarity.weight), Tensor.gather(hawkes.itemTable, items)) + polarity.bias)
                .sigmoid().value
        }
    }
}

/// The sequence side's tensors, THP then polarity head, in the order EmoRec and its serving form list
/// them (and the daemon warm-starts them).
func sequenceParameters(_ hawkes: HawkesEncoder?, _ polarity: (weight: Tensor, bias: Tensor)?) -> [Tensor] {
    (hawkes?.parameters ?? []) + (polarity.map { [$0.weight, $0.bias] } ?? [])
}
