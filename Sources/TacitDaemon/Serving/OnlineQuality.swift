import Logging
import Prometheus
import TacitStore

/// Online quality: the daemon measures the lists it published against what each user did next,
/// per model and version, with the backtest's rule (`ListScoring`). Every delivered list is
/// remembered in the store as its user's newest; when the user's next list is delivered, the
/// previous one is scored on the events in between, and the totals of its model version grow — in
/// one transaction, so restarts lose neither (`EventStore.recordDelivered`). `/metrics` shows
/// `tacit_online_hr10`, `tacit_online_ndcg10`, `tacit_online_negshare10` and `tacit_online_lists`
/// labelled by model and version; the trainer logs the serving version's at each promotion. Beside each
/// list the publisher remembers a control, popularity's list for the same user at the same moment, scored
/// on the same events (`tacit_online_control_*`): versions are served at different moments to different
/// users, so only the control says whether a version beat the floor where it served.
public final class OnlineQuality: Sendable {
    let store: EventStore
    let target: ListScoring.Target
    let registry: PrometheusCollectorRegistry?
    let logger: Logger

    public init(store: EventStore, target: ListScoring.Target = .any, registry: PrometheusCollectorRegistry?, logger: Logger) {
        self.store = store
        self.target = target
        self.registry = registry
        self.logger = logger
    }

    /// Records lists the broker acknowledged (never throws: a failure to measure must not stop publishing).
    public func delivered(_ lists: [ServedList]) {
        guard !lists.isEmpty else { return }
        do {
            let target = self.target
            try store.recordDelivered(lists) { followUp in
                let outcome = ListScoring.score(
                    list: followUp.list.items,
                    target: target,
                    before: followUp.before,
                    next: followUp.next.map { ListScoring.NextEvent(item: $0.item, behavior: $0.behavior, feedback: $0.feedback) }
                )
                return (outcome.hit, outcome.negShare)
            }
            try updateGauges()
        } catch {
            logger.warning("online quality not recorded", metadata: ["error": "\(error)"])
        }
    }

    /// Per model version, as stored.
    public func summary() throws -> [ListQuality] { try store.listQuality() }

    /// The totals of one model version, if any of its lists were scored.
    public func quality(of model: ModelIdentity) throws -> ListQuality? {
        try summary().first { $0.model == model.name && $0.version == model.version }
    }

    func updateGauges() throws {
        guard let registry else { return }
        for q in try store.listQuality() {
            let labels = [("model", q.model), ("version", "\(q.version)")]
            func gauge(_ name: String, _ help: String) -> Gauge {
                registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
            }
            gauge("tacit_online_lists", "Published lists scored against their user's next events.").set(Double(q.lists))
            gauge("tacit_online_hr10", "HR@10 of published lists on their user's next events (lists with a new positive item).").set(q.hr10)
            gauge("tacit_online_ndcg10", "NDCG@10 of published lists on their user's next events.").set(q.ndcg10)
            gauge("tacit_online_negshare10", "Share of a published list the user then skipped, rated negatively or disliked.").set(q.negShare10)
            guard q.control.lists > 0 else { continue }
            gauge("tacit_online_control_lists", "Popularity's lists for the same users and moments (the control), scored.").set(
                Double(q.control.lists)
            )
            gauge("tacit_online_control_hr10", "HR@10 of the control lists on the same next events.").set(q.control.hr10)
            gauge("tacit_online_control_ndcg10", "NDCG@10 of the control lists on the same next events.").set(q.control.ndcg10)
            gauge("tacit_online_control_negshare10", "NegShare@10 of the control lists on the same next events.").set(q.control.negShare10)
        }
    }
}
