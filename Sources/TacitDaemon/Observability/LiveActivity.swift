import ServiceLifecycle
import Synchronization

/// The operator page's "now" (`GET /api/now`): counters sampled once a second from `HealthState`, so
/// rates are over the last seconds rather than since start, and the freshness of the newest lists.
/// In memory only: after a restart the window fills again within `rateWindowMs`.
public final class LiveActivity: Service, Sendable {
    struct Sample: Sendable {
        var atMs: Int64
        var consumed: Int64
        var applied: Int64
        var deadLettered: Int64
        var listsPublished: Int64
    }

    /// Per-second rates, averaged over this window.
    public static let rateWindowMs: Int64 = 10_000
    static let samplesKept = 120

    let health: HealthState
    let metrics: DaemonMetrics
    private let samples = Mutex<[Sample]>([])

    public init(health: HealthState, metrics: DaemonMetrics) {
        self.health = health
        self.metrics = metrics
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            sample(nowMs: epochMilliseconds())
            try? await Task.sleep(for: .seconds(1))
        }
    }

    func sample(nowMs: Int64) {
        let h = health.snapshot
        let s = Sample(
            atMs: nowMs,
            consumed: h.eventsConsumed,
            applied: h.eventsApplied,
            deadLettered: h.deadLettered,
            listsPublished: h.listsPublished
        )
        samples.withLock {
            $0.append(s)
            if $0.count > Self.samplesKept { $0.removeFirst($0.count - Self.samplesKept) }
        }
    }

    public struct Rates: Sendable, Equatable {
        public var consumed = 0.0
        public var applied = 0.0
        public var deadLettered = 0.0
        public var listsPublished = 0.0
        /// Seconds the rates are averaged over (0: not two samples yet).
        public var windowSeconds = 0.0
    }

    /// Per-second rates between now and the oldest sample within `rateWindowMs`.
    public func rates(nowMs: Int64) -> Rates {
        sample(nowMs: nowMs)
        return samples.withLock { all in
            guard let newest = all.last, let oldest = all.first(where: { newest.atMs - $0.atMs <= Self.rateWindowMs }),
                newest.atMs > oldest.atMs
            else { return Rates() }
            let seconds = Double(newest.atMs - oldest.atMs) / 1000
            func rate(_ k: KeyPath<Sample, Int64>) -> Double { Double(newest[keyPath: k] - oldest[keyPath: k]) / seconds }
            return Rates(
                consumed: rate(\.consumed),
                applied: rate(\.applied),
                deadLettered: rate(\.deadLettered),
                listsPublished: rate(\.listsPublished),
                windowSeconds: seconds
            )
        }
    }

    /// p50 and p99 of the newest lists' freshness (nearest rank), and how many lists they are over.
    public func freshnessQuantiles() -> (p50Ms: Int64, p99Ms: Int64, lists: Int)? {
        let values = metrics.recentFreshness.withLock { $0.values }.sorted()
        guard !values.isEmpty else { return nil }
        func q(_ p: Double) -> Int64 { values[min(values.count - 1, max(0, Int((p * Double(values.count)).rounded(.up)) - 1))] }
        return (q(0.5), q(0.99), values.count)
    }
}

/// The newest `capacity` values, in a ring.
struct RecentValues: Sendable {
    let capacity: Int
    private var storage: [Int64] = []
    private var next = 0

    init(capacity: Int) {
        self.capacity = capacity
        storage.reserveCapacity(capacity)
    }

    mutating func append(_ v: Int64) {
        if storage.count < capacity {
            storage.append(v)
        } else {
            storage[next] = v
            next = (next + 1) % capacity
        }
    }

    var values: [Int64] { storage }
}
