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
