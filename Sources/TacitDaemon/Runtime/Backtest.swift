import Foundation
import Logging
import TacitData
import TacitEval
import TacitStore

/// The daemon's store, trainer and serving path run offline over a time-ordered event log, scored
/// prequentially: the log's first `warmupEvents` are applied and a fine-tune runs; then the rest, in
/// `rounds` equal chunks, is scored and applied chunk by chunk, a fine-tune after each. A chunk is
/// scored with the lists the daemon would serve just before it: for every user already known, the
/// top 10 (the user's consumed items left out, as the publisher does) against the items they take
/// positively in the chunk and had not consumed before. Nothing a list is judged on was seen by the
/// model that made it, so settings (`[trainer]`) can be compared on one's own data.
public struct Backtest: Sendable {
    public struct Round: Sendable, Codable, Equatable {
        /// Events of the chunk scored, by position in the log.
        public var firstEvent: Int
        public var endEvent: Int
        /// Users scored (known before the chunk, with a new positive item in it); users first seen in it.
        public var users: Int
        public var newUsers: Int
        public var hr10: Double
        public var ndcg10: Double
        /// The model that served the chunk's lists (`name@version`) and the share of those lists it
        /// made (the rest came from the popularity fallback: users the model cannot place).
        public var servedBy: String
        public var modelShare: Double
        /// What the fine-tune after the chunk did, and how long it took.
        public var fineTune: String
        public var fineTuneSeconds: Double
    }

    public let configuration: TacitConfiguration
    public let logger: Logger

    /// `configuration.store.path` is where the SQLite file goes (it must not hold other events).
    public init(configuration: TacitConfiguration, logger: Logger) throws {
        _ = try DaemonComponents.fromConfiguration(configuration)   // an unknown model fails here, naming the key
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs the backtest; `progress` sees each round as it completes (the warm-up's fine-tune
    /// comes first, as a round with no users).
    public func run(events: [UserEvent], warmupEvents: Int, rounds: Int,
                    progress: (Round) -> Void = { _ in }) async throws -> [Round] {
        precondition(rounds >= 1 && (0...events.count).contains(warmupEvents))
        let store = try EventStore(configuration: configuration.store.storeConfiguration)
        let context = DaemonContext(configuration: configuration, store: store, metrics: DaemonMetrics(),
                                    health: HealthState(stallAfterMs: 30_000), logger: logger)
        let components = try DaemonComponents.fromConfiguration(configuration)
        let recommender = try components.recommender?(context) ?? PopularityRecommender(store: store)
        let observers = try components.observers(context)
        let trainer = try components.services(context).lazy.compactMap { $0 as? TrainerService }.first

        let batch = max(1, configuration.store.batchSize)
        func apply(_ range: Range<Int>) throws {
            for start in stride(from: range.lowerBound, to: range.upperBound, by: batch) {
                let records = (start..<min(range.upperBound, start + batch)).map {
                    IngestRecord(position: StreamPosition("backtest", 0, Int64($0)), payload: .event(events[$0]))
                }
                let outcome = try store.apply(records)
                for o in observers { o.didApply(outcome) }
            }
        }
        func fineTune() async throws -> (String, Double) {
            guard let trainer else { return ("none (popularity)", 0) }
            let report = try await trainer.fineTune()
            return switch report.outcome {
            case .promoted(let v): ("promoted v\(v)", report.seconds)
            case .rejected(let reason): ("rejected: \(reason)", report.seconds)
            case .skipped(let reason): ("skipped: \(reason)", report.seconds)
            }
        }

        var out: [Round] = []
        try apply(0..<warmupEvents)
        let (warm, warmSeconds) = try await fineTune()
        let first = Round(firstEvent: 0, endEvent: warmupEvents, users: 0, newUsers: 0, hr10: 0, ndcg10: 0,
                          servedBy: "-", modelShare: 0, fineTune: warm, fineTuneSeconds: warmSeconds)
        progress(first)
        out.append(first)
        let rest = events.count - warmupEvents
        for r in 0..<rounds {
            let chunk = (warmupEvents + rest * r / rounds)..<(warmupEvents + rest * (r + 1) / rounds)
            var round = try score(chunk, events: events, store: store, recommender: recommender)
            try apply(chunk)
            (round.fineTune, round.fineTuneSeconds) = try await fineTune()
            progress(round)
            out.append(round)
        }
        return out
    }

    /// Scores the lists served just before `chunk` against the new positive items in it.
    private func score(_ chunk: Range<Int>, events: [UserEvent], store: EventStore,
                       recommender: any RecommendationSource) throws -> Round {
        var positives: [String: [String]] = [:]
        var order: [String] = []
        for e in events[chunk] where e.feedback?.isPositive == true {
            if positives[e.user] == nil { order.append(e.user) }
            positives[e.user, default: []].append(e.item)
        }
        var users = 0, newUsers = 0, byModel = 0
        var hr = 0.0, ndcg = 0.0
        for user in order {
            guard let id = try store.userID(user) else {
                newUsers += 1
                continue
            }
            let consumed = try store.interactedItems(user: id).consumed
            // Items new to the store cannot be recommended yet; they still count as relevant (ids < 0).
            var relevant = Set<Int32>()
            for (k, name) in Set(positives[user] ?? []).sorted().enumerated() {
                let item = try store.itemID(name) ?? Int32(-1 - k)
                if !consumed.contains(item) { relevant.insert(item) }
            }
            guard !relevant.isEmpty else { continue }
            let list = try recommender.recommend(user: id, k: 10, excluding: consumed)
            if list?.model == recommender.currentModel, recommender.currentModel.name != "popularity" { byModel += 1 }
            let values = Metrics.values(ranked: (list?.items.map(\.item) ?? [])[...], relevant: relevant, ks: [10])
            hr += values[0]
            ndcg += values[1]
            users += 1
        }
        let n = Double(max(users, 1))
        let served = recommender.currentModel
        return Round(firstEvent: chunk.lowerBound, endEvent: chunk.upperBound, users: users, newUsers: newUsers,
                     hr10: hr / n, ndcg10: ndcg / n, servedBy: "\(served.name)@\(served.version)",
                     modelShare: Double(byModel) / n, fineTune: "", fineTuneSeconds: 0)
    }
}
