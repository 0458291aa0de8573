import Foundation
import Testing

@testable import TacitCLI

/// `tacit backtest --data FILE` on a user's own files: a ratings export must run through the
/// daemon's parser as ratings, and a file without any type the daemon knows must fail by name.
@Suite("tacit backtest on one's own files")
struct BacktestFileTests {
    func temporaryFile(_ name: String, _ text: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tacit-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// 40 users rate 6 of 8 items, a day apart; items 0–3 get 5 from even users and 3 from odd ones,
    /// the others 2.
    static func ratingsTSV() -> String {
        var lines = ["user\titem\trating\ttimestamp"]
        for step in 0..<6 {
            for u in 0..<40 {
                let item = (u + step) % 8
                lines.append("u\(u)\ti\(item)\t\(item < 4 ? (u % 2 == 0 ? 5 : 3) : 2)\t\(1_600_000_000 + step * 86_400 + u)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func aRatingsTSVWithoutATypeColumnIsScoredAsRatings() async throws {
        let data = try temporaryFile("ratings.tsv", Self.ratingsTSV())
        let json = data.deletingLastPathComponent().appendingPathComponent("out.json")
        defer { try? FileManager.default.removeItem(at: data.deletingLastPathComponent()) }
        var command = try #require(
            try Tacit.parseAsRoot([
                "backtest", "--data", data.path, "--model", "popularity",
                "--rounds", "2", "--json", json.path,
            ]) as? BacktestCommand
        )
        try await command.run()
        let out = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any])
        let runs = try #require(out["runs"] as? [[String: Any]])
        // Before the fix every row was dead-lettered as unknown_type and no list was scored.
        #expect((runs.first?["users"] as? Int ?? 0) > 0)
        // A 3 is an implicit negative: popularity's lists show items 0–3 to odd users, who then rate them 3.
        #expect((runs.first?["neg_lists"] as? Int ?? 0) > 0)
        #expect((runs.first?["neg_share10"] as? Double ?? 0) > 0)
    }

    @Test func aFileWithNoKnownTypeFailsNamingTheMissingColumn() async throws {
        let data = try temporaryFile("plain.tsv", "user\titem\ttimestamp\nu1\ti1\t1600000000\nu2\ti1\t1600000001\n")
        defer { try? FileManager.default.removeItem(at: data.deletingLastPathComponent()) }
        var command = try #require(try Tacit.parseAsRoot(["backtest", "--data", data.path, "--model", "popularity"]) as? BacktestCommand)
        await #expect { try await command.run() } throws: { error in
            "\(error)".contains("no `type` (or `behavior`) column and no `rating`")
        }
    }
}
