import Foundation
import Logging
import TacitServiceTestSupport
import Testing

@testable import TacitKafka

@Suite("Kafka client state machines")
struct KafkaStateMachineTests {
    typealias CSM = KafkaConsumer.StateMachine
    typealias PSM = KafkaProducer.StateMachine

    @Test func assignmentSeeksToStoredOffsetsElseBeginning() {
        var m = CSM(startPosition: .beginning)
        m.subscribed()
        let a = TopicPartition("t", 0), b = TopicPartition("t", 1)
        let action = m.assigned([a, b], stored: .success([a: 42]))
        #expect(action == .assign([a: 42, b: CSM.offsetBeginning]))
        #expect(m.assignment == [a, b])
        m.revoked([a])
        #expect(m.assignment == [b])
    }

    @Test func committedStartPositionDefersToKafka() {
        var m = CSM(startPosition: .committed)
        m.subscribed()
        let a = TopicPartition("t", 0)
        #expect(m.assigned([a], stored: .success([:])) == .assign([a: CSM.offsetStored]))
    }

    @Test func failingOffsetSourceAssignsNothingAndFailsPoll() {
        struct Boom: Error {}
        var m = CSM(startPosition: .beginning)
        m.subscribed()
        let action = m.assigned([TopicPartition("t", 0)], stored: .failure(Boom()))
        guard case .assignNothingAndFail = action else {
            Issue.record("expected failure, got \(action)")
            return
        }
        let r = m.beginPoll()
        #expect(throws: KafkaError.self) { try r.get() }
    }

    @Test func pollAfterCloseFails() {
        var m = CSM(startPosition: .beginning)
        m.subscribed()
        let first = m.close(), second = m.close()
        #expect(first && !second)
        let r = m.beginPoll()
        #expect(throws: KafkaError.self) { try r.get() }
    }

    @Test func producerStallIsDetectedOnlyWithOutstandingMessages() {
        let t0 = ContinuousClock.now
        var m = PSM(stallTimeout: .seconds(10), now: t0)
        #expect(m.check(now: t0 + .seconds(60)) == .none)  // idle is not stalled
        m.enqueued(now: t0 + .seconds(60))
        #expect(m.check(now: t0 + .seconds(65)) == .none)
        m.reported(generation: 0, now: t0 + .seconds(66))
        m.enqueued(now: t0 + .seconds(67))
        guard case .recreate = m.check(now: t0 + .seconds(77)) else {
            Issue.record("stall not detected")
            return
        }
        let g = m.recreated(now: t0 + .seconds(77))
        #expect(g == 1 && m.inFlight == 0)
        m.reported(generation: 0, now: t0 + .seconds(78))  // late report from the old client
        #expect(m.inFlight == 0)
        m.fatalError(generation: 1, reason: "x")
        guard case .recreate = m.check(now: t0 + .seconds(78)) else {
            Issue.record("fatal not acted on")
            return
        }
    }

    @Test func managedPropertiesCannotBePassedThrough() {
        let c = KafkaProducerConfiguration(client: KafkaClientConfiguration(brokers: ["x:1"], properties: ["acks": "1"]))
        #expect(throws: KafkaError.self) { _ = try c.rdkafkaProperties() }
    }

    /// librdkafka 2.4+ would leave a consumer that drains its queue fast idle for up to a second; an operator's
    /// own value, applied later, still wins.
    @Test func consumersLookAgainSoonAfterTheirQueueFilled() throws {
        let plain = KafkaConsumerConfiguration(client: KafkaClientConfiguration(brokers: ["x:1"]), groupID: "g", topics: ["t"])
        let properties = try plain.rdkafkaProperties()
        if RDKafkaVersion.current >= RDKafkaVersion(2, 4) {
            #expect(properties.last { $0.0 == "fetch.queue.backoff.ms" }?.1 == "10")
        } else {
            #expect(!properties.contains { $0.0 == "fetch.queue.backoff.ms" })
        }
        let tuned = KafkaConsumerConfiguration(
            client: KafkaClientConfiguration(brokers: ["x:1"], properties: ["fetch.queue.backoff.ms": "250"]),
            groupID: "g",
            topics: ["t"]
        )
        #expect(try tuned.rdkafkaProperties().last { $0.0 == "fetch.queue.backoff.ms" }?.1 == "250")
        if RDKafkaVersion.current >= RDKafkaVersion(2, 4) {  // the loaded librdkafka takes it (an unknown property throws)
            try KafkaConsumer(configuration: tuned, offsetSource: MemoryOffsets(), logger: testLogger("t")).close()
        }
    }

    @Test func unknownPassThroughPropertyIsRejectedByLibrdkafka() {
        let c = KafkaProducerConfiguration(client: KafkaClientConfiguration(brokers: ["x:1"], properties: ["no.such.property": "1"]))
        #expect(throws: KafkaError.self) { _ = try KafkaProducer(configuration: c, logger: testLogger("t")) }
    }

    /// While a broker is down librdkafka reports a failed connection up to about 20 times a second per client.
    @Test func connectionFailuresAreLoggedOncePerInterval() {
        var throttle = LogThrottle(interval: .seconds(30))
        let t0 = ContinuousClock.now
        #expect(throttle.admit(at: t0) == 0)
        let held = (1...600).map { throttle.admit(at: t0 + .milliseconds(50 * $0 - 1)) }
        #expect(held.allSatisfy { $0 == nil })
        #expect(throttle.admit(at: t0 + .seconds(30)) == 600)
        #expect(throttle.admit(at: t0 + .seconds(31)) == nil)
        #expect(throttle.admit(at: t0 + .seconds(61)) == 1)
    }
}

@Suite("Kafka client against a real Tansu broker", .serialized, .enabled(if: TestBroker.isAvailable))
struct KafkaBrokerTests {
    @Test func produceThenConsumeFromStoredOffsets() async throws {
        let broker = try TestBroker(partitions: 2, topics: ["t.in"])
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(
                client: KafkaClientConfiguration(brokers: [broker.bootstrap])
            ),
            logger: testLogger("p")
        )
        let poller = Task { await producer.run() }
        defer { poller.cancel() }
        let records = (0..<100).map { i in
            ProducerRecord(
                topic: "t.in",
                partition: Int32(i % 2),
                key: Array("u\(i)".utf8),
                value: Array("v\(i)".utf8),
                headers: [KafkaHeader(name: "h", string: "\(i)")]
            )
        }
        let results = await producer.sendAll(records)
        #expect(results.allSatisfy { (try? $0.get()) != nil })
        #expect(producer.statistics.delivered == 100)

        // Resume partition 0 at offset 30 (as if 30 were applied), partition 1 from scratch.
        let offsets = MemoryOffsets([TopicPartition("t.in", 0): 30])
        let consumer = try KafkaConsumer(
            configuration: fastConsumer(broker.bootstrap, group: "g1", topics: ["t.in"]),
            offsetSource: offsets,
            logger: testLogger("c")
        )
        try consumer.subscribe()
        var got: [KafkaMessage] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while got.count < 70, ContinuousClock.now < deadline {
            let batch = try consumer.poll(maxMessages: 500)
            if batch.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
            got += batch
        }
        #expect(got.count == 70)
        let p0 = got.filter { $0.partition == 0 }.map(\.offset)
        #expect(p0.first == 30 && p0.count == 20)
        #expect(got.first { $0.partition == 1 }?.headers.first?.value.map { String(decoding: $0, as: UTF8.self) } != nil)
        consumer.commit([TopicPartition("t.in", 0): 50])
        consumer.close()
        #expect(consumer.assignment.isEmpty)
        producer.close(flushTimeout: .seconds(5))
    }
}
