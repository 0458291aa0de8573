import TacitTensor

/// Uniform negative sampling: an item the user has not interacted with under the target
/// behavior (models.md: resampled every epoch, never from the user's own history).
public struct NegativeSampler: Sendable {
    public let positives: UserItemMatrix

    public init(positives: UserItemMatrix) { self.positives = positives }

    /// One negative for `user`, by rejection (expected tries ≈ 1 / (1 − density)).
    /// A user who has touched every item gets a uniform item: there is no negative to find.
    @inlinable
    public func sample(for user: Int32, rng: inout SeededRNG) -> Int32 {
        let n = positives.itemCount
        let owned = positives.rowStart[Int(user) + 1] - positives.rowStart[Int(user)]
        if owned >= n { return Int32(rng.nextInt(below: n)) }
        while true {
            let j = Int32(rng.nextInt(below: n))
            if !positives.contains(user, j) { return j }
        }
    }

    /// `count` distinct negatives for `user`, also avoiding `exclude` (e.g. held-out items).
    public func sampleDistinct(
        _ count: Int,
        for user: Int32,
        excluding exclude: Set<Int32> = [],
        rng: inout SeededRNG
    ) -> [Int32] {
        let available = positives.itemCount - positives.items(of: user).count - exclude.count
        let k = min(count, max(0, available))
        var chosen = Set<Int32>()
        var out: [Int32] = []
        out.reserveCapacity(k)
        while out.count < k {
            let j = Int32(rng.nextInt(below: positives.itemCount))
            if positives.contains(user, j) || exclude.contains(j) || chosen.contains(j) { continue }
            chosen.insert(j)
            out.append(j)
        }
        return out
    }
}
