import Foundation
import TacitData
import TacitKafka
import TacitStore
import Testing

@testable import TacitDaemon

@Suite("Event parser")
struct EventParserTests {
    let now: Int64 = 1_750_000_000_000  // 2025-06-15
    let parser = EventParser(taxonomy: EventTaxonomy(), limits: EventLimits())

    func parse(_ json: String, key: String? = nil) -> Result<UserEvent, DeadLetterReason> {
        parser.parse(value: Array(json.utf8), key: key.map { Array($0.utf8) }, nowMs: now)
    }

    func reason(_ json: String, key: String? = nil) -> DeadLetterReason? {
        if case .failure(let r) = parse(json, key: key) { return r }
        return nil
    }

    @Test func minimalEvent() throws {
        let e = try parse(#"{"user":"u1","item":"i9","type":"buy","ts":1700000000000}"#, key: "u1").get()
        #expect(
            e
                == UserEvent(
                    user: "u1",
                    item: "i9",
                    behavior: "buy",
                    feedback: .explicitPositive,
                    timestampMs: 1_700_000_000_000
                )
        )
    }

    @Test func allFieldsAndIntegerIDs() throws {
        let e = try parse(
            #" { "user": 42, "item": 7, "type": "view", "ts": 1700000000000.4, "id": "e-1", "weight": 2.5, "extra": {"nested": [1, {"a": null}]} } "#
        ).get()
        #expect(e.user == "42" && e.item == "7" && e.eventID == "e-1" && e.weight == 2.5)
        #expect(e.feedback == .implicitPositive && e.timestampMs == 1_700_000_000_000)
    }

    @Test func rfc3339Timestamps() throws {
        #expect(try parse(#"{"user":"u","item":"i","type":"buy","ts":"2023-11-14T22:13:20Z"}"#).get().timestampMs == 1_700_000_000_000)
        #expect(try parse(#"{"user":"u","item":"i","type":"buy","ts":"2023-11-15T00:13:20.250+02:00"}"#).get().timestampMs == 1_700_000_000_250)
        #expect(reason(#"{"user":"u","item":"i","type":"buy","ts":"2023-02-30T00:00:00Z"}"#) == .invalidTimestamp("2023-02-30T00:00:00Z"))
        #expect(reason(#"{"user":"u","item":"i","type":"buy","ts":"yesterday"}"#) == .invalidTimestamp("yesterday"))
        #expect(reason(#"{"user":"u","item":"i","type":"buy","ts":"2023-11-14T22:13:20"}"#) == .invalidTimestamp("2023-11-14T22:13:20"))
    }

    @Test func escapedStrings() throws {
        let e = try parse(#"{"user":"u\"1\u00e9\ud83d\ude00","item":"a\/b","type":"buy","ts":1700000000000}"#).get()
        #expect(e.user == "u\"1é😀" && e.item == "a/b")
    }

    @Test(arguments: [
        ("rating", 5.0, FeedbackKind.explicitPositive), ("rating", 4.0, .implicitPositive),
        ("rating", 3.0, .implicitNegative), ("rating", 2.0, .explicitNegative), ("rating", 0.5, .explicitNegative),
    ])
    func ratingMap(type: String, value: Double, expected: FeedbackKind) throws {
        let e = try parse(#"{"user":"u","item":"i","type":"\#(type)","value":\#(value),"ts":1700000000000}"#).get()
        #expect(e.feedback == expected && e.value == value)
    }

    @Test func feedbackGroups() throws {
        func kind(_ t: String) throws -> FeedbackKind? {
            try parse(#"{"user":"u","item":"i","type":"\#(t)","ts":1700000000000}"#).get().feedback
        }
        #expect(try kind("like") == .explicitPositive)
        #expect(try kind("play") == .implicitPositive)
        #expect(try kind("skip") == .implicitNegative)
        #expect(try kind("dislike") == .explicitNegative)
        #expect(try kind("cart") == .implicitPositive)
    }

    @Test func watchThresholds() throws {
        func watch(_ w: Int, _ d: Int?) throws -> UserEvent {
            let dur = d.map { #","duration_ms":\#($0)"# } ?? ""
            return try parse(#"{"user":"u","item":"i","type":"watch","watch_ms":\#(w)\#(dur),"ts":1700000000000}"#).get()
        }
        #expect(try watch(2999, 100_000).feedback == .implicitNegative)  // < 3 s: skip
        #expect(try watch(50_000, 100_000).feedback == .implicitPositive)  // ≥ 50 %
        #expect(try watch(50_000, 100_000).value == 0.5)
        #expect(try watch(49_999, 100_000).feedback == nil)  // neutral in between
        #expect(try watch(10_000, nil).feedback == nil)
        #expect(reason(#"{"user":"u","item":"i","type":"watch","ts":1700000000000}"#) == .missingField("watch_ms"))
        #expect(reason(#"{"user":"u","item":"i","type":"watch","watch_ms":-1,"ts":1700000000000}"#)?.code == "invalid_value")
        #expect(reason(#"{"user":"u","item":"i","type":"watch","watch_ms":1,"duration_ms":0,"ts":1700000000000}"#)?.code == "invalid_value")
    }

    @Test func configurableTaxonomy() throws {
        var t = EventTaxonomy()
        t.target = ["purchase"]
        t.skipBelowMs = 1000
        let p = EventParser(taxonomy: t, limits: EventLimits())
        let ok = p.parse(value: Array(#"{"user":"u","item":"i","type":"purchase","ts":1700000000000}"#.utf8), key: nil, nowMs: now)
        #expect((try? ok.get())?.feedback == .explicitPositive)
        let buy = p.parse(value: Array(#"{"user":"u","item":"i","type":"buy","ts":1700000000000}"#.utf8), key: nil, nowMs: now)
        #expect(buy == .failure(.unknownType("buy")))
        #expect(t.behaviorTaxonomy.target == "purchase")
    }

    // MARK: - Bad input, one reason each

    @Test func emptyAndOversized() {
        #expect(reason("") == .emptyPayload)
        var limits = EventLimits()
        limits.maxPayloadBytes = 64
        let p = EventParser(taxonomy: EventTaxonomy(), limits: limits)
        let big = #"{"user":"u","item":"i","type":"buy","ts":1700000000000,"pad":"\#(String(repeating: "x", count: 100))"}"#
        #expect(p.parse(value: Array(big.utf8), key: nil, nowMs: now) == .failure(.oversizedPayload(bytes: big.utf8.count, limit: 64)))
    }

    @Test(arguments: [
        "{", "{\"user\":", "{\"user\" \"u\"}", "{\"user\":\"u\",}", "{user:1}", "{\"a\":tru}", "{\"a\":01}",
        "{\"a\":1.}", "{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}", "{\"a\":1} x", "{\"a\":\"unterminated}", "\u{1}",
        "{\"a\":[1,2}", "{\"a\":1e}", "{\"a\":\"tab\tinside\"}",
    ])
    func malformedJSON(_ text: String) {
        #expect(reason(text)?.code == "malformed_json", "\(text)")
    }

    @Test func invalidUTF8IsMalformed() {
        let bytes: [UInt8] = Array(#"{"user":""#.utf8) + [0xFF, 0xFE] + Array(#"","item":"i","type":"buy","ts":1700000000000}"#.utf8)
        guard case .failure(.malformedJSON(let m, _)) = parser.parse(value: bytes, key: nil, nowMs: now) else {
            Issue.record("expected malformed JSON")
            return
        }
        #expect(m.contains("UTF-8"))
    }

    /// Unescaped strings take a fast path when ASCII; any other byte sends them through UTF-8 validation.
    @Test func unescapedNonASCIIIsValidatedNotCopiedBlindly() throws {
        let e = try parse(#"{"user":"üser 用户","item":"i-1","type":"buy","ts":1700000000000}"#).get()
        #expect(e.user == "üser 用户" && e.item == "i-1")
        // A lead byte of a two-byte sequence followed by ASCII is not UTF-8.
        let bytes: [UInt8] = Array(#"{"user":"ab"#.utf8) + [0xC3] + Array(#"c","item":"i","type":"buy","ts":1700000000000}"#.utf8)
        guard case .failure(.malformedJSON) = parser.parse(value: bytes, key: nil, nowMs: now) else {
            Issue.record("expected malformed JSON")
            return
        }
    }

    @Test func deepNestingIsRefused() {
        let deep = #"{"user":"u","x":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}"
        #expect(reason(deep)?.code == "malformed_json")
    }

    @Test func notAnObjectOrDuplicate() {
        #expect(reason("[1,2]") == .notAnObject(found: "array"))
        #expect(reason("\"s\"") == .notAnObject(found: "string"))
        #expect(reason(#"{"user":"u","user":"v"}"#) == .duplicateField("user"))
    }

    @Test func missingFields() {
        #expect(reason(#"{"item":"i","type":"buy","ts":1700000000000}"#) == .missingField("user"))
        #expect(reason(#"{"user":"u","type":"buy","ts":1700000000000}"#) == .missingField("item"))
        #expect(reason(#"{"user":"u","item":"i","ts":1700000000000}"#) == .missingField("type"))
        #expect(reason(#"{"user":"u","item":"i","type":"buy"}"#) == .missingField("ts"))
        #expect(reason(#"{"user":null,"item":"i","type":"buy","ts":1}"#) == .missingField("user"))
        #expect(reason(#"{"user":"u","item":"i","type":"rating","ts":1700000000000}"#) == .missingField("value"))
    }

    @Test func wrongTypes() {
        #expect(
            reason(#"{"user":true,"item":"i","type":"buy","ts":1700000000000}"#)
                == .wrongType(field: "user", expected: "string or integer", found: "boolean")
        )
        #expect(reason(#"{"user":1.5,"item":"i","type":"buy","ts":1700000000000}"#)?.code == "wrong_type")
        #expect(
            reason(#"{"user":"u","item":["i"],"type":"buy","ts":1700000000000}"#)
                == .wrongType(field: "item", expected: "string or integer", found: "array")
        )
        #expect(reason(#"{"user":"u","item":"i","type":3,"ts":1700000000000}"#) == .wrongType(field: "type", expected: "string", found: "number"))
        #expect(reason(#"{"user":"u","item":"i","type":"buy","ts":{}}"#)?.code == "wrong_type")
        #expect(
            reason(#"{"user":"u","item":"i","type":"buy","ts":1700000000000,"weight":"2"}"#)
                == .wrongType(field: "weight", expected: "number", found: "string")
        )
        #expect(
            reason(#"{"user":"u","item":"i","type":"buy","ts":1700000000000,"id":[]}"#) == .wrongType(field: "id", expected: "string", found: "array")
        )
    }

    @Test func emptyAndTooLong() {
        #expect(reason(#"{"user":"","item":"i","type":"buy","ts":1700000000000}"#) == .emptyField("user"))
        let long = String(repeating: "x", count: 257)
        #expect(
            reason(#"{"user":"u","item":"i","type":"buy","ts":1700000000000,"id":"\#(long)"}"#) == .fieldTooLong(field: "id", length: 257, limit: 256)
        )
        #expect(reason(#"{"user":"\#(long)","item":"i","type":"buy","ts":1700000000000}"#)?.code == "field_too_long")
    }

    @Test func unknownType() {
        #expect(reason(#"{"user":"u","item":"i","type":"teleport","ts":1700000000000}"#) == .unknownType("teleport"))
    }

    @Test func absurdTimestamps() {
        #expect(reason(#"{"user":"u","item":"i","type":"buy","ts":5}"#)?.code == "timestamp_out_of_range")
        #expect(reason(#"{"user":"u","item":"i","type":"buy","ts":1700000000}"#)?.code == "timestamp_out_of_range")  // seconds, not ms
        let tomorrowPlus = now + 2 * 86_400_000
        #expect(reason(#"{"user":"u","item":"i","type":"buy","ts":\#(tomorrowPlus)}"#)?.code == "timestamp_out_of_range")
        #expect(reason(#"{"user":"u","item":"i","type":"buy","ts":1e300}"#) == .invalidTimestamp("1e+300"))
    }

    @Test func invalidValues() {
        #expect(reason(#"{"user":"u","item":"i","type":"rating","value":6,"ts":1700000000000}"#)?.code == "invalid_value")
        #expect(reason(#"{"user":"u","item":"i","type":"buy","ts":1700000000000,"weight":0}"#)?.code == "invalid_value")
        #expect(reason(#"{"user":"u","item":"i","type":"buy","ts":1700000000000,"weight":-1}"#)?.code == "invalid_value")
    }

    @Test func keyMustMatchUser() {
        #expect(reason(#"{"user":"u1","item":"i","type":"buy","ts":1700000000000}"#, key: "u2") == .keyMismatch(key: "u2", user: "u1"))
        #expect((try? parse(#"{"user":"u1","item":"i","type":"buy","ts":1700000000000}"#, key: "").get()) != nil)
    }

    @Test func everyReasonHasADistinctCode() {
        #expect(Set(DeadLetterReason.allCodes).count == DeadLetterReason.allCodes.count)
    }

    /// What `EventMessage` writes (what `tacit replay` sends) is what the parser reads, field for field,
    /// ids with quotes, backslashes, control characters and non-ASCII included.
    @Test(arguments: [
        EventMessage(user: "u1", item: "i9", type: "buy", timestampMs: 1_700_000_000_000),
        EventMessage(user: "ü \"quoted\" \\ 用户", item: "item\twith\ttabs\n", type: "rating", value: 4.5, timestampMs: 1_700_000_000_001, id: "ml:42"),
        EventMessage(user: "7", item: "0", type: "view", value: 1e-3, timestampMs: 946_684_800_000, id: "\u{1}"),
    ])
    func aWrittenEventParsesBackToItsFields(message: EventMessage) throws {
        let e = try parser.parse(value: Array(message.json.utf8), key: message.key, nowMs: now).get()
        #expect(e.user == message.user && e.item == message.item && e.behavior == message.type)
        #expect(e.timestampMs == message.timestampMs && e.eventID == message.id && e.value == message.value)
    }
}

@Suite("Event parser throughput", .enabled(if: ProcessInfo.processInfo.environment["TACIT_BENCH"] == "1"))
struct EventParserBenchmark {
    /// Prints records/s parsed (median of 5) for MovieLens-like rating events as `tacit replay` sends them; not
    /// asserted. TACIT_BENCH=1 to run.
    @Test func parseThroughput() throws {
        let parser = EventParser(taxonomy: EventTaxonomy(), limits: EventLimits())
        let n = 200_000
        let messages = (0..<n).map { i in
            let user = "\(i % 6_040 + 1)"
            let json = #"{"user":"\#(user)","item":"\#((i &* 7919) % 3_706 + 1)","type":"rating","value":4,"ts":1749999000000,"id":"ml-1m:\#(i)"}"#
            return KafkaMessage(
                topic: "tacit.feedback",
                partition: Int32(i % 4),
                offset: Int64(i / 4),
                key: Array(user.utf8),
                value: Array(json.utf8)
            )
        }
        var rates: [Double] = []
        for _ in 0..<5 {
            let t0 = ContinuousClock.now
            let batch = parser.parse(messages, nowMs: 1_750_000_000_000)
            let dt = ContinuousClock.now - t0
            #expect(batch.records.count == n)
            rates.append(Double(n) / (Double(dt.components.seconds) + Double(dt.components.attoseconds) / 1e18))
        }
        rates.sort()
        print("event parse throughput: median \(Int(rates[2])) records/s (runs: \(rates.map { Int($0) })), one thread")
    }
}
