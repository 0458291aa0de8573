import Logging
import TacitKafka
import TacitStore

/// Resumes every assigned partition from the offsets in SQLite, the source of truth.
struct StoreOffsetSource: KafkaOffsetSource {
    let store: EventStore
    let logger: Logger

    func resumeOffsets(for partitions: [TopicPartition]) throws -> [TopicPartition: Int64] {
        let stored = try store.nextOffsets(for: partitions.map { StreamPartition($0.topic, $0.partition) })
        var out: [TopicPartition: Int64] = [:]
        for (p, o) in stored { out[TopicPartition(p.topic, p.partition)] = o }
        return out
    }
}
