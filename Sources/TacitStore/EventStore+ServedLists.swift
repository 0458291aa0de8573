import TacitData

/// A list as delivered to a user, remembered until their next one (online quality).
public struct ServedList: Sendable, Equatable {
    public var user: Int32
    public var model: String
    public var version: Int64
    /// Dense item ids, best first.
    public var items: [Int32]
    /// The user's events with `seq ≤ throughSeq` had been applied when the list was computed.
    public var throughSeq: Int64
    public var publishedMs: Int64
    /// The control: popularity's list for the same user at the same moment under the same rules, scored on the
    /// same next events, so each version is compared with the floor on the very moments it served (nil when
    /// popularity itself served).
    public var control: [Int32]?

    public init(
        user: Int32,
        model: String,
        version: Int64,
        items: [Int32],
        throughSeq: Int64,
        publishedMs: Int64,
        control: [Int32]? = nil
    ) {
        self.user = user
        self.model = model
        self.version = version
        self.items = items
        self.throughSeq = throughSeq
        self.publishedMs = publishedMs
        self.control = control
    }
}

/// How a model version's delivered lists fared against what their users did next (`served`, whose totals
/// read as its own: `q.lists`, `q.hr10`, …), and how popularity's lists for the same users and moments did
/// (`control`).
@dynamicMemberLookup
public struct ListQuality: Sendable, Equatable {
    public var model: String
    public var version: Int64
    public var served: Totals
    /// The control lists (`ServedList.control`) of those of the lists that had one.
    public var control: Totals

    /// Lists scored (followed by at least one event with feedback), those of them with a relevant item, and
    /// the sums their averages come from.
    public struct Totals: Sendable, Equatable {
        public var lists: Int64 = 0
        public var hitLists: Int64 = 0
        public var hrSum: Double = 0
        public var ndcgSum: Double = 0
        public var negShareSum: Double = 0

        public init(lists: Int64 = 0, hitLists: Int64 = 0, hrSum: Double = 0, ndcgSum: Double = 0, negShareSum: Double = 0) {
            self.lists = lists
            self.hitLists = hitLists
            self.hrSum = hrSum
            self.ndcgSum = ndcgSum
            self.negShareSum = negShareSum
        }

        public var hr10: Double { hitLists > 0 ? hrSum / Double(hitLists) : 0 }
        public var ndcg10: Double { hitLists > 0 ? ndcgSum / Double(hitLists) : 0 }
        public var negShare10: Double { lists > 0 ? negShareSum / Double(lists) : 0 }
    }

    public subscript<T>(dynamicMember total: KeyPath<Totals, T>) -> T { served[keyPath: total] }
}

/// What a remembered list is scored on: the user's interactions when it was made and their events after it.
public struct ListFollowUp: Sendable {
    public var list: ServedList
    public var before: [(item: Int32, behavior: String)]
    public var next: [(item: Int32, behavior: String, feedback: FeedbackKind?)]
}

extension EventStore {
    /// Remembers each delivered list as its user's newest (one per user, so memory and the table are
    /// bounded by the users) and, where the user's previous list was followed by events, scores that
    /// previous list with `score` (HR, NDCG when something was relevant; NegShare) and adds it to its
    /// model version's totals — all in one transaction, so a restart keeps lists and totals alike. Its
    /// control list, if any, is scored by the same call on the same events (`followUp.list.items` is then
    /// the control) and added to the version's control totals.
    public func recordDelivered(
        _ lists: [ServedList],
        score: (ListFollowUp) -> (hit: (hr: Double, ndcg: Double)?, negShare: Double?)
    ) throws {
        guard !lists.isEmpty else { return }
        try write { db throws(StoreError) in
            let previous = try db.statement(
                "SELECT model, version, items, through_seq, published_ms, control_items FROM served_lists WHERE user = ?1"
            )
            let after = try db.statement(
                """
                SELECT e.item, b.name, e.feedback FROM events e JOIN behaviors b ON b.id = e.behavior
                WHERE e.user = ?1 AND e.seq > ?2 AND e.seq <= ?3 ORDER BY e.seq
                """
            )
            let interactions = try db.statement(
                """
                SELECT i.item, b.name, i.count FROM interactions i JOIN behaviors b ON b.id = i.behavior WHERE i.user = ?1
                """
            )
            let total = try db.statement(
                """
                INSERT INTO list_quality(model, version, lists, hit_lists, hr_sum, ndcg_sum, neg_share_sum,
                    control_lists, control_hit_lists, control_hr_sum, control_ndcg_sum, control_neg_share_sum)
                VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                ON CONFLICT(model, version) DO UPDATE SET lists = lists + 1, hit_lists = hit_lists + excluded.hit_lists,
                    hr_sum = hr_sum + excluded.hr_sum, ndcg_sum = ndcg_sum + excluded.ndcg_sum,
                    neg_share_sum = neg_share_sum + excluded.neg_share_sum,
                    control_lists = control_lists + excluded.control_lists,
                    control_hit_lists = control_hit_lists + excluded.control_hit_lists,
                    control_hr_sum = control_hr_sum + excluded.control_hr_sum,
                    control_ndcg_sum = control_ndcg_sum + excluded.control_ndcg_sum,
                    control_neg_share_sum = control_neg_share_sum + excluded.control_neg_share_sum
                """
            )
            let remember = try db.statement(
                """
                INSERT OR REPLACE INTO served_lists(user, model, version, items, through_seq, published_ms, control_items)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                """
            )
            for list in lists {
                let user = Int64(list.user) + 1
                previous.reset()
                previous.bind(1, user)
                if try previous.step(), previous.int64(3) < list.throughSeq {
                    let old = ServedList(
                        user: list.user,
                        model: previous.string(0),
                        version: previous.int64(1),
                        items: Self.decodeItems(previous.string(2)),
                        throughSeq: previous.int64(3),
                        publishedMs: previous.int64(4),
                        control: previous.optionalString(5).map(Self.decodeItems)
                    )
                    after.reset()
                    after.bind(1, user).bind(2, old.throughSeq).bind(3, list.throughSeq)
                    var next: [(item: Int32, behavior: String, feedback: FeedbackKind?)] = []
                    var nextCounts: [String: Int64] = [:]
                    while try after.step() {
                        let item = Int32(after.int64(0) - 1), behavior = after.string(1)
                        next.append((item, behavior, after.optionalInt64(2).flatMap { FeedbackKind(rawValue: Int($0)) }))
                        nextCounts["\(item)/\(behavior)", default: 0] += 1
                    }
                    // What the user had done when the old list was made: every (item, behavior) with more
                    // events than those that came after it.
                    interactions.reset()
                    interactions.bind(1, user)
                    var before: [(item: Int32, behavior: String)] = []
                    while try interactions.step() {
                        let item = Int32(interactions.int64(0) - 1), behavior = interactions.string(1)
                        if interactions.int64(2) > nextCounts["\(item)/\(behavior)", default: 0] { before.append((item, behavior)) }
                    }
                    if next.contains(where: { $0.feedback != nil }) {
                        let followUp = ListFollowUp(list: old, before: before, next: next)
                        let outcome = score(followUp)
                        if let negShare = outcome.negShare {
                            // The control counts when it was a list (popularity had items to show).
                            var control: (hit: (hr: Double, ndcg: Double)?, negShare: Double)?
                            if let items = old.control {
                                var controlled = followUp
                                controlled.list.items = items
                                let c = score(controlled)
                                control = c.negShare.map { (c.hit, $0) }
                            }
                            total.reset()
                            total.bind(1, old.model).bind(2, old.version).bind(3, outcome.hit == nil ? 0 : 1)
                                .bind(4, outcome.hit?.hr ?? 0).bind(5, outcome.hit?.ndcg ?? 0).bind(6, negShare)
                                .bind(7, control == nil ? 0 : 1).bind(8, control?.hit == nil ? 0 : 1)
                                .bind(9, control?.hit?.hr ?? 0).bind(10, control?.hit?.ndcg ?? 0).bind(11, control?.negShare ?? 0)
                            try total.run()
                        }
                    }
                }
                previous.reset()
                remember.reset()
                remember.bind(1, user).bind(2, list.model).bind(3, list.version).bind(4, Self.encodeItems(list.items))
                    .bind(5, list.throughSeq).bind(6, list.publishedMs).bind(7, list.control.map(Self.encodeItems))
                try remember.run()
            }
        }
    }

    /// Online quality per model version, oldest version first.
    public func listQuality() throws -> [ListQuality] {
        try read { r in
            let s = try r.statement(
                """
                SELECT model, version, lists, hit_lists, hr_sum, ndcg_sum, neg_share_sum, control_lists, control_hit_lists,
                    control_hr_sum, control_ndcg_sum, control_neg_share_sum
                FROM list_quality ORDER BY version, model
                """
            )
            var out: [ListQuality] = []
            while try s.step() {
                out.append(
                    ListQuality(
                        model: s.string(0),
                        version: s.int64(1),
                        served: ListQuality.Totals(
                            lists: s.int64(2),
                            hitLists: s.int64(3),
                            hrSum: s.double(4),
                            ndcgSum: s.double(5),
                            negShareSum: s.double(6)
                        ),
                        control: ListQuality.Totals(
                            lists: s.int64(7),
                            hitLists: s.int64(8),
                            hrSum: s.double(9),
                            ndcgSum: s.double(10),
                            negShareSum: s.double(11)
                        )
                    )
                )
            }
            return out
        }
    }

    /// The user's newest remembered list.
    public func servedList(user: Int32) throws -> ServedList? {
        try read { r in
            let s = try r.statement(
                "SELECT model, version, items, through_seq, published_ms, control_items FROM served_lists WHERE user = ?1"
            )
            s.bind(1, Int64(user) + 1)
            guard try s.step() else { return nil }
            return ServedList(
                user: user,
                model: s.string(0),
                version: s.int64(1),
                items: Self.decodeItems(s.string(2)),
                throughSeq: s.int64(3),
                publishedMs: s.int64(4),
                control: s.optionalString(5).map(Self.decodeItems)
            )
        }
    }

    /// The newest applied event sequence number of a user (0 before any).
    public func lastSeq(user: Int32) throws -> Int64 {
        try read { r in
            let s = try r.statement("SELECT max(seq) FROM events WHERE user = ?1")
            s.bind(1, Int64(user) + 1)
            return try s.step() ? (s.optionalInt64(0) ?? 0) : 0
        }
    }

    static func encodeItems(_ items: [Int32]) -> String { items.map(String.init).joined(separator: ",") }
    static func decodeItems(_ text: String) -> [Int32] { text.split(separator: ",").compactMap { Int32($0) } }
}
