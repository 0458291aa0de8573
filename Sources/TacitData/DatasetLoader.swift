import Foundation

/// Reads datasets from disk: the TSV folders in `shared/data`, RecBole `.inter` files
/// (MovieLens), and a generic events file (JSON lines or TSV) for anyone's own log.
public enum DatasetLoader {
    public struct LoadError: Error, CustomStringConvertible {
        public let path: String
        public let line: Int?
        public let reason: String
        public var description: String { "\(path)\(line.map { ":\($0)" } ?? ""): \(reason)" }
    }

    // MARK: - Named datasets

    /// Resolves a `--data` argument: a known name (`ml-100k`, `ml-1m`, `retail-rocket`, `tmall`) or a path
    /// to a folder with train.tsv, an `.inter` file, or a `.jsonl` / `.tsv` events file.
    ///
    /// Named MovieLens sets live in `$TACIT_DATA_DIR` (default `.data/` of the working directory, filled by
    /// `scripts/setup.sh`); the shared multi-behavior sets in `$TACIT_SHARED_DATA` (default `../shared/data`).
    public static func load(
        _ nameOrPath: String,
        watch: WatchThresholds = WatchThresholds(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> Dataset {
        let dataset = try resolve(nameOrPath, watch: watch, environment: environment)
        guard !dataset.interactions.isEmpty else {
            throw LoadError(path: nameOrPath, line: nil, reason: "no interactions in the dataset")
        }
        return dataset
    }

    static func resolve(_ nameOrPath: String, watch: WatchThresholds, environment: [String: String]) throws -> Dataset {
        let dataDir = environment["TACIT_DATA_DIR"] ?? ".data"
        let shared = environment["TACIT_SHARED_DATA"] ?? "../shared/data"
        switch nameOrPath {
        case "ml-100k": return try recboleInter(path: "\(dataDir)/ml-100k/ml-100k.inter", name: "ml-100k")
        case "ml-1m": return try recboleInter(path: "\(dataDir)/ml-1m/ml-1m.inter", name: "ml-1m")
        case "retail-rocket", "retail_rocket": return try tsvFolder(path: "\(shared)/retail_rocket", name: "retail-rocket")
        case "tmall", "tmall_no_pv", "tmall-no-pv": return try tsvFolder(path: "\(shared)/tmall_no_pv", name: "tmall-no-pv")
        default: break
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: nameOrPath, isDirectory: &isDir) else {
            throw LoadError(
                path: nameOrPath,
                line: nil,
                reason:
                    "no such dataset: use ml-100k, ml-1m, retail-rocket, tmall, or a path (run scripts/setup.sh for MovieLens)"
            )
        }
        let name = URL(fileURLWithPath: nameOrPath).lastPathComponent
        if isDir.boolValue { return try tsvFolder(path: nameOrPath, name: name) }
        if nameOrPath.hasSuffix(".inter") { return try recboleInter(path: nameOrPath, name: name) }
        return try eventsFile(path: nameOrPath, name: name, watch: watch)
    }

    // MARK: - shared/data TSV folders

    /// `train.tsv` (`user item behavior timestamp`) and optional `test.tsv` (`user item`), 0-based ids.
    public static func tsvFolder(path: String, name: String) throws -> Dataset {
        let trainPath = "\(path)/train.tsv"
        var users = IDMap(), items = IDMap()
        var behaviors: [String] = []
        var rows: [Interaction] = []
        try forEachLine(trainPath, skipHeader: true) { line, number in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count >= 4, let ts = Int64(f[3]) else {
                throw LoadError(path: trainPath, line: number, reason: "expected user, item, behavior, timestamp")
            }
            let b = String(f[2])
            let code: Int
            if let c = behaviors.firstIndex(of: b) {
                code = c
            } else {
                behaviors.append(b)
                code = behaviors.count - 1
            }
            rows.append(
                Interaction(
                    user: users.intern(String(f[0])),
                    item: items.intern(String(f[1])),
                    behavior: UInt8(code),
                    timestamp: ts
                )
            )
        }
        // Canonical behavior order (funnel order) so codes do not depend on the file's first rows.
        let funnel = ["pv", "view", "click", "fav", "cart", "buy"]
        let ordered = behaviors.sorted { (funnel.firstIndex(of: $0) ?? 99, $0) < (funnel.firstIndex(of: $1) ?? 99, $1) }
        let remap = behaviors.map { UInt8(ordered.firstIndex(of: $0)!) }
        for k in rows.indices { rows[k].behavior = remap[Int(rows[k].behavior)] }

        var test: [(user: Int32, item: Int32)]?
        let testPath = "\(path)/test.tsv"
        if FileManager.default.fileExists(atPath: testPath) {
            var pairs: [(user: Int32, item: Int32)] = []
            try forEachLine(testPath, skipHeader: true) { line, number in
                let f = line.split(separator: "\t")
                guard f.count >= 2 else { throw LoadError(path: testPath, line: number, reason: "expected user, item") }
                pairs.append((users.intern(String(f[0])), items.intern(String(f[1]))))
            }
            test = pairs
        }
        guard ordered.contains("buy") else {
            throw LoadError(path: trainPath, line: nil, reason: "no 'buy' behavior: found \(ordered)")
        }
        return Dataset(
            name: name,
            users: users,
            items: items,
            taxonomy: .ecommerce(behaviors: ordered),
            interactions: rows,
            givenTest: test
        )
    }

    // MARK: - RecBole atomic files

    /// A RecBole `.inter` file with `user_id`, `item_id`, `rating`, `timestamp` columns (any order).
    public static func recboleInter(path: String, name: String) throws -> Dataset {
        var users = IDMap(), items = IDMap()
        var rows: [Interaction] = []
        var col: (u: Int, i: Int, r: Int?, t: Int?) = (-1, -1, nil, nil)
        try forEachLine(path, skipHeader: false) { line, number in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            if number == 1 {
                let names = f.map { $0.split(separator: ":").first.map(String.init) ?? "" }
                guard let u = names.firstIndex(of: "user_id"), let i = names.firstIndex(of: "item_id") else {
                    throw LoadError(path: path, line: 1, reason: "header needs user_id and item_id columns")
                }
                col = (u, i, names.firstIndex(of: "rating"), names.firstIndex(of: "timestamp"))
                return
            }
            guard f.count > max(col.u, col.i, col.r ?? 0, col.t ?? 0) else {
                throw LoadError(path: path, line: number, reason: "expected \(max(col.u, col.i) + 1)+ fields")
            }
            let rating = col.r.flatMap { Float(f[$0]) } ?? .nan
            let ts = col.t.flatMap { Double(f[$0]) }.map { Int64($0) } ?? Int64(number)
            rows.append(
                Interaction(
                    user: users.intern(String(f[col.u])),
                    item: items.intern(String(f[col.i])),
                    behavior: 0,
                    timestamp: ts,
                    value: rating
                )
            )
        }
        return Dataset(
            name: name,
            users: users,
            items: items,
            taxonomy: .ratings,
            interactions: rows,
            hasRatings: col.r != nil
        )
    }

    // MARK: - Generic events

    /// Events as JSON lines (`{"user","item","type","ts","value","watch_ms","duration_ms"}`, `ts` in seconds
    /// or milliseconds) or TSV with a header naming `user`, `item`, and optionally `behavior`/`type`,
    /// `timestamp`/`ts`, `value`, `watch_ms`, `duration_ms`. Behavior names other than buy/view/cart/fav
    /// make a taxonomy whose target is `buy` if there is one, else the most frequent positive behavior.
    /// An event with `watch_ms` is a `skip` below `watch.skipBelowMs`, a `play` (positive) at or above
    /// `watch.positiveFraction` of `duration_ms`, and a `watch` (neither) in between; its value is the
    /// watched fraction.
    public static func eventsFile(path: String, name: String, watch: WatchThresholds = WatchThresholds()) throws -> Dataset {
        var users = IDMap(), items = IDMap(), behaviors = IDMap()
        var rows: [Interaction] = []
        var anyValue = false
        let isJSON = path.hasSuffix(".jsonl") || path.hasSuffix(".json") || path.hasSuffix(".ndjson")
        var header: [String] = []
        try forEachLine(path, skipHeader: false) { line, number in
            if line.isEmpty { return }
            var user = "", item = "", behavior = "event", ts: Double = Double(number), value = Float.nan
            var watchMs: Double?, durationMs: Double?
            if isJSON {
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    throw LoadError(path: path, line: number, reason: "not a JSON object")
                }
                func str(_ k: String) -> String? {
                    if let s = obj[k] as? String { return s }
                    if let n = obj[k] as? NSNumber { return n.stringValue }
                    return nil
                }
                guard let u = str("user"), let i = str("item") else {
                    throw LoadError(path: path, line: number, reason: "needs \"user\" and \"item\"")
                }
                user = u
                item = i
                // A row with a value and no type is a rating (MovieLens-style exports).
                behavior = str("type") ?? str("behavior") ?? (obj["value"] ?? obj["rating"] != nil ? "rating" : behavior)
                if let t = obj["ts"] as? NSNumber {
                    ts = t.doubleValue
                } else if let t = obj["ts"] as? String {
                    guard let d = ISO8601DateFormatter().date(from: t) else {
                        throw LoadError(path: path, line: number, reason: "ts \"\(t)\" is not RFC 3339")
                    }
                    ts = d.timeIntervalSince1970
                }
                if let v = (obj["value"] ?? obj["rating"]) as? NSNumber { value = v.floatValue }
                watchMs = (obj["watch_ms"] as? NSNumber)?.doubleValue
                durationMs = (obj["duration_ms"] as? NSNumber)?.doubleValue
            } else {
                let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                if header.isEmpty {
                    header = f.map { $0.split(separator: ":").first.map(String.init)?.lowercased() ?? "" }
                    guard header.contains("user") || header.contains("user_id"),
                        header.contains("item") || header.contains("item_id")
                    else {
                        throw LoadError(path: path, line: 1, reason: "TSV header needs user and item columns")
                    }
                    return
                }
                func field(_ names: String...) -> String? {
                    for n in names { if let k = header.firstIndex(of: n), k < f.count { return f[k] } }
                    return nil
                }
                user = field("user", "user_id") ?? ""
                item = field("item", "item_id") ?? ""
                if let v = field("value", "rating").flatMap(Float.init) { value = v }
                // A `user item rating timestamp` file has no type column: its rows are ratings.
                behavior = field("behavior", "type") ?? (field("value", "rating") != nil ? "rating" : behavior)
                if let t = field("timestamp", "ts").flatMap(Double.init) { ts = t }
                watchMs = field("watch_ms").flatMap(Double.init)
                durationMs = field("duration_ms").flatMap(Double.init)
            }
            if let w = watchMs {
                guard w >= 0, w.isFinite else { throw LoadError(path: path, line: number, reason: "watch_ms must be ≥ 0, got \(w)") }
                let fraction = durationMs.flatMap { $0 > 0 ? w / $0 : nil }
                behavior = w < Double(watch.skipBelowMs) ? "skip" : (fraction ?? 0) >= watch.positiveFraction ? "play" : "watch"
                value = Float(fraction ?? .nan)
            }
            if ts > 1e11 { ts /= 1000 }  // epoch milliseconds
            anyValue = anyValue || !value.isNaN
            rows.append(
                Interaction(
                    user: users.intern(user),
                    item: items.intern(item),
                    behavior: UInt8(behaviors.intern(behavior)),
                    timestamp: Int64(ts),
                    value: value
                )
            )
        }
        guard behaviors.count <= Int(UInt8.max) else {
            throw LoadError(path: path, line: nil, reason: "more than 255 behavior names")
        }
        let names = behaviors.ids
        var counts = [Int](repeating: 0, count: names.count)
        for r in rows { counts[Int(r.behavior)] += 1 }
        // The target: buy, else the most frequent behavior that is not negative feedback or a partial watch.
        let candidates = counts.indices.filter { !["skip", "dislike", "watch"].contains(names[$0]) }
        let target =
            names.contains("buy")
            ? "buy"
            : names[candidates.max { counts[$0] < counts[$1] } ?? counts.indices.max { counts[$0] < counts[$1] } ?? 0]
        var taxonomy = BehaviorTaxonomy(
            behaviors: names,
            target: target,
            auxiliary: names.filter { $0 != target },
            positive: names.filter { ["buy", "like", "play", "rating"].contains($0) } + [target]
        )
        taxonomy.passiveNegative = names.filter { $0 == "skip" }
        taxonomy.explicitNegative = names.filter { $0 == "dislike" }
        taxonomy.auxiliary.removeAll { taxonomy.passiveNegative.contains($0) || taxonomy.explicitNegative.contains($0) }
        return Dataset(name: name, users: users, items: items, taxonomy: taxonomy, interactions: rows, hasRatings: anyValue)
    }

    // MARK: - Lines

    /// Calls `body(line, lineNumber)` for each non-empty line (1-based numbers). Splits on bytes:
    /// Swift treats "\r\n" as one Character, so a Character split on "\n" misses CRLF files.
    static func forEachLine(
        _ path: String,
        skipHeader: Bool,
        _ body: (Substring, Int) throws -> Void
    ) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadError(path: path, line: nil, reason: "cannot read file")
        }
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var number = 0
            var start = 0
            while start < bytes.count {
                var end = start
                while end < bytes.count && bytes[end] != 0x0A { end += 1 }
                number += 1
                var stop = end
                if stop > start && bytes[stop - 1] == 0x0D { stop -= 1 }
                if !(skipHeader && number == 1) && stop > start {
                    let line = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<stop]), as: UTF8.self)
                    try body(line[...], number)
                }
                start = end + 1
            }
        }
    }
}

/// How watch-time events become feedback (the issue's defaults: ≥ 50% watched is positive, under 3 s a skip).
public struct WatchThresholds: Sendable, Equatable {
    public var positiveFraction: Double = 0.5
    public var skipBelowMs: Int64 = 3000
    public init(positiveFraction: Double = 0.5, skipBelowMs: Int64 = 3000) {
        self.positiveFraction = positiveFraction
        self.skipBelowMs = skipBelowMs
    }
}
