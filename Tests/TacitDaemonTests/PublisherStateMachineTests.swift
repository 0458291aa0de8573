import TacitKafka
import Testing

@testable import TacitDaemon

@Suite("Publisher state machine")
struct PublisherStateMachineTests {
    typealias M = PublisherStateMachine
    func list(_ d: M.Due) -> M.Outgoing { M.Outgoing(due: d, key: [], value: []) }

    @Test func debounceMergesTouches() {
        var m = M(debounceMs: 100, backoffMs: 50)
        m.touched(user: 1, external: "a", lastEventMs: 10, now: 0)
        m.touched(user: 1, external: "a", lastEventMs: 20, now: 50)
        let early = m.takeDue(now: 99)
        let due = m.takeDue(now: 100)
        #expect(early.isEmpty)
        #expect(due.count == 1 && due[0].lastEventMs == 20)
        #expect(m.isIdle)
    }

    @Test func aRepublishIsNotFromEventsUnlessEventsJoinIt() {
        var m = M(debounceMs: 100, backoffMs: 50)
        m.touched(user: 1, external: "a", lastEventMs: 10, now: 0, immediately: true, republish: true)
        m.touched(user: 2, external: "b", lastEventMs: 10, now: 0, immediately: true, republish: true)
        m.touched(user: 2, external: "b", lastEventMs: 20, now: 0)  // b has new events too
        let due = Dictionary(uniqueKeysWithValues: m.takeDue(now: 0).map { ($0.user, $0) })
        #expect(due[1]?.fromEvents == false)
        #expect(due[2]?.fromEvents == true && due[2]?.lastEventMs == 20)
    }

    @Test func failedListIsRetriedAfterBackoff() {
        var m = M(debounceMs: 0, backoffMs: 50)
        m.touched(user: 1, external: "a", lastEventMs: 1, now: 0)
        let d = m.takeDue(now: 0)[0]
        let retried = m.failed(list(d), now: 10)
        #expect(retried)
        let early = m.takeRetries(now: 59), onTime = m.takeRetries(now: 60)
        #expect(early.isEmpty && onTime == [list(d)])
    }

    @Test func newerListSupersedesAFailedOlderOne() {
        var m = M(debounceMs: 0, backoffMs: 50)
        m.touched(user: 1, external: "a", lastEventMs: 1, now: 0)
        let old = m.takeDue(now: 0)[0]
        m.touched(user: 1, external: "a", lastEventMs: 2, now: 1)
        let new = m.takeDue(now: 1)[0]
        let oldRetried = m.failed(list(old), now: 2)  // the newer list is in flight: do not resend the old one
        let newRetried = m.failed(list(new), now: 3)
        #expect(!oldRetried && newRetried)
        m.touched(user: 1, external: "a", lastEventMs: 3, now: 4)  // fresh events drop the pending retry
        let none = m.takeRetries(now: 1000)
        #expect(none.isEmpty)
    }

    @Test func shutdownTakesEverything() {
        var m = M(debounceMs: 10_000, backoffMs: 10_000)
        m.touched(user: 1, external: "a", lastEventMs: 1, now: 0)
        m.touched(user: 2, external: "b", lastEventMs: 1, now: 0)
        let all = m.takeDue(now: 1, all: true)
        #expect(all.count == 2)
    }

    @Test func messageFormat() {
        let s = PublisherService.message(
            user: "u\"1",
            items: [("i1", 2.5), ("i2", 1)],
            model: ModelIdentity(name: "lightgcn", version: 3),
            generatedAtMs: 1_700_000_000_250,
            through: [.init("t", 1): 11, .init("t", 0): 5]
        )
        #expect(
            s
                == #"{"user":"u\"1","items":[{"item":"i1","score":2.5},{"item":"i2","score":1.0}],"model":"lightgcn","model_version":3,"generated_at":"2023-11-14T22:13:20.250Z","events_through":{"t/0":4,"t/1":10}}"#
        )
    }

    @Test func base64() {
        #expect(
            JSON.base64([]) == "" && JSON.base64(Array("f".utf8)) == "Zg==" && JSON.base64(Array("fo".utf8)) == "Zm8="
                && JSON.base64(Array("foobar".utf8)) == "Zm9vYmFy"
        )
    }
}

/// State follows its partition: lists wait while a user's partition restores, and are not sent for users
/// another instance owns.
@Suite("Partition ownership")
struct PartitionOwnershipTests {
    typealias M = PublisherStateMachine
    let behaviors2 = TopicPartition("tacit.behaviors", 2), feedback2 = TopicPartition("tacit.feedback", 2)
    let behaviors3 = TopicPartition("tacit.behaviors", 3)

    @Test func usersWaitUntilTheirPartitionIsCaughtUpAndAreLeftToItsOwner() {
        let o = PartitionOwnership()
        #expect(o.verdict(partition: 2) == .wait, "no assignment since start: unknown yet")
        #expect(o.verdict(partition: nil) == .serve, "a user stored before partitions were recorded")
        let since = ContinuousClock.now
        o.assigned(
            [behaviors2, feedback2, behaviors3],
            restoring: [behaviors2: .init(from: 0, target: 100, since: since), feedback2: .init(from: 40, target: 50, since: since)]
        )
        #expect(o.verdict(partition: 2) == .wait)
        #expect(o.verdict(partition: 3) == .serve)
        #expect(o.verdict(partition: 5) == .elsewhere)
        let g = o.generation
        #expect(o.reached([behaviors2: 99, feedback2: 50]).map(\.0) == [feedback2])
        #expect(o.generation > g)
        #expect(o.verdict(partition: 2) == .wait, "both topics' partition 2 must be whole")
        #expect(o.reached([behaviors2: 99]).isEmpty)
        #expect(o.reached([behaviors2: 100]).map(\.0) == [behaviors2])
        #expect(o.verdict(partition: 2) == .serve)
        // The partition moves away mid-restore: its restoration is forgotten with it.
        o.assigned([behaviors3], restoring: [:])
        #expect(o.verdict(partition: 2) == .elsewhere && o.restoring.isEmpty)
    }

    @Test func aPartitionsEndComesFromTheFirstFetchAndAWholeCopyIsServedAtOnce() {
        let o = PartitionOwnership()
        let since = ContinuousClock.now
        o.assigned([behaviors2, behaviors3], restoring: [behaviors2: .init(from: 40, since: since), behaviors3: .init(from: 0, since: since)])
        #expect(o.reached([behaviors2: 1_000, behaviors3: 1_000]).isEmpty, "no end known yet: nothing is whole")
        #expect(o.verdict(partition: 2) == .wait && o.verdict(partition: 3) == .wait)
        // Partition 2's stored copy is whole (end 40); partition 3 replays 25 records.
        #expect(o.ends([behaviors2: 40, behaviors3: 25]).map(\.0) == [behaviors2])
        #expect(o.verdict(partition: 2) == .serve && o.verdict(partition: 3) == .wait)
        #expect(o.restoring[behaviors3]?.target == 25)
        #expect(o.reached([behaviors3: 25]).map(\.0) == [behaviors3])
        #expect(o.verdict(partition: 3) == .serve)
    }

    @Test func heldUsersAreDueAgainWhenReleasedAndNewEventsReschedule() {
        var m = M(debounceMs: 100, backoffMs: 50)
        m.touched(user: 1, external: "a", lastEventMs: 10, now: 0, immediately: true, partition: 2)
        m.touched(user: 2, external: "b", lastEventMs: 10, now: 0, immediately: true, partition: 3)
        let due = m.takeDue(now: 0)
        #expect(due.map(\.partition) == [2, 3])
        m.hold(due[0])
        #expect(m.heldCount == 1 && m.takeDue(now: 1_000).isEmpty, "held users are out of the schedule")
        m.releaseHeld(now: 1_000)
        let again = m.takeDue(now: 1_000)
        #expect(again.map(\.user) == [1] && again[0].lastEventMs == 10 && again[0].partition == 2 && m.heldCount == 0)
        // A held user with new events is scheduled by them (debounced), keeping the newest event time.
        m.hold(again[0])
        m.touched(user: 1, external: "a", lastEventMs: 30, now: 2_000, partition: 2)
        #expect(m.heldCount == 0 && m.takeDue(now: 2_099).isEmpty)
        #expect(m.takeDue(now: 2_100).map(\.lastEventMs) == [30])
    }
}
