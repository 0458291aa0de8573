import TacitData
import TacitTensor

/// Ranks items by how many distinct users took the target behavior on them in training (or, with
/// `allBehaviors`, any behavior: the multi-behavior floor, `popularity-all`).
/// The floor every learned model must clear.
public final class Popularity: Recommender {
    public let name: String
    public let parameters: [Tensor] = []
    public let itemCount: Int
    private let popularity: [Float]

    public init(train: TrainingSet, allBehaviors: Bool = false) {
        name = allBehaviors ? "popularity-all" : "popularity"
        itemCount = train.itemCount
        popularity = (allBehaviors ? train.anyBehavior().itemDegrees() : train.targetPopularity()).map(Float.init)
    }

    public func trainEpoch(rng: inout SeededRNG) -> Float { 0 }

    public func scores(users: [Int32]) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(users.count * itemCount)
        for _ in users { out.append(contentsOf: popularity) }
        return out
    }
}
