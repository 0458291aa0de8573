import Dispatch
import Synchronization

/// Wall time spent per op kind, for `tacit bench`: it answers "how much of an epoch is BLAS".
/// Off by default; when off an op pays one relaxed atomic load.
public enum Profiler {
    /// The categories ops report under.
    public enum Category: String, CaseIterable, Sendable {
        case blas, sparse, gather, elementwise, reduction, normalization, loss, optimizer, sampling, other
    }

    private static let enabled = Atomic<Bool>(false)
    private static let totals = Mutex<[Category: UInt64]>([:])

    public static var isEnabled: Bool { enabled.load(ordering: .relaxed) }

    public static func enable(_ on: Bool) { enabled.store(on, ordering: .relaxed) }

    public static func reset() { totals.withLock { $0 = [:] } }

    /// Seconds per category since the last reset.
    public static func snapshot() -> [Category: Double] {
        totals.withLock { t in t.mapValues { Double($0) / 1e9 } }
    }

    /// Times `body` under `category` when profiling is on.
    @inlinable
    public static func measure<R>(_ category: Category, _ body: () throws -> R) rethrows -> R {
        guard isEnabled else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        defer { add(category, DispatchTime.now().uptimeNanoseconds &- start) }
        return try body()
    }

    @usableFromInline
    static func add(_ category: Category, _ nanoseconds: UInt64) {
        totals.withLock { $0[category, default: 0] &+= nanoseconds }
    }
}
