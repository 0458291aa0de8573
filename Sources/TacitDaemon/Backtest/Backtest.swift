import Foundation
import Logging
import TacitData
import TacitEval
import TacitStore

/// The daemon's store, trainer and serving path run offline over a time-ordered event log, scored
/// prequentially: the log's first `warmupEvents` are applied and a fine-tune runs; then the rest, in
/// `rounds` equal chunks, is scored and applied chunk by chunk, a fine-tune after each. A chunk is
/// scored with the lists the daemon would serve just before it (`ListBuilder`, the publisher's
/// rules): for every user already known and active in the chunk, the top 10 against what they do in
/// it. Nothing a list is judged on was seen by the model that made it, so settings (`[trainer]`,
/// `[publisher]`) can be compared on one's own data.
public struct Backtest: Sendable {
    /// What a list is judged on (`ListScoring.Target`).
    public typealias Target = ListScoring.Target

    public struct Round: Sendable, Codable, Equatable {
        /// Events of the chunk scored, by position in the log.
        public var firstEvent: Int
        public var endEvent: Int
        /// Users scored (known before the chunk, with a relevant item in it); users first seen in it.
        public var users: Int
        public var newUsers: Int
        public var hr10: Double
        public var ndcg10: Double
        /// Lists of users known before the chunk who are active in it, and the mean share of each such
        /// list that the user then skips, rates negatively or dislikes in the chunk (lower is better).
        public var negLists: Int
        public var negShare10: Double
        /// The scored users whose history before the chunk is auxiliary behaviors only (viewers who
        /// never bought), scored on their own: what a multi-behavior model promises.
        public var auxOnlyUsers: Int
        public var auxOnlyHR10: Double
        public var auxOnlyNDCG10: Double
        /// The model that served the chunk's lists (`name@version`) and the share of those lists it
        /// made (the rest came from the popularity fallback: users the model cannot place).
        public var servedBy: String
        public var modelShare: Double
        /// What the fine-tune after the chunk did, how long it took, and the process's peak resident
        /// memory during it (MiB; 0 where the kernel does not report it).
        public var fineTune: String
        public var fineTuneSeconds: Double
        public var peakMemoryMB: Double
    }

    public let configuration: TacitConfiguration
    public let logger: Logger

    /// `configuration.store.path` is where the SQLite file goes (it must not hold other events).
    public init(configuration: TacitConfiguration, logger: Logger) throws {
        _ = try DaemonComponents.fromConfiguration(configuration)  // an unknown model fails here, naming the key
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs the backtest; `progress` sees each round as it completes (the warm-up's fine-tune
    /// comes first, as a round with no users).
    public func run(
        events: [UserEvent],
        warmupEvents: Int,
        rounds: Int,
        target: Target = .any,
        progress: (Round) -> Void = { _ in }
    ) async throws -> [Round] {
        precondition(rounds >= 1 && (0...events.count).contains(warmupEvents))
        let store = try EventStore(configuration: configuration.store.storeConfiguration)
        let context = DaemonContext(
            configuration: configuration,
            store: store,
            metrics: DaemonMetrics(),
            health: HealthState(stallAfterMs: 30_000),
            logger: logger
        )
        let components = try DaemonComponents.fromConfiguration(configuration)
        let recommender = try components.recommender?(context) ?? PopularityRecommender(store: store)
        let observers = try components.observers(context)
        let trainer = try components.services(context).lazy.compactMap { $0 as? TrainerService }.first
        var rules = configuration.publisher.rules(configuration.taxonomy)
        rules.topK = 10
        let lists = ListBuilder(store: store, source: recommender, rules: rules)

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
        func fineTune() async throws -> (String, Double, Double) {
            guard let trainer else { return ("none (popularity)", 0, 0) }
            PeakMemory.reset()
            let report = try await trainer.fineTune()
            let peak = PeakMemory.megabytes()
            let trend = TrendPrior(metrics: report.candidate).map { ", trend \($0)" } ?? ""
            return switch report.outcome {
            case .promoted(let v): ("promoted v\(v)\(trend)", report.seconds, peak)
            case .rejected(let reason): ("rejected: \(reason)", report.seconds, peak)
            case .skipped(let reason): ("skipped: \(reason)", report.seconds, peak)
            }
        }

        var out: [Round] = []
        try apply(0..<warmupEvents)
        var first = Round(
            firstEvent: 0,
            endEvent: warmupEvents,
            users: 0,
            newUsers: 0,
            hr10: 0,
            ndcg10: 0,
            negLists: 0,
            negShare10: 0,
            auxOnlyUsers: 0,
            auxOnlyHR10: 0,
            auxOnlyNDCG10: 0,
            servedBy: "-",
            modelShare: 0,
            fineTune: "",
            fineTuneSeconds: 0,
            peakMemoryMB: 0
        )
        (first.fineTune, first.fineTuneSeconds, first.peakMemoryMB) = try await fineTune()
        progress(first)
        out.append(first)
        let rest = events.count - warmupEvents
        for r in 0..<rounds {
            let chunk = (warmupEvents + rest * r / rounds)..<(warmupEvents + rest * (r + 1) / rounds)
            var round = try score(chunk, events: events, target: target, store: store, lists: lists)
            try apply(chunk)
            (round.fineTune, round.fineTuneSeconds, round.peakMemoryMB) = try await fineTune()
            progress(round)
            out.append(round)
        }
        return out
    }

    /// Scores the lists served just before `chunk` against what their users do in it (`ListScoring`).
    private func score(
        _ chunk: Range<Int>,
        events: [UserEvent],
        target: Target,
        store: EventStore,
        lists: ListBuilder
    ) throws -> Round {
        var next: [String: [UserEvent]] = [:]
        var order: [String] = []
        for e in events[chunk] where e.feedback != nil {
            if next[e.user] == nil { order.append(e.user) }
            next[e.user, default: []].append(e)
        }
        let auxiliary = Set(configuration.taxonomy.auxiliary)
        let source = lists.source
        var unknownItems: [String: Int32] = [:]
        var users = 0, newUsers = 0, byModel = 0, negLists = 0, auxOnly = 0
        var hr = 0.0, ndcg = 0.0, negShare = 0.0, auxHR = 0.0, auxNDCG = 0.0
        for user in order {
            guard let id = try store.userID(user) else {
                newUsers += 1
                continue
            }
            let interactions = try store.interactions(user: id)
            let list = try lists.list(user: id, excluding: lists.excluded(from: interactions))
            var following: [ListScoring.NextEvent] = []
            for e in next[user] ?? [] {
                // Items new to the store cannot be recommended yet; they still count as relevant (ids < 0).
                let item = try store.itemID(e.item) ?? unknownItems[e.item] ?? Int32(-1 - unknownItems.count)
                if item < 0 { unknownItems[e.item] = item }
                following.append(ListScoring.NextEvent(item: item, behavior: e.behavior, feedback: e.feedback))
            }
            let outcome = ListScoring.score(
                list: list?.items.map(\.item) ?? [],
                target: target,
                before: interactions.map { ($0.item, $0.behavior) },
                next: following
            )
            if let share = outcome.negShare {
                negShare += share
                negLists += 1
            }
            guard let hit = outcome.hit else { continue }
            if list?.model == source.currentModel, source.currentModel.name != PopularityRecommender.name { byModel += 1 }
            hr += hit.hr
            ndcg += hit.ndcg
            users += 1
            if !auxiliary.isEmpty, !interactions.isEmpty, interactions.allSatisfy({ auxiliary.contains($0.behavior) }) {
                auxOnly += 1
                auxHR += hit.hr
                auxNDCG += hit.ndcg
            }
        }
        let n = Double(max(users, 1)), a = Double(max(auxOnly, 1))
        let served = source.currentModel
        return Round(
            firstEvent: chunk.lowerBound,
            endEvent: chunk.upperBound,
            users: users,
            newUsers: newUsers,
            hr10: hr / n,
            ndcg10: ndcg / n,
            negLists: negLists,
            negShare10: negShare / Double(max(negLists, 1)),
            auxOnlyUsers: auxOnly,
            auxOnlyHR10: auxHR / a,
            auxOnlyNDCG10: auxNDCG / a,
            servedBy: "\(served.name)@\(served.version)",
            modelShare: Double(byModel) / n,
            fineTune: "",
            fineTuneSeconds: 0,
            peakMemoryMB: 0
        )
    }
}

/// The process's peak resident memory (`VmHWM`), reset between measurements through
/// `/proc/self/clear_refs` so that each fine-tune reports its own peak.
enum PeakMemory {
    static func reset() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    static func megabytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kb / 1024
    }
}
