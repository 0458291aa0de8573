import TacitData
import TacitStore

/// Turns a Kafka record (key = user id, value = JSON) into a `UserEvent`, or says precisely why not.
///
/// Schema (README): `user` (string or integer), `item` (string or integer), `type` (a configured
/// behavior), `ts` (epoch milliseconds as a number, or an RFC 3339 string), optional `id`
/// (string, for de-duplication), `value` (number; required for rating types), `watch_ms` and
/// `duration_ms` (non-negative numbers; `watch_ms` required for watch types), `weight`
/// (positive number, default 1). Other members are ignored, so producers can add fields.
public struct EventParser: Sendable {
    public var taxonomy: EventTaxonomy
    public var limits: EventLimits

    public init(taxonomy: EventTaxonomy, limits: EventLimits) {
        self.taxonomy = taxonomy
        self.limits = limits
    }

    public func parse(value: [UInt8], key: [UInt8]?, nowMs: Int64) -> Result<UserEvent, DeadLetterReason> {
        value.withUnsafeBytes { parse(value: $0, key: key, nowMs: nowMs) }
    }

    public func parse(value: UnsafeRawBufferPointer, key: [UInt8]?, nowMs: Int64) -> Result<UserEvent, DeadLetterReason> {
        do {
            return .success(try decode(value, key: key, nowMs: nowMs))
        } catch {
            return .failure(error)
        }
    }

    private func decode(_ bytes: UnsafeRawBufferPointer, key: [UInt8]?, nowMs: Int64) throws(DeadLetterReason) -> UserEvent {
        if bytes.isEmpty { throw .emptyPayload }
        if bytes.count > limits.maxPayloadBytes { throw .oversizedPayload(bytes: bytes.count, limit: limits.maxPayloadBytes) }
        let json: FlatJSON
        do {
            json = try FlatJSON.parse(bytes)
        } catch {
            switch error {
            case .syntax(let e): throw .malformedJSON(message: e.message, offset: e.offset)
            case .notAnObject(let t): throw .notAnObject(found: t)
            case .duplicateMember(let n): throw .duplicateField(n)
            }
        }

        let user = try identifier(json, "user")
        let item = try identifier(json, "item")
        let type = try requiredString(json, "type")
        guard let group = taxonomy.group(of: type) else { throw .unknownType(type) }

        if let key, !key.isEmpty {
            let k = String(decoding: key, as: UTF8.self)
            if k != user { throw .keyMismatch(key: k, user: user) }
        }

        let ts = try timestamp(json)
        let latest = nowMs &+ limits.maxFutureSkewMs
        guard ts >= limits.earliestTimestampMs, ts <= latest else {
            throw .timestampOutOfRange(ms: ts, earliest: limits.earliestTimestampMs, latest: latest)
        }

        var eventID: String? = nil
        switch json["id"] {
        case nil, .null?: break
        case .string(let s)?:
            guard !s.isEmpty else { throw .emptyField("id") }
            guard s.utf8.count <= limits.maxIDLength else {
                throw .fieldTooLong(field: "id", length: s.utf8.count, limit: limits.maxIDLength)
            }
            eventID = s
        case .number(_, let i?)?: eventID = String(i)
        case let v?: throw .wrongType(field: "id", expected: "string", found: v.typeName)
        }

        let value = try optionalNumber(json, "value")
        let weight = try optionalNumber(json, "weight") ?? 1
        guard weight > 0 else { throw .invalidValue(field: "weight", detail: "must be positive, got \(weight)") }
        let watchMs = try optionalNumber(json, "watch_ms")
        let durationMs = try optionalNumber(json, "duration_ms")
        if let w = watchMs, w < 0 { throw .invalidValue(field: "watch_ms", detail: "must not be negative, got \(w)") }
        if let d = durationMs, d <= 0 { throw .invalidValue(field: "duration_ms", detail: "must be positive, got \(d)") }

        let feedback: FeedbackKind?
        switch group {
        case .target, .explicitPositive: feedback = .explicitPositive
        case .auxiliary, .implicitPositive: feedback = .implicitPositive
        case .passiveNegative: feedback = .implicitNegative
        case .explicitNegative: feedback = .explicitNegative
        case .rating:
            guard let v = value else { throw .missingField("value") }
            guard v >= 0, v <= taxonomy.ratingMax else {
                throw .invalidValue(field: "value", detail: "rating \(v) outside 0...\(taxonomy.ratingMax)")
            }
            feedback = FeedbackKind(rating: Float(v), positiveThreshold: Float(taxonomy.positiveRatingThreshold))
        case .watch:
            guard let w = watchMs else { throw .missingField("watch_ms") }
            if w < Double(taxonomy.skipBelowMs) {
                feedback = .implicitNegative
            } else if let d = durationMs, w >= taxonomy.positiveWatchFraction * d {
                feedback = .implicitPositive
            } else {
                feedback = nil
            }
        }
        // For watch events the stored value is the watched fraction (or the watched ms without a duration).
        var stored = value
        if group == .watch, let w = watchMs {
            stored = durationMs.map { min(1, w / $0) } ?? w
        }
        return UserEvent(
            user: user,
            item: item,
            behavior: type,
            feedback: feedback,
            timestampMs: ts,
            eventID: eventID,
            value: stored,
            weight: weight
        )
    }

    // MARK: - Fields

    private func identifier(_ json: FlatJSON, _ name: String) throws(DeadLetterReason) -> String {
        let s: String
        switch json[name] {
        case nil, .null?: throw .missingField(name)
        case .string(let v)?: s = v
        case .number(_, let i?)?: s = String(i)
        case let v?: throw .wrongType(field: name, expected: "string or integer", found: v.typeName)
        }
        guard !s.isEmpty else { throw .emptyField(name) }
        guard s.utf8.count <= limits.maxIDLength else {
            throw .fieldTooLong(field: name, length: s.utf8.count, limit: limits.maxIDLength)
        }
        return s
    }

    private func requiredString(_ json: FlatJSON, _ name: String) throws(DeadLetterReason) -> String {
        switch json[name] {
        case nil, .null?: throw .missingField(name)
        case .string(let v)?:
            guard !v.isEmpty else { throw .emptyField(name) }
            guard v.utf8.count <= limits.maxIDLength else {
                throw .fieldTooLong(field: name, length: v.utf8.count, limit: limits.maxIDLength)
            }
            return v
        case let v?: throw .wrongType(field: name, expected: "string", found: v.typeName)
        }
    }

    private func optionalNumber(_ json: FlatJSON, _ name: String) throws(DeadLetterReason) -> Double? {
        switch json[name] {
        case nil, .null?: return nil
        case .number(let d, _)?:
            guard d.isFinite else { throw .invalidValue(field: name, detail: "not a finite number") }
            return d
        case let v?: throw .wrongType(field: name, expected: "number", found: v.typeName)
        }
    }

    private func timestamp(_ json: FlatJSON) throws(DeadLetterReason) -> Int64 {
        switch json["ts"] {
        case nil, .null?: throw .missingField("ts")
        case .number(let d, let i)?:
            if let i { return i }
            guard d.isFinite, abs(d) < 9e15 else { throw .invalidTimestamp("\(d)") }
            return Int64(d.rounded())
        case .string(let s)?:
            guard let ms = RFC3339.epochMilliseconds(s) else { throw .invalidTimestamp(s) }
            return ms
        case let v?: throw .wrongType(field: "ts", expected: "number (epoch ms) or RFC 3339 string", found: v.typeName)
        }
    }
}

/// RFC 3339 date-times (`2024-05-01T12:30:00Z`, `2024-05-01T12:30:00.250+02:00`).
enum RFC3339 {
    static func epochMilliseconds(_ s: String) -> Int64? {
        let b = Array(s.utf8)
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in 0..<n {
                let c = b[i + k]
                guard c >= 0x30, c <= 0x39 else { return nil }
                v = v * 10 + Int(c - 0x30)
            }
            i += n
            return v
        }
        func expect(_ chars: String) -> Bool {
            guard i < b.count, chars.utf8.contains(b[i]) else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2),
            expect("Tt "), let hour = digits(2), expect(":"), let minute = digits(2), expect(":"),
            let second = digits(2)
        else { return nil }
        guard (1...12).contains(month), (1...daysIn(month, year)).contains(day), hour < 24, minute < 60,
            second <= 60
        else { return nil }
        var millis = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 100, n = 0
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                millis += Int(b[i] - 0x30) * scale
                scale /= 10
                n += 1
                i += 1
            }
            guard n > 0 else { return nil }
        }
        var offsetMinutes = 0
        if expect("Zz") {
        } else if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let oh = digits(2), expect(":"), let om = digits(2), oh < 24, om < 60 else { return nil }
            offsetMinutes = sign * (oh * 60 + om)
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(year, month, day)
        let seconds = ((days * 24 + hour) * 60 + minute) * 60 + min(second, 59) - offsetMinutes * 60
        return Int64(seconds) * 1000 + Int64(millis)
    }

    static func daysIn(_ month: Int, _ year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm).
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }
}
