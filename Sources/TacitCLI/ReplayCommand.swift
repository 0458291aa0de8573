import ArgumentParser
import Foundation
import Logging
import Synchronization
import TacitDaemon
import TacitData
import TacitKafka

/// `tacit replay`: a dataset or events file → JSON events on a Kafka topic, in time order,
/// keyed by user, rate-limited, with acks=all (the daemon's idempotent producer settings).
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a dataset or events file into a Kafka topic as Tacit events.",
        discussion: """
            --data takes what `tacit eval --data` takes. Ratings (MovieLens) become \
            {"user","item","type":"rating","value":r,"ts":…,"id":…}; multi-behavior TSV folders keep their \
            behavior names as `type` (rename with --type-map pv=view); a .jsonl/.ndjson --file is sent line \
            by line unchanged (key = its "user"). Records go out in event-time order (ties by user). \
            --timestamps: now (default; `ts` = the send time, which makes the daemon's freshness metric \
            meaningful), shift (original spacing, newest event = start of the replay) or original (MovieLens \
            dates from 1997-98 are before events.earliest_timestamp and get dead-lettered by default).
            """
    )

    @Option(help: "An events file: .jsonl/.ndjson (sent unchanged), .tsv with a header, or a RecBole .inter file.")
    var file: String?

    @Option(help: "A dataset name (ml-100k, ml-1m, retail-rocket, tmall) or path, as for `tacit eval`.")
    var data: String?

    @Option(help: "Destination topic.")
    var topic: String = "tacit.feedback"

    @Option(help: "Bootstrap servers, host:port[,host:port].")
    var brokers: String = "127.0.0.1:9092"

    @Option(help: "Most records per second (0 = as fast as the broker acknowledges).")
    var rate: Double = 0

    @Option(help: "Send at most this many records (0 = all).")
    var limit: Int = 0

    @Option(help: "Skip this many records (in time order) first.")
    var skip: Int = 0

    @Option(help: "Pace by event time, this many times faster than real time (0 = off); --rate still caps.")
    var speedup: Double = 0

    @Option(help: "Event timestamps: now, shift, original.")
    var timestamps: TimestampMode = .now

    @Option(help: "Rename behavior types, e.g. pv=view,click=view.")
    var typeMap: String?

    @Flag(help: "Leave out the `id` field (de-duplication key; default \"<dataset>:<n>\").")
    var noIds = false

    @Option(help: "Seconds between progress lines (0 = only the summary).")
    var progressEvery: Double = 5

    @Option(help: "Write `partition offset user send_ms` per acknowledged record to this file (freshness measurements).")
    var deliveryLog: String?

    @Option(help: "Extra librdkafka producer property name=value (repeatable).")
    var property: [String] = []

    enum TimestampMode: String, ExpressibleByArgument, CaseIterable, Sendable {
        case now, shift, original
    }

    func validate() throws {
        guard (file == nil) != (data == nil) else { throw ValidationError("give exactly one of --file and --data") }
        guard rate >= 0, speedup >= 0, limit >= 0, skip >= 0 else {
            throw ValidationError("--rate, --speedup, --limit and --skip must not be negative")
        }
        for p in property where !p.contains("=") { throw ValidationError("--property \(p): expected name=value") }
    }

    func run() async throws {
        let source = try loadSource()
        let total = source.count
        let start = min(skip, total)
        let end = limit > 0 ? min(total, start + limit) : total
        let header =
            "replay: \(source.description) → \(topic) on \(brokers): records \(start)..<\(end), "
            + "rate \(rate > 0 ? "\(Int(rate))/s" : "unlimited")\(speedup > 0 ? ", speedup \(speedup)×" : ""), timestamps \(timestamps.rawValue)\n"
        FileHandle.standardError.write(Data(header.utf8))

        var logger = Logger(label: "tacit-replay")
        logger.logLevel = .warning
        var props: [String: String] = [:]
        for p in property {
            let kv = p.split(separator: "=", maxSplits: 1).map(String.init)
            props[kv[0]] = kv[1]
        }
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(
                client: KafkaClientConfiguration(
                    brokers: brokers.split(separator: ",").map(String.init),
                    clientID: "tacit-replay",
                    properties: props
                ),
                linger: .milliseconds(5)
            ),
            logger: logger
        )
        let poller = Task { await producer.run(pollInterval: .milliseconds(1)) }
        let tally = Tally(logPath: deliveryLog)

        let clock = ContinuousClock()
        let t0 = clock.now
        let wall0 = wallMs()
        let shiftMs = source.shiftMs(wallNowMs: wall0)
        let firstEventSec = start < end ? source.eventSeconds(start) : 0
        var nextProgress = progressEvery > 0 ? t0 + .milliseconds(Int64(progressEvery * 1000)) : nil
        var sent = 0
        for n in start..<end {
            // Pacing: record k (from 0) is not sent before k / rate seconds, nor before its
            // event-time offset / speedup.
            var due = Duration.zero
            if rate > 0 { due = .nanoseconds(Int64(Double(sent) / rate * 1e9)) }
            if speedup > 0 {
                let byTime = Duration.nanoseconds(Int64(Double(source.eventSeconds(n) - firstEventSec) / speedup * 1e9))
                if byTime > due { due = byTime }
            }
            if t0 + due > clock.now + .milliseconds(1) { try await clock.sleep(until: t0 + due) }
            let sendMs = wallMs()
            let (key, value) = source.record(
                n,
                sendMs: sendMs,
                shiftMs: shiftMs,
                mode: timestamps,
                ids: !noIds,
                typeMap: parsedTypeMap
            )
            let record = ProducerRecord(topic: topic, key: key, value: value)
            // A full local queue refuses at once: wait for acknowledgements and try again.
            while true {
                let refusedFull = AtomicFlag()
                tally.outstanding.add(1, ordering: .relaxed)
                let user = tally.logs ? String(decoding: key, as: UTF8.self) : ""
                producer.enqueue(record) { result in
                    switch result {
                    case .success(let report):
                        tally.acked(report, user: user, sendMs: sendMs)
                    case .failure(let e) where e.code == .queueFull:
                        refusedFull.value.store(true, ordering: .relaxed)
                    case .failure(let e):
                        tally.failed(e)
                    }
                    tally.outstanding.subtract(1, ordering: .relaxed)
                }
                if !refusedFull.value.load(ordering: .relaxed) { break }
                try await Task.sleep(for: .milliseconds(2))
            }
            sent += 1
            if let p = nextProgress, clock.now >= p {
                nextProgress = p + .milliseconds(Int64(progressEvery * 1000))
                let secs = seconds(clock.now - t0)
                print(
                    "replay: \(sent)/\(end - start) records, \(tally.ackedCount) acknowledged, \(fmt(secs, 1)) s, "
                        + "\(Int(Double(sent) / max(secs, 1e-9))) records/s"
                )
            }
        }
        // Wait for every acknowledgement (acks=all), then release the client.
        let deadline = clock.now + .seconds(150)
        while tally.outstanding.load(ordering: .relaxed) > 0 && clock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        let secs = seconds(clock.now - t0)
        poller.cancel()
        _ = await poller.value
        producer.close(flushTimeout: .seconds(5))
        tally.close()
        let failed = tally.failedCount + tally.outstanding.load(ordering: .relaxed)
        print(
            "replay: done: \(tally.ackedCount) records acknowledged → \(topic) in \(fmt(secs, 2)) s "
                + "(\(Int(Double(tally.ackedCount) / max(secs, 1e-9))) records/s), \(failed) failed"
                + (tally.lastError.map { " (last error: \($0))" } ?? "")
        )
        if failed > 0 { throw ExitCode.failure }
    }

    private var parsedTypeMap: [String: String] {
        var m: [String: String] = [:]
        for pair in (typeMap ?? "").split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if kv.count == 2 { m[kv[0]] = kv[1] }
        }
        return m
    }

    private func loadSource() throws -> ReplaySource {
        let path = file ?? data!
        if file != nil, path.hasSuffix(".jsonl") || path.hasSuffix(".ndjson") || path.hasSuffix(".json") {
            return try ReplaySource.jsonLines(path: path)
        }
        if file != nil, !FileManager.default.fileExists(atPath: path) {
            throw ValidationError("--file \(path): no such file")
        }
        return ReplaySource.dataset(try DatasetLoader.load(path))
    }
}

// MARK: - Sources

/// The records to replay, in the order they are sent.
enum ReplaySource {
    /// A loaded dataset and the indices of its interactions in event-time order.
    case dataset(Dataset, order: [Int])
    /// JSON lines sent unchanged: (key, value, ts seconds for pacing).
    case lines(name: String, [(key: [UInt8], value: [UInt8], seconds: Int64)])

    static func dataset(_ d: Dataset) -> ReplaySource {
        let order = d.interactions.indices.sorted {
            (d.interactions[$0].timestamp, $0) < (d.interactions[$1].timestamp, $1)
        }
        return .dataset(d, order: order)
    }

    static func jsonLines(path: String) throws -> ReplaySource {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("--file \(path): cannot read")
        }
        var out: [(key: [UInt8], value: [UInt8], seconds: Int64)] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            let bytes = Array(line.utf8)
            var key: [UInt8] = []
            var secs = Int64(n)
            if let o = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] {
                if let u = o["user"] as? String { key = Array(u.utf8) } else if let u = o["user"] as? NSNumber { key = Array(u.stringValue.utf8) }
                if let t = o["ts"] as? NSNumber { secs = t.int64Value > 100_000_000_000 ? t.int64Value / 1000 : t.int64Value }
            }
            // Lines that are not JSON objects are sent too: the daemon dead-letters them.
            out.append((key, bytes, secs))
        }
        return .lines(name: URL(fileURLWithPath: path).lastPathComponent, out)
    }

    var count: Int {
        switch self {
        case .dataset(_, let order): order.count
        case .lines(_, let l): l.count
        }
    }

    var description: String {
        switch self {
        case .dataset(let d, _): d.summary
        case .lines(let name, let l): "\(name): \(l.count) JSON lines"
        }
    }

    /// Event time of record `n` in seconds (pacing with --speedup).
    func eventSeconds(_ n: Int) -> Int64 {
        switch self {
        case .dataset(let d, let order): d.interactions[order[n]].timestamp
        case .lines(_, let l): l[n].seconds
        }
    }

    /// For --timestamps shift: what to add to an event's time (ms) so the newest lands at `wallNowMs`.
    func shiftMs(wallNowMs: Int64) -> Int64 {
        guard count > 0 else { return 0 }
        return wallNowMs - eventSeconds(count - 1) * 1000
    }

    func record(
        _ n: Int,
        sendMs: Int64,
        shiftMs: Int64,
        mode: ReplayCommand.TimestampMode,
        ids: Bool,
        typeMap: [String: String]
    ) -> (key: [UInt8], value: [UInt8]) {
        switch self {
        case .lines(_, let l):
            return (l[n].key, l[n].value)
        case .dataset(let d, let order):
            let e = d.interactions[order[n]]
            let user = d.users[e.user], item = d.items[e.item]
            var type = d.taxonomy.behaviors[Int(e.behavior)]
            type = typeMap[type] ?? type
            let ts: Int64 =
                switch mode {
                case .now: sendMs
                case .shift: e.timestamp * 1000 + shiftMs
                case .original: e.timestamp * 1000
                }
            let message = EventMessage(
                user: user,
                item: item,
                type: type,
                value: e.hasValue ? Double(e.value) : nil,
                timestampMs: ts,
                id: ids ? "\(d.name):\(order[n])" : nil
            )
            return (message.key, Array(message.json.utf8))
        }
    }
}

// MARK: - Delivery accounting

/// Counts acknowledgements from librdkafka's callback thread; optionally logs each one.
final class Tally: Sendable {
    let outstanding = Atomic<Int>(0)
    private let ackedAtomic = Atomic<Int>(0)
    private let failedAtomic = Atomic<Int>(0)
    private let error = Mutex<String?>(nil)
    private let log: Mutex<FileHandle?>
    private let buffer = Mutex<String>("")
    let logs: Bool

    init(logPath: String?) {
        if let logPath {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            log = Mutex(FileHandle(forWritingAtPath: logPath))
        } else {
            log = Mutex(nil)
        }
        logs = logPath != nil
    }

    var ackedCount: Int { ackedAtomic.load(ordering: .relaxed) }
    var failedCount: Int { failedAtomic.load(ordering: .relaxed) }
    var lastError: String? { error.withLock { $0 } }

    func acked(_ r: DeliveryReport, user: String, sendMs: Int64) {
        ackedAtomic.add(1, ordering: .relaxed)
        guard logs else { return }
        let flush = buffer.withLock { b -> String? in
            b += "\(r.topic)/\(r.partition) \(r.offset) \(user) \(sendMs)\n"
            guard b.utf8.count > 1 << 16 else { return nil }
            defer { b = "" }
            return b
        }
        if let flush { log.withLock { $0?.write(Data(flush.utf8)) } }
    }

    func failed(_ e: KafkaError) {
        failedAtomic.add(1, ordering: .relaxed)
        error.withLock { $0 = "\(e)" }
    }

    func close() {
        let rest = buffer.withLock { b -> String in
            defer { b = "" }
            return b
        }
        log.withLock {
            $0?.write(Data(rest.utf8))
            try? $0?.close()
            $0 = nil
        }
    }
}

final class AtomicFlag: Sendable {
    let value = Atomic<Bool>(false)
}

func wallMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func fmt(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
