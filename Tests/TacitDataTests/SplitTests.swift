import TacitData
import TacitTensor
import XCTest

final class SplitTests: XCTestCase {
    /// Interactions from (user, item, behavior code, timestamp) tuples.
    func events(_ rows: [(Int32, Int32, UInt8, Int64)]) -> [Interaction] {
        rows.map { Interaction(user: $0.0, item: $0.1, behavior: $0.2, timestamp: $0.3) }
    }

    /// A rating dataset: user u has `counts[u]` interactions on items u, u+1, …, times 0, 1, …
    func ratings(_ counts: [Int], rating: (Int) -> Float = { _ in 5 }) -> Dataset {
        var rows: [Interaction] = []
        let items = IDMap((0..<100).map { "i\($0)" })
        for (u, n) in counts.enumerated() {
            for k in 0..<n {
                rows.append(
                    Interaction(
                        user: Int32(u),
                        item: Int32((u + k) % 100),
                        behavior: 0,
                        timestamp: Int64(k),
                        value: rating(k)
                    )
                )
            }
        }
        return Dataset(
            name: "t",
            users: IDMap(counts.indices.map { "u\($0)" }),
            items: items,
            taxonomy: .ratings,
            interactions: rows,
            hasRatings: true
        )
    }

    /// RecBole's 8:1:1 rounding, and train/valid/test partition each user's interactions.
    func testRandomRatioFollowsRecBoleRounding() {
        let d = ratings([10, 15, 3])
        let s = Split.randomRatio(d, seed: 7)
        XCTAssertEqual(s.validation[0].count, 1)
        XCTAssertEqual(s.test[0].count, 1)
        XCTAssertEqual(s.validation[1].count, 1)
        XCTAssertEqual(s.test[1].count, 1)
        // 3 interactions: int(0.3) = 0 each, then one moves to test and one to valid while train > 1
        XCTAssertEqual(s.validation[2].count, 1)
        XCTAssertEqual(s.test[2].count, 1)
        for u in 0..<3 {
            let train = s.train.interactions.filter { $0.user == Int32(u) }.map(\.item)
            let all = Set(train + s.validation[u] + s.test[u])
            XCTAssertEqual(all.count, [10, 15, 3][u], "user \(u): split must partition the interactions")
        }
        // Same seed, same split; another seed, another split.
        XCTAssertEqual(Split.randomRatio(d, seed: 7).test, s.test)
        XCTAssertNotEqual(Split.randomRatio(d, seed: 8).test, s.test)
    }

    /// Iterative k-core: dropping a user can push an item below the threshold.
    func testKCoreIsIterative() {
        // items 0,1 are used by u0,u1; item 2 only by u0 and u2; u2 has 1 interaction.
        let rows = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 2)].map {
            Interaction(user: Int32($0.0), item: Int32($0.1), behavior: 0, timestamp: 0)
        }
        let d = Dataset(
            name: "k",
            users: IDMap(["a", "b", "c"]),
            items: IDMap(["x", "y", "z"]),
            taxonomy: .ratings,
            interactions: rows
        )
        let k = d.kCore(minUser: 2, minItem: 2)
        // c (1 interaction) goes, then z has only a → goes; a and b keep x, y.
        XCTAssertEqual(k.users.ids, ["a", "b"])
        XCTAssertEqual(k.items.ids, ["x", "y"])
        XCTAssertEqual(k.interactions.count, 4)
    }

    /// Leave-one-out takes the last target event as test and the one before as validation.
    func testLeaveOneOutOnTarget() {
        let tax = BehaviorTaxonomy.ecommerce(behaviors: ["view", "buy"])
        // (user, item, behavior: 0 view / 1 buy, time)
        let rows = events([(0, 0, 1, 1), (0, 1, 0, 2), (0, 2, 1, 3), (0, 3, 1, 4), (0, 4, 0, 5)])
        let d = Dataset(name: "l", users: IDMap(["a"]), items: IDMap((0..<5).map(String.init)), taxonomy: tax, interactions: rows)
        let s = Split.leaveOneOut(d)
        XCTAssertEqual(s.test[0], [3])
        XCTAssertEqual(s.validation[0], [2])
        XCTAssertEqual(s.train.interactions.map(\.item), [0, 1, 4])
    }

    /// With a shipped test split, the test comes from it and validation is the last training buy.
    func testLeaveOneOutWithGivenTest() {
        let tax = BehaviorTaxonomy.ecommerce(behaviors: ["view", "buy"])
        // (user, item, behavior: 0 view / 1 buy, time)
        let rows = events([(0, 0, 1, 1), (0, 1, 1, 2), (1, 1, 1, 2)])
        let d = Dataset(
            name: "g",
            users: IDMap(["a", "b"]),
            items: IDMap(["0", "1", "2"]),
            taxonomy: tax,
            interactions: rows,
            givenTest: [(0, 2), (1, 0)]
        )
        let s = Split.leaveOneOut(d)
        XCTAssertEqual(s.test, [[2], [0]])
        XCTAssertEqual(s.validation, [[1], []], "user b has one training buy: it stays in training")
        XCTAssertEqual(s.train.interactions.count, 2)
    }

    /// A held-out pair leaves training under every behavior: the view before the validation buy
    /// would otherwise tell a multi-behavior model the answer.
    func testHeldOutPairsLeaveTrainingUnderEveryBehavior() {
        let tax = BehaviorTaxonomy.ecommerce(behaviors: ["view", "buy"])
        // (user, item, behavior: 0 view / 1 buy, time)
        let rows = events([(0, 0, 1, 1), (0, 1, 0, 2), (0, 3, 0, 3), (0, 1, 1, 4)])
        let d = Dataset(
            name: "g",
            users: IDMap(["a"]),
            items: IDMap(["0", "1", "2", "3"]),
            taxonomy: tax,
            interactions: rows,
            givenTest: [(0, 2)]
        )
        let s = Split.leaveOneOut(d)
        XCTAssertEqual(s.validation, [[1]])
        XCTAssertEqual(s.train.interactions.map(\.item), [0, 3], "the view of validation item 1 left with its buy")
    }

    /// The refit split puts the validation buy and the view that left with it back into training,
    /// in time order, and keeps the test and its sampled candidates exactly; the test pair stays out.
    func testValidationReturnsToTrainingForTheRefit() {
        let tax = BehaviorTaxonomy.ecommerce(behaviors: ["view", "buy"])
        // (user, item, behavior: 0 view / 1 buy, time)
        let rows = events([(0, 0, 1, 1), (0, 1, 0, 2), (0, 3, 0, 3), (0, 1, 1, 4), (0, 2, 0, 5), (1, 3, 1, 1)])
        let d = Dataset(
            name: "g",
            users: IDMap(["a", "b"]),
            items: IDMap((0..<6).map(String.init)),
            taxonomy: tax,
            interactions: rows,
            givenTest: [(0, 2), (1, 4)]
        )
        var s = Split.leaveOneOut(d)
        s.sampleNegatives(2, seed: 7)
        let refit = s.withValidationInTraining()
        XCTAssertEqual(s.train.interactions.map(\.item), [0, 3, 3])
        XCTAssertEqual(refit.train.interactions.map(\.item), [0, 1, 3, 1, 3], "user a: buy 0, view 1, view 3, buy 1; user b")
        XCTAssertEqual(refit.train.interactions.map(\.timestamp), [1, 2, 3, 4, 1])
        XCTAssertTrue(refit.train.target.contains(0, 1))
        XCTAssertEqual(refit.validationUsers, [])
        XCTAssertNil(refit.validationNegatives)
        XCTAssertEqual(refit.test, s.test)
        XCTAssertEqual(refit.testNegatives, s.testNegatives)
        XCTAssertFalse(refit.train.interactions.contains { $0.user == 0 && $0.item == 2 }, "the test pair's view stays out")
    }

    /// Leave-last-10: the last 10 in time order are the test, the 10 before validate.
    func testLeaveLastN() {
        let s = Split.leaveLastN(ratings([35, 15, 5]), n: 10)
        XCTAssertEqual(s.test[0].count, 10)
        XCTAssertEqual(s.validation[0].count, 10)
        XCTAssertEqual(s.test[1].count, 0, "15 interactions cannot leave 10 for training and 10 for test")
        let user0Train = s.train.interactions.filter { $0.user == 0 }
        XCTAssertEqual(user0Train.count, 15)
        XCTAssertEqual(user0Train.map(\.timestamp).max(), 14)
    }

    /// Sampled negatives: the requested number of distinct items per user, none the user's target
    /// positives; a user with fewer candidates left gets all of them.
    func testSampledNegativesAvoidPositives() {
        var s = Split.leaveOneOut(ratings([40, 60, 3], rating: { _ in 5 }))
        s.sampleNegatives(50, seed: 1)
        // 100 items: user 0 has 40 → 60 left; user 1 has 60 → only 40 left; user 2 has 3.
        XCTAssertEqual(s.testNegatives![1].count, 40)
        for u in s.testUsers {
            let negs = s.testNegatives![Int(u)]
            XCTAssertEqual(negs.count, min(50, 100 - [40, 60, 3][Int(u)]), "user \(u)")
            XCTAssertEqual(Set(negs).count, negs.count)
            for j in negs {
                XCTAssertFalse(s.train.target.contains(u, j))
                XCTAssertFalse(s.test[Int(u)].contains(j))
                XCTAssertFalse(s.validation[Int(u)].contains(j))
            }
        }
    }

    /// The BPR sampler never returns an item the user has under the target behavior.
    func testNegativeSamplerNeverReturnsAPositive() {
        let m = UserItemMatrix(userCount: 2, itemCount: 10, users: [0, 0, 0, 1, 1], items: [1, 3, 3, 9, 0])
        XCTAssertEqual(Array(m.items(of: 0)), [1, 3])
        XCTAssertTrue(m.contains(1, 9))
        XCTAssertFalse(m.contains(1, 5))
        let sampler = NegativeSampler(positives: m)
        var rng = SeededRNG(seed: 3)
        for _ in 0..<2000 {
            let j = sampler.sample(for: 0, rng: &rng)
            XCTAssertTrue(j >= 0 && j < 10)
            XCTAssertFalse(j == 1 || j == 3)
        }
    }

    /// EmoRec's rating → feedback-kind mapping.
    func testFeedbackKinds() {
        XCTAssertEqual(FeedbackKind(rating: 5), .explicitPositive)
        XCTAssertEqual(FeedbackKind(rating: 4), .implicitPositive)
        XCTAssertEqual(FeedbackKind(rating: 3), .implicitNegative)
        XCTAssertEqual(FeedbackKind(rating: 2), .explicitNegative)
        XCTAssertEqual(FeedbackKind(rating: 1), .explicitNegative)
    }
}
