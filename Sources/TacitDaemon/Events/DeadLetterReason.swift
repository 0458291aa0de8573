/// Why an event was refused. Every case names what was wrong precisely enough to fix the producer;
/// `code` is a stable label for metrics and the dead-letter record.
public enum DeadLetterReason: Error, Sendable, Equatable, CustomStringConvertible {
    case emptyPayload
    case oversizedPayload(bytes: Int, limit: Int)
    case malformedJSON(message: String, offset: Int)
    case notAnObject(found: String)
    case duplicateField(String)
    case missingField(String)
    case wrongType(field: String, expected: String, found: String)
    case emptyField(String)
    case fieldTooLong(field: String, length: Int, limit: Int)
    case unknownType(String)
    case invalidTimestamp(String)
    case timestampOutOfRange(ms: Int64, earliest: Int64, latest: Int64)
    case invalidValue(field: String, detail: String)
    case keyMismatch(key: String, user: String)

    /// All metric labels, for pre-registering counters.
    public static let allCodes = [
        "empty_payload", "oversized_payload", "malformed_json", "not_an_object", "duplicate_field",
        "missing_field", "wrong_type", "empty_field", "field_too_long", "unknown_type", "invalid_timestamp",
        "timestamp_out_of_range", "invalid_value", "key_mismatch",
    ]

    public var code: String {
        switch self {
        case .emptyPayload: "empty_payload"
        case .oversizedPayload: "oversized_payload"
        case .malformedJSON: "malformed_json"
        case .notAnObject: "not_an_object"
        case .duplicateField: "duplicate_field"
        case .missingField: "missing_field"
        case .wrongType: "wrong_type"
        case .emptyField: "empty_field"
        case .fieldTooLong: "field_too_long"
        case .unknownType: "unknown_type"
        case .invalidTimestamp: "invalid_timestamp"
        case .timestampOutOfRange: "timestamp_out_of_range"
        case .invalidValue: "invalid_value"
        case .keyMismatch: "key_mismatch"
        }
    }

    public var description: String {
        switch self {
        case .emptyPayload: "empty payload"
        case .oversizedPayload(let b, let l): "payload of \(b) bytes exceeds the limit of \(l)"
        case .malformedJSON(let m, let o): "malformed JSON at byte \(o): \(m)"
        case .notAnObject(let f): "expected a JSON object, found \(f)"
        case .duplicateField(let f): "field `\(f)` appears more than once"
        case .missingField(let f): "missing field `\(f)`"
        case .wrongType(let f, let e, let found): "field `\(f)`: expected \(e), found \(found)"
        case .emptyField(let f): "field `\(f)` is empty"
        case .fieldTooLong(let f, let n, let l): "field `\(f)` is \(n) bytes long, the limit is \(l)"
        case .unknownType(let t): "unknown event type `\(t)` (not in the configured taxonomy)"
        case .invalidTimestamp(let s): "`ts` is not epoch milliseconds or RFC 3339: \(s)"
        case .timestampOutOfRange(let ms, let e, let l): "`ts` \(ms) ms is outside the accepted window [\(e), \(l)]"
        case .invalidValue(let f, let d): "field `\(f)`: \(d)"
        case .keyMismatch(let k, let u): "record key `\(k)` differs from `user` `\(u)`"
        }
    }
}
