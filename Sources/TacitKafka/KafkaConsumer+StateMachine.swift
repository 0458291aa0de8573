extension KafkaConsumer {
    /// The consumer's life cycle and rebalance decisions, free of I/O so it can be unit-tested.
    ///
    /// librdkafka calls the rebalance callback from inside `poll`; the callback asks the
    /// application for its stored offsets and this machine turns the answer into the exact
    /// positions to assign. SQLite, not Kafka, is the source of truth, so every (re)assignment
    /// seeks — also after a broker reconnect, where a plain `assign()` consumer could keep a stale
    /// position and silently skip records.
    struct StateMachine: Sendable {
        enum State: Sendable, Equatable {
            case created
            case subscribed(assignment: Set<TopicPartition>)
            case failed(String)
            case closed
        }

        /// What to hand to `rd_kafka_assign`/`incremental_assign` after an assignment.
        enum AssignAction: Sendable, Equatable {
            /// Assign these partitions at these absolute offsets (or the symbolic start offsets).
            case assign([TopicPartition: Int64])
            /// The application could not tell where to resume: assign nothing and fail the consumer,
            /// rather than guess and risk applying a record twice or skipping one.
            case assignNothingAndFail(String)
        }

        private(set) var state: State = .created
        /// Set by a rebalance inside the current poll: the batch ends there.
        private(set) var rebalancedDuringPoll = false
        let startPosition: StartPosition

        init(startPosition: StartPosition) {
            self.startPosition = startPosition
        }

        var assignment: Set<TopicPartition> {
            if case .subscribed(let a) = state { return a }
            return []
        }

        mutating func subscribed() {
            if case .created = state { state = .subscribed(assignment: []) }
        }

        /// librdkafka's symbolic offsets (rdkafka.h).
        static let offsetBeginning: Int64 = -2
        static let offsetStored: Int64 = -1000

        mutating func assigned(
            _ partitions: [TopicPartition],
            stored: Result<[TopicPartition: Int64], any Error>
        ) -> AssignAction {
            rebalancedDuringPoll = true
            guard case .subscribed(var current) = state else {
                return .assignNothingAndFail("assignment while \(state)")
            }
            switch stored {
            case .failure(let error):
                state = .failed("offset source failed on assignment of \(partitions): \(error)")
                return .assignNothingAndFail("\(error)")
            case .success(let offsets):
                var positions: [TopicPartition: Int64] = [:]
                for tp in partitions {
                    if let next = offsets[tp], next >= 0 {
                        positions[tp] = next
                    } else {
                        positions[tp] = startPosition == .beginning ? Self.offsetBeginning : Self.offsetStored
                    }
                    current.insert(tp)
                }
                state = .subscribed(assignment: current)
                return .assign(positions)
            }
        }

        mutating func revoked(_ partitions: [TopicPartition]) {
            rebalancedDuringPoll = true
            if case .subscribed(var current) = state {
                current.subtract(partitions)
                state = .subscribed(assignment: current)
            }
        }

        mutating func fail(_ reason: String) {
            if case .closed = state { return }
            state = .failed(reason)
        }

        mutating func beginPoll() -> Result<Void, KafkaError> {
            rebalancedDuringPoll = false
            switch state {
            case .subscribed: return .success(())
            case .created: return .failure(KafkaError(.poll, "poll before subscribe"))
            case .failed(let reason): return .failure(KafkaError(.offsets, reason))
            case .closed: return .failure(KafkaError(.closed, "consumer is closed"))
            }
        }

        /// Whether `close` has work to do (leave the group) or is a repeat.
        mutating func close() -> Bool {
            if case .closed = state { return false }
            state = .closed
            return true
        }
    }
}
