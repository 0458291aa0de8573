import Foundation
import Logging
import TacitKafka

// Kafka clients as tests configure them.

/// Offsets kept in memory, standing in for SQLite.
public final class MemoryOffsets: KafkaOffsetSource, @unchecked Sendable {
    private let lock = NSLock()
    private var next: [TopicPartition: Int64]
    public private(set) var assignments = 0
    public init(_ next: [TopicPartition: Int64] = [:]) { self.next = next }
    public func resumeOffsets(for partitions: [TopicPartition]) throws -> [TopicPartition: Int64] {
        lock.withLock {
            assignments += 1
            return next
        }
    }
    public func set(_ tp: TopicPartition, _ offset: Int64) { lock.withLock { next[tp] = offset } }
}

public func testLogger(_ label: String) -> Logger {
    var l = Logger(label: label)
    l.logLevel = ProcessInfo.processInfo.environment["TACIT_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
    return l
}

/// Fast group joins on Tansu (kafka.md: ~3 s at 6000/500).
public func fastConsumer(_ bootstrap: String, group: String, topics: [String]) -> KafkaConsumerConfiguration {
    KafkaConsumerConfiguration(
        client: KafkaClientConfiguration(brokers: [bootstrap]),
        groupID: group,
        topics: topics,
        sessionTimeout: .milliseconds(6000),
        heartbeatInterval: .milliseconds(500)
    )
}

/// Waits for a child process without blocking a thread, and reaps it.
public func waitForExit(_ p: Process) async {
    while p.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    p.waitUntilExit()  // reaps; returns at once
}
