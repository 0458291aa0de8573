import Foundation
import TacitData
import XCTest

final class LoaderTests: XCTestCase {
    /// The shared/data layout: behaviors in funnel order whatever the file's order, test pairs attached.
    func testTSVFolderReadsTrainAndTest() throws {
        let dir = try temporaryDirectory(self)
        try write("user\titem\tbehavior\ttimestamp\n0\t3\tbuy\t20\n0\t1\tview\t10\n1\t3\tcart\t5\n", to: dir.appendingPathComponent("train.tsv"))
        try write("user\titem\n0\t7\n", to: dir.appendingPathComponent("test.tsv"))
        let d = try DatasetLoader.load(dir.path)
        XCTAssertEqual(d.taxonomy.behaviors, ["view", "cart", "buy"])
        XCTAssertEqual(d.taxonomy.target, "buy")
        XCTAssertEqual(d.interactions.count, 3)
        // sorted by user then time: user "0" has view@10 then buy@20
        XCTAssertEqual(d.interactions.map(\.timestamp), [10, 20, 5])
        XCTAssertEqual(d.interactions[1].behavior, d.taxonomy.code(of: "buy"))
        let test = try XCTUnwrap(d.givenTest)
        XCTAssertEqual(test.count, 1)
        XCTAssertEqual(d.users[test[0].user], "0")
        XCTAssertEqual(d.items[test[0].item], "7")
    }

    /// RecBole .inter files, CRLF line endings included (ml-1m ships with CRLF).
    func testRecboleInterWithCRLF() throws {
        let dir = try temporaryDirectory(self)
        let file = dir.appendingPathComponent("x.inter")
        try write(
            "user_id:token\titem_id:token\trating:float\ttimestamp:float\r\nu1\tMovie A (1999)\t5\t100\r\nu1\tB\t2\t50\r\nu2\tB\t4\t70\r\n",
            to: file
        )
        let d = try DatasetLoader.load(file.path)
        XCTAssertEqual(d.interactions.count, 3)
        XCTAssertEqual(d.userCount, 2)
        XCTAssertEqual(d.itemCount, 2)
        XCTAssertTrue(d.hasRatings)
        XCTAssertEqual(d.items.ids, ["Movie A (1999)", "B"])
        XCTAssertEqual(d.interactions.map(\.value), [2, 5, 4])
    }

    /// JSON lines with epoch-ms and RFC 3339 timestamps; a bad line names its line number.
    func testEventsFileJSONLines() throws {
        let dir = try temporaryDirectory(self)
        let file = dir.appendingPathComponent("events.jsonl")
        try write(
            """
            {"user":"a","item":"x","type":"view","ts":1700000000000}
            {"user":"a","item":"x","type":"buy","ts":"2023-11-14T22:13:21Z"}
            {"user":"b","item":"y","type":"skip","ts":1700000000}
            """,
            to: file
        )
        let d = try DatasetLoader.load(file.path)
        XCTAssertEqual(d.interactions.count, 3)
        XCTAssertEqual(d.taxonomy.target, "buy")
        XCTAssertEqual(d.taxonomy.passiveNegative, ["skip"])
        XCTAssertEqual(d.interactions[0].timestamp, 1_700_000_000)
        XCTAssertEqual(d.interactions[1].timestamp, 1_700_000_001)

        try write("{\"user\":\"a\",\"item\":\"x\"}\nnot json\n", to: file)
        XCTAssertThrowsError(try DatasetLoader.load(file.path)) { error in
            XCTAssertTrue("\(error)".contains(":2:"), "error should name line 2: \(error)")
        }
    }

    /// Watch-time events: under 3 s a skip, at least half watched a play (positive), in between a
    /// partial watch; the thresholds are settings.
    func testWatchEventsBecomeSkipsAndPlays() throws {
        let dir = try temporaryDirectory(self)
        let file = dir.appendingPathComponent("watch.jsonl")
        try write(
            """
            {"user":"a","item":"x","type":"watch","ts":1,"watch_ms":1200,"duration_ms":60000}
            {"user":"a","item":"y","type":"watch","ts":2,"watch_ms":45000,"duration_ms":60000}
            {"user":"a","item":"z","type":"watch","ts":3,"watch_ms":10000,"duration_ms":60000}
            {"user":"b","item":"x","type":"watch","ts":4,"watch_ms":50000,"duration_ms":60000}
            """,
            to: file
        )
        let d = try DatasetLoader.load(file.path)
        XCTAssertEqual(d.interactions.map { d.taxonomy.behaviors[Int($0.behavior)] }, ["skip", "play", "watch", "play"])
        XCTAssertEqual(d.taxonomy.target, "play")
        XCTAssertEqual(d.interactions[1].value, 0.75, accuracy: 1e-6)
        let strict = try DatasetLoader.load(file.path, watch: WatchThresholds(positiveFraction: 0.8, skipBelowMs: 15000))
        XCTAssertEqual(strict.interactions.map { strict.taxonomy.behaviors[Int($0.behavior)] }, ["skip", "watch", "skip", "play"])
        try write("{\"user\":\"a\",\"item\":\"x\",\"watch_ms\":-5}\n", to: file)
        XCTAssertThrowsError(try DatasetLoader.load(file.path)) { XCTAssertTrue("\($0)".contains("watch_ms"), "\($0)") }
    }

    /// Unknown names and empty files are errors, never an empty run.
    func testMissingAndEmptyDataAreErrors() throws {
        XCTAssertThrowsError(try DatasetLoader.load("/nonexistent/path"))
        let dir = try temporaryDirectory(self)
        let file = dir.appendingPathComponent("empty.inter")
        try write("user_id:token\titem_id:token\n", to: file)
        XCTAssertThrowsError(try DatasetLoader.load(file.path)) { error in
            XCTAssertTrue("\(error)".contains("no interactions"))
        }
    }

    /// The real Retail Rocket files load with the paper's counts (skipped without ../shared/data).
    func testRetailRocketCounts() throws {
        let path = "../shared/data/retail_rocket"
        try XCTSkipUnless(FileManager.default.fileExists(atPath: path), "no \(path): shared data not beside the checkout")
        let d = try DatasetLoader.load("retail-rocket")
        XCTAssertEqual(d.userCount, 2174)
        XCTAssertEqual(d.interactions.count, 97381)
        XCTAssertEqual(d.givenTest?.count, 2174)
        XCTAssertEqual(d.taxonomy.behaviors, ["view", "cart", "buy"])
    }
}
