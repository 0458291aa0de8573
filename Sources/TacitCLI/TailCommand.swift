import ArgumentParser
import Foundation
import Logging
import Synchronization
import TacitKafka

/// `tacit tail`: follow the recommendations topic and pretty-print each list.
struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Print recommendation messages as they arrive (until --limit, --idle-exit or Ctrl-C).",
        discussion: """
            Joins its own consumer group (default tacit-tail-<pid>) and reads every partition. Without \
            --from-beginning, messages produced before tail started are skipped by their timestamp (the \
            test broker's "latest" offset is unreliable, so tail reads from the start and filters). One \
            line per list: user, model@version, age (now − generated_at), the events it reflects \
            (events_through), then the top items with scores. --json prints each message as received \
            with receive and record times instead (for scripts).
            """
    )

    @Option(help: "Topic to follow.")
    var topic: String = "tacit.recommendations"

    @Option(help: "Bootstrap servers, host:port[,host:port].")
    var brokers: String = "127.0.0.1:9092"

    @Flag(help: "Print the messages already in the topic too.")
    var fromBeginning = false

    @Option(help: "Exit after this many messages (0 = never).")
    var limit: Int = 0

    @Option(help: "Exit after this many seconds without a message, once one arrived (0 = never).")
    var idleExit: Double = 0

    @Option(help: "Consumer group (default: tacit-tail-<pid>).")
    var group: String?

    @Option(help: "Items shown per list.")
    var items: Int = 5

    @Flag(help: "One JSON object per message: {\"received_ms\",\"timestamp_ms\",\"partition\",\"offset\",\"message\"}.")
    var json = false

    @Flag(help: "Print nothing per message, only the summary.")
    var quiet = false

    @Option(help: "Print at most one list per this many seconds (0 = every list); all are counted.")
    var every: Double = 0

    static let interrupted = Atomic<Bool>(false)

    func run() async throws {
        signal(SIGINT) { _ in TailCommand.interrupted.store(true, ordering: .relaxed) }
        signal(SIGTERM) { _ in TailCommand.interrupted.store(true, ordering: .relaxed) }
        var logger = Logger(label: "tacit-tail")
        logger.logLevel = .warning
        let groupID = group ?? "tacit-tail-\(getpid())"
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                client: KafkaClientConfiguration(brokers: brokers.split(separator: ",").map(String.init), clientID: "tacit-tail"),
                groupID: groupID,
                topics: [topic],
                // Fast joins on Tansu (~1-3 s), see ../shared/docs/kafka.md.
                sessionTimeout: .seconds(6),
                heartbeatInterval: .milliseconds(500),
                startPosition: .beginning
            ),
            offsetSource: NoStoredOffsets(),
            logger: logger
        )
        try consumer.subscribe()
        let startMs = wallMs()
        let clock = ContinuousClock()
        let t0 = clock.now
        var lastMessage: ContinuousClock.Instant?
        var shown = 0, skipped = 0
        var users = Set<String>()
        var ages: [Double] = []
        var models: [String: Int] = [:]
        var nextPrint = clock.now
        if !json && !quiet {
            FileHandle.standardError.write(
                Data("tail: following \(topic) on \(brokers) (group \(groupID)\(fromBeginning ? ", from the beginning" : ""))\n".utf8)
            )
        }
        loop: while !TailCommand.interrupted.load(ordering: .relaxed) {
            // Short polls keep Ctrl-C responsive; sleeping between them leaves the thread to others.
            let batch = try consumer.poll(maxMessages: 500, timeout: .zero)
            if batch.isEmpty {
                if idleExit > 0, let last = lastMessage, clock.now - last > .milliseconds(Int64(idleExit * 1000)) { break }
                try await Task.sleep(for: .milliseconds(50))
                continue
            }
            let now = wallMs()
            for m in batch {
                let o = (try? JSONSerialization.jsonObject(with: Data(m.value))) as? [String: Any]
                let generatedMs = (o?["generated_at"] as? String).flatMap(parseRFC3339Ms)
                let producedMs = m.timestampMs ?? generatedMs ?? now
                if !fromBeginning && producedMs < startMs - 1000 {
                    skipped += 1
                    continue
                }
                lastMessage = clock.now
                shown += 1
                if let u = o?["user"] as? String { users.insert(u) }
                if let g = generatedMs { ages.append(Double(now - g) / 1000) }
                if let model = o?["model"] as? String { models["\(model)@\(o?["model_version"] ?? "?")", default: 0] += 1 }
                if json {
                    print(
                        "{\"received_ms\":\(now),\"timestamp_ms\":\(m.timestampMs.map { "\($0)" } ?? "null"),"
                            + "\"partition\":\(m.partition),\"offset\":\(m.offset),\"message\":\(String(decoding: m.value, as: UTF8.self))}"
                    )
                } else if !quiet && clock.now >= nextPrint {
                    print(pretty(o, raw: m.value, nowMs: now, generatedMs: generatedMs))
                    if every > 0 { nextPrint = clock.now + .milliseconds(Int64(every * 1000)) }
                }
                if limit > 0 && shown >= limit { break loop }
            }
        }
        consumer.close()
        let secs = seconds(clock.now - t0)
        ages.sort()
        let p50 = ages.isEmpty ? "-" : fmt(ages[ages.count / 2], 2) + " s"
        let summary =
            "tail: \(shown) lists for \(users.count) users in \(fmt(secs, 1)) s"
            + (skipped > 0 ? " (\(skipped) older messages skipped)" : "")
            + "; models \(models.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))"
            + "; age at receipt p50 \(p50)"
        FileHandle.standardError.write(Data((summary + "\n").utf8))
    }

    private func pretty(_ o: [String: Any]?, raw: [UInt8], nowMs: Int64, generatedMs: Int64?) -> String {
        guard let o, let user = o["user"] as? String else {
            return "?? unparseable: " + String(decoding: raw.prefix(200), as: UTF8.self)
        }
        let model = "\(o["model"] as? String ?? "?")@\(o["model_version"] ?? "?")"
        let age = generatedMs.map { fmt(Double(nowMs - $0) / 1000, 2) + "s" } ?? "?"
        let through = (o["events_through"] as? [String: Any] ?? [:]).sorted { $0.key < $1.key }
            .map { "\($0.key)@\($0.value)" }.joined(separator: " ")
        let list = (o["items"] as? [[String: Any]] ?? []).prefix(items).enumerated().map { k, e in
            let score = (e["score"] as? NSNumber).map { fmt($0.doubleValue, 3) } ?? "?"
            return "\(k + 1). \(e["item"] as? String ?? "?") (\(score))"
        }.joined(separator: "  ")
        return "user \(user.padding(toLength: max(user.count, 5), withPad: " ", startingAt: 0))  \(model)  age \(age)  "
            + "through [\(through)]\n    \(list)"
    }
}

/// Tail keeps no offsets of its own: every assignment starts at the beginning.
struct NoStoredOffsets: KafkaOffsetSource {
    func resumeOffsets(for partitions: [TopicPartition]) throws -> [TopicPartition: Int64] { [:] }
}

/// `2024-05-01T12:30:00.250Z` → epoch ms (the form the daemon writes; other offsets via Foundation).
func parseRFC3339Ms(_ s: String) -> Int64? {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let d = f.date(from: s) { return Int64((d.timeIntervalSince1970 * 1000).rounded()) }
    f.formatOptions = [.withInternetDateTime]
    return f.date(from: s).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
}
