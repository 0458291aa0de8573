import Foundation
import TacitData
import TacitServiceTestSupport
import Testing

@testable import TacitStore

/// A deterministic stream for crash tests: record i goes to partition i % 4 at offset i / 4.
enum CrashStream {
    static let total = 80_000
    static let partitions: Int32 = 4
    static func user(_ i: Int) -> String { "u\((i &* 2_654_435_761) % 997)" }
    static func record(_ i: Int) -> IngestRecord {
        let p = Int32(i % Int(partitions))
        let e = UserEvent(
            user: user(i),
            item: "i\(i % 1500)",
            behavior: i % 5 == 0 ? "buy" : "view",
            feedback: .implicitPositive,
            timestampMs: 1_700_000_000_000 + Int64(i),
            eventID: i % 3 == 0 ? "e\(i)" : nil
        )
        return IngestRecord(position: StreamPosition("crash", p, Int64(i / Int(partitions))), payload: .event(e))
    }
    static var expectedCounts: [String: Int64] {
        var out: [String: Int64] = [:]
        for i in 0..<total { out[user(i), default: 0] += 1 }
        return out
    }
}

@Suite("SQLite event store: kill -9 while applying", .serialized)
struct EventStoreCrashTests {
    /// The child side: when TACIT_STORE_CRASH_CHILD names a database, consume the stream from
    /// the stored offsets in random-sized batches until it is all applied. Otherwise a no-op.
    @Test func storeCrashChild() throws {
        guard let path = ProcessInfo.processInfo.environment["TACIT_STORE_CRASH_CHILD"] else { return }
        let store = try EventStore(configuration: StoreConfiguration(path: path, maxSequenceLength: 20, dedupWindow: 100_000))
        var rng = SystemRandomNumberGenerator()
        while true {
            let next = try store.nextOffsets(for: (0..<CrashStream.partitions).map { StreamPartition("crash", $0) })
            // Rebuild "what the consumer would fetch": per partition, from the stored offset on,
            // plus a few already-applied records to exercise the replay filter.
            var batch: [IngestRecord] = []
            let size = Int.random(in: 50...1500, using: &rng)
            for p in 0..<CrashStream.partitions {
                let from = max(0, Int(next[StreamPartition("crash", p)] ?? 0) - Int.random(in: 0...3, using: &rng))
                var o = from
                while batch.count < size * Int(p + 1) / Int(CrashStream.partitions) {
                    let i = o * Int(CrashStream.partitions) + Int(p)
                    guard i < CrashStream.total else { break }
                    batch.append(CrashStream.record(i))
                    o += 1
                }
            }
            if batch.allSatisfy({ $0.position.offset < (next[$0.position.partition] ?? 0) }) { break }
            _ = try store.apply(batch)
            // Progress for the parent, which kills at a chosen point of the stream rather than
            // after a fixed time: a fast machine must not finish before the kills are done.
            try String(try store.counts().eventsApplied).write(toFile: path + ".progress", atomically: true, encoding: .utf8)
        }
    }

    @Test func killNineLosesNothingAndAppliesNothingTwice() async throws {
        let dir = tempDir()
        defer { removeTempDir(dir) }
        let path = dir.appendingPathComponent("crash.sqlite").path
        var kills = 0
        var runs = 0
        var applied = 0
        while true {
            runs += 1
            let p = Process()
            p.executableURL = URL(fileURLWithPath: testBinaryPath())
            p.arguments = ["--testing-library", "swift-testing", "--filter", "storeCrashChild"]
            p.environment = ProcessInfo.processInfo.environment.merging(["TACIT_STORE_CRASH_CHILD": path]) { $1 }
            p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            p.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try p.run()
            // Six kills, each a few thousand events past the last one and always well before
            // the end, then a run to completion. Where inside a batch the kill lands is random.
            if kills < 6 {
                let target = min(applied + Int.random(in: 3_000...9_000), CrashStream.total - 10_000)
                while p.isRunning, progress(path) < target { try await Task.sleep(for: .milliseconds(2)) }
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...15)))
                if p.isRunning {
                    kill(p.processIdentifier, SIGKILL)
                    await waitForExit(p)
                    if p.terminationReason == .uncaughtSignal { kills += 1 }
                    applied = progress(path)
                    continue
                }
            }
            await waitForExit(p)
            #expect(p.terminationStatus == 0)
            let s = try EventStore(configuration: StoreConfiguration(path: path))
            if try s.counts().eventsApplied == Int64(CrashStream.total) { break }
            #expect(runs < 40, "child never finished")
            if runs >= 40 { return }
        }
        print("store crash test: \(kills) kill -9 during \(runs) runs")
        #expect(kills >= 5)
        let s = try EventStore(configuration: StoreConfiguration(path: path))
        #expect(try s.eventCountsByUser() == CrashStream.expectedCounts)
        let offsets = try s.allOffsets()
        #expect(offsets.count == 4 && offsets.values.allSatisfy { $0 == Int64(CrashStream.total / 4) })
    }

    /// Events the child last reported applied (0 before its first batch).
    private func progress(_ path: String) -> Int {
        (try? String(contentsOfFile: path + ".progress", encoding: .utf8)).flatMap { Int($0) } ?? 0
    }
}

@Suite("SQLite event store throughput", .enabled(if: ProcessInfo.processInfo.environment["TACIT_BENCH"] == "1"))
struct EventStoreBenchmark {
    /// Prints events/s applied in batches (median of 3); not asserted. TACIT_BENCH=1 to run.
    @Test func applyThroughput() throws {
        var rates: [Double] = []
        for _ in 0..<3 {
            let dir = tempDir()
            defer { removeTempDir(dir) }
            let s = try EventStore(configuration: StoreConfiguration(path: dir.appendingPathComponent("b.sqlite").path))
            let n = 200_000, batch = 2_000
            var records: [IngestRecord] = []
            for i in 0..<n {
                let user = "u\(i % 10_000)", item = "i\((i &* 7919) % 5_000)"
                let behavior = i % 4 == 0 ? "buy" : "view"
                let e = UserEvent(
                    user: user,
                    item: item,
                    behavior: behavior,
                    feedback: .implicitPositive,
                    timestampMs: 1_700_000_000_000 + Int64(i),
                    eventID: "e\(i)"
                )
                records.append(IngestRecord(position: StreamPosition("b", Int32(i % 4), Int64(i / 4)), payload: .event(e)))
            }
            let t0 = ContinuousClock.now
            for start in stride(from: 0, to: n, by: batch) {
                _ = try s.apply(Array(records[start..<min(n, start + batch)]))
            }
            let dt = ContinuousClock.now - t0
            let secs = Double(dt.components.seconds) + Double(dt.components.attoseconds) / 1e18
            rates.append(Double(n) / secs)
            try? FileManager.default.removeItem(at: dir)
        }
        rates.sort()
        print("store apply throughput: median \(Int(rates[1])) events/s (runs: \(rates.map { Int($0) })), batch 2000, synchronous=FULL, id dedup on")
    }
}
