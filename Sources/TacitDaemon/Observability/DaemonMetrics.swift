import Prometheus
import Synchronization

/// The daemon's Prometheus metrics, on a registry of its own (served at /metrics).
public final class DaemonMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    let consumed: Counter
    let applied: Counter
    let replayed: Counter
    let duplicates: Counter
    let deadLettered: [String: Counter]
    let deadLettersPublished: Counter
    let batchLatency: DurationHistogram
    let batchSize: ValueHistogram
    let lag: Gauge
    let listsPublished: Counter
    let publishFailures: Counter
    let publishRetries: Counter
    /// Event time → list published, seconds (freshness as the user sees it), for lists new events asked for.
    let freshness: DurationHistogram
    /// The newest lists' freshness, ms: the operator page's p50/p99 of recent lists (the histogram is since start).
    let recentFreshness = Mutex(RecentValues(capacity: 4096))
    /// Lists recomputed without new events (after a promotion): not part of `freshness`.
    let listsRepublished: Counter
    let producerRecreations: Gauge
    let assignedPartitions: Gauge
    let partitionsRestoring: Gauge
    let servingModelVersion: Gauge
    let consumerErrors: Gauge
    let lastBatchAge: Gauge
    /// Fine-tune duration and metric: for the trainer (`registry` is public; these are the names).
    let modelsPublished: Counter
    let modelsInstalled: Counter
    let modelsRefused: Counter
    public let fineTuneDuration: DurationHistogram
    public let fineTuneMetric: Gauge

    public init() {
        let r = registry
        func d(_ name: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
        }
        consumed = r.makeCounter(descriptor: d("tacit_events_consumed_total", "Records read from the input topics."))
        applied = r.makeCounter(descriptor: d("tacit_events_applied_total", "Events applied to the store."))
        replayed = r.makeCounter(descriptor: d("tacit_events_replayed_total", "Records skipped because their offset was already applied."))
        duplicates = r.makeCounter(descriptor: d("tacit_events_duplicate_total", "Events skipped as duplicates of a recent event id."))
        var dl: [String: Counter] = [:]
        for code in DeadLetterReason.allCodes {
            dl[code] = r.makeCounter(descriptor: d("tacit_events_deadlettered_total", "Records refused, by reason."), labels: [("reason", code)])
        }
        deadLettered = dl
        deadLettersPublished = r.makeCounter(descriptor: d("tacit_deadletters_published_total", "Dead letters delivered to the dead-letter topic."))
        batchLatency = r.makeDurationHistogram(
            descriptor: d("tacit_batch_apply_seconds", "Parse + apply + commit time of one batch."),
            buckets: [
                .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
            ]
        )
        batchSize = r.makeValueHistogram(
            descriptor: d("tacit_batch_records", "Records per applied batch."),
            buckets: [1, 10, 100, 500, 1000, 2000, 5000, 10000]
        )
        lag = r.makeGauge(
            descriptor: d("tacit_consumer_lag", "Records behind the high watermark, summed over assigned partitions (approximate on Tansu).")
        )
        modelsPublished = r.makeCounter(descriptor: d("tacit_models_published_total", "Snapshots delivered to the models topic (role train)."))
        modelsInstalled = r.makeCounter(
            descriptor: d("tacit_models_installed_total", "Snapshots read from the models topic and served (role serve).")
        )
        modelsRefused = r.makeCounter(
            descriptor: d("tacit_models_refused_total", "Snapshots on the models topic refused: torn, corrupt or not fitting their settings.")
        )
        listsPublished = r.makeCounter(descriptor: d("tacit_recommendations_published_total", "Recommendation lists acknowledged by the broker."))
        publishFailures = r.makeCounter(descriptor: d("tacit_recommendations_failed_total", "List deliveries that failed (and were retried)."))
        publishRetries = r.makeCounter(descriptor: d("tacit_recommendations_retried_total", "List re-sends after a failed delivery."))
        // Fine below a second, where the debounce (500 ms by default) and the freshness goals live.
        freshness = r.makeDurationHistogram(
            descriptor: d("tacit_freshness_seconds", "Newest event time of a user to the acknowledgement of the list its events asked for."),
            buckets: [
                .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(75),
                .milliseconds(100), .milliseconds(150), .milliseconds(250), .milliseconds(400), .milliseconds(500), .milliseconds(600),
                .milliseconds(750), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300),
            ]
        )
        listsRepublished = r.makeCounter(
            descriptor: d("tacit_recommendations_republished_total", "Lists recomputed without new events (after a promotion), acknowledged.")
        )
        producerRecreations = r.makeGauge(descriptor: d("tacit_producer_recreations", "Times the producer was recreated after a stall."))
        assignedPartitions = r.makeGauge(descriptor: d("tacit_assigned_partitions", "Input partitions assigned to this member."))
        servingModelVersion = r.makeGauge(
            descriptor: d("tacit_serving_model_version", "Version of the model the lists come from (0: popularity, before any model).")
        )
        partitionsRestoring = r.makeGauge(
            descriptor: d("tacit_partitions_restoring", "Assigned input partitions still replaying before their users are served.")
        )
        consumerErrors = r.makeGauge(descriptor: d("tacit_consumer_errors", "Transport errors seen by the consumer since start."))
        lastBatchAge = r.makeGauge(descriptor: d("tacit_last_batch_age_seconds", "Seconds since the last applied batch."))
        fineTuneDuration = r.makeDurationHistogram(
            descriptor: d("tacit_finetune_seconds", "Duration of a fine-tune run."),
            buckets: [.seconds(1), .seconds(5), .seconds(15), .seconds(60), .seconds(300), .seconds(900), .seconds(3600)]
        )
        fineTuneMetric = r.makeGauge(descriptor: d("tacit_finetune_metric", "Held-out metric of the last fine-tuned candidate."))
    }

    /// One list's freshness (event time → acknowledged), for a list new events asked for.
    func recordFreshness(ms: Int64) {
        freshness.record(.milliseconds(ms))
        recentFreshness.withLock { $0.append(ms) }
    }
}
