import Foundation
import TacitData
import Testing

@testable import TacitDaemon

/// The rule that scores a served list against what its user did next (backtest and online alike).
@Suite("List scoring")
struct ListScoringTests {
    func next(_ item: Int32, _ behavior: String, _ feedback: FeedbackKind?) -> ListScoring.NextEvent {
        ListScoring.NextEvent(item: item, behavior: behavior, feedback: feedback)
    }

    @Test func aListThenAHitASkipAndADislike() {
        // The list 10 11 12 13; the user then buys 12 (third), skips 10 and dislikes 13.
        let outcome = ListScoring.score(
            list: [10, 11, 12, 13],
            target: .any,
            before: [(1, "buy")],
            next: [
                next(12, "buy", .explicitPositive), next(10, "skip", .implicitNegative),
                next(13, "dislike", .explicitNegative),
            ]
        )
        #expect(outcome.hit?.hr == 1)
        #expect(abs((outcome.hit?.ndcg ?? 0) - 1 / log2(4.0)) < 1e-12)
        #expect(outcome.negShare == 0.5)
    }

    @Test func nothingRelevantLeavesHitsUnscoredButCountsNegatives() {
        let outcome = ListScoring.score(
            list: [10, 11],
            target: .any,
            before: [],
            next: [next(11, "rating", .implicitNegative), next(50, "watch", nil)]
        )
        #expect(outcome.hit == nil)
        #expect(outcome.negShare == 0.5)
    }

    @Test func discoveryIgnoresItemsSeenBeforeAndABehaviorTargetDoesNot() {
        // The user had viewed 12; buying it is no discovery, but it is a purchase.
        let before: [(item: Int32, behavior: String)] = [(12, "view")]
        let events = [next(12, "buy", .explicitPositive)]
        #expect(ListScoring.score(list: [12, 13], target: .any, before: before, next: events).hit == nil)
        let buy = ListScoring.score(list: [12, 13], target: .behavior("buy"), before: before, next: events)
        #expect(buy.hit?.hr == 1 && buy.hit?.ndcg == 1)
        // A second purchase of an item bought before is not relevant for the buy target either.
        #expect(ListScoring.score(list: [12], target: .behavior("buy"), before: [(12, "buy")], next: events).hit == nil)
    }

    @Test func anItemTheListCannotHoldStillCountsAsAMiss() {
        let outcome = ListScoring.score(list: [10, 11], target: .any, before: [], next: [next(-1, "buy", .explicitPositive)])
        #expect(outcome.hit?.hr == 0 && outcome.hit?.ndcg == 0)
        #expect(ListScoring.score(list: [], target: .any, before: [], next: []).negShare == nil)
    }
}
