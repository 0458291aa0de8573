import Foundation

/// One fine-tune as the trainer decided it: what the operator page and `GET /api/models` show.
public struct FineTuneLogEntry: Sendable, Equatable {
    public enum Decision: String, Sendable {
        /// Passed the gate and is serving as `version`.
        case promoted
        /// Kept out by the gate (`reason`); the serving model stayed.
        case rejected
    }
    /// Row id (0 before it is stored).
    public var id: Int64 = 0
    public var atMs: Int64
    public var model: String
    public var decision: Decision
    /// The snapshot version it became (promoted only).
    public var version: Int64?
    /// The version it was compared with (nil: nothing was serving but popularity).
    public var servingVersion: Int64?
    public var reason: String?
    /// Training, evaluation and any refit.
    public var seconds: Double
    /// Held-out metrics of the candidate and of the serving model on the same users.
    public var candidate: [String: Double]
    public var serving: [String: Double]
    /// How the serving version's published lists had fared online when this ran (`lists`, `hr@10`, …).
    public var servingOnline: [String: Double]

    public init(
        atMs: Int64,
        model: String,
        decision: Decision,
        version: Int64? = nil,
        servingVersion: Int64? = nil,
        reason: String? = nil,
        seconds: Double,
        candidate: [String: Double] = [:],
        serving: [String: Double] = [:],
        servingOnline: [String: Double] = [:]
    ) {
        self.atMs = atMs
        self.model = model
        self.decision = decision
        self.version = version
        self.servingVersion = servingVersion
        self.reason = reason
        self.seconds = seconds
        self.candidate = candidate
        self.serving = serving
        self.servingOnline = servingOnline
    }
}

extension EventStore {
    /// How many fine-tunes the log keeps (newest).
    public static let fineTunesKept = 1000

    /// Appends a fine-tune to the log, dropping the oldest beyond `fineTunesKept`.
    public func recordFineTune(_ entry: FineTuneLogEntry) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        func json(_ m: [String: Double]) throws -> String {
            String(decoding: try enc.encode(m.filter { $0.value.isFinite }), as: UTF8.self)
        }
        let (candidate, serving, online) = (try json(entry.candidate), try json(entry.serving), try json(entry.servingOnline))
        try write { db throws(StoreError) in
            let s = try db.statement(
                """
                INSERT INTO fine_tunes(at_ms, model, decision, version, serving_version, reason, seconds, candidate, serving, serving_online)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                """
            )
            s.bind(1, entry.atMs).bind(2, entry.model).bind(3, entry.decision.rawValue).bind(4, entry.version)
                .bind(5, entry.servingVersion).bind(6, entry.reason).bind(7, entry.seconds)
                .bind(8, candidate).bind(9, serving).bind(10, online)
            try s.run()
            try db.exec("DELETE FROM fine_tunes WHERE id <= (SELECT max(id) FROM fine_tunes) - \(Self.fineTunesKept)")
        }
    }

    /// The newest fine-tunes, newest first.
    public func fineTunes(limit: Int) throws -> [FineTuneLogEntry] {
        try read { r in
            let s = try r.statement(
                """
                SELECT id, at_ms, model, decision, version, serving_version, reason, seconds, candidate, serving, serving_online
                FROM fine_tunes ORDER BY id DESC LIMIT ?1
                """
            )
            s.bind(1, Int64(limit))
            let dec = JSONDecoder()
            func metrics(_ column: Int32) -> [String: Double] {
                (try? dec.decode([String: Double].self, from: Data(s.string(column).utf8))) ?? [:]
            }
            var out: [FineTuneLogEntry] = []
            while try s.step() {
                var e = FineTuneLogEntry(
                    atMs: s.int64(1),
                    model: s.string(2),
                    decision: FineTuneLogEntry.Decision(rawValue: s.string(3)) ?? .rejected,
                    version: s.optionalInt64(4),
                    servingVersion: s.optionalInt64(5),
                    reason: s.isNull(6) ? nil : s.string(6),
                    seconds: s.double(7),
                    candidate: metrics(8),
                    serving: metrics(9),
                    servingOnline: metrics(10)
                )
                e.id = s.int64(0)
                out.append(e)
            }
            return out
        }
    }

    /// The newest saved snapshots without their tensors, newest first.
    public func snapshotSummaries(limit: Int) throws -> [ModelSnapshot] {
        let versions: [Int64] = try read { r in
            let s = try r.statement("SELECT version FROM snapshots ORDER BY version DESC LIMIT ?1")
            s.bind(1, Int64(limit))
            var out: [Int64] = []
            while try s.step() { out.append(s.int64(0)) }
            return out
        }
        return try versions.compactMap { try snapshot(version: $0, tensors: false) }
    }
}
