import Foundation
import TacitServiceTestSupport

/// Debian's `chromium`, headless: loads a page, lets its scripts run and returns the DOM they left.
enum HeadlessChromium {
    static var path: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The page's DOM after `budgetMs` of virtual time (paused while its fetches are pending, so every
    /// refresh it started has been drawn). Runs off the cooperative pool: an in-process daemon answers it.
    static func dumpDOM(_ url: String, budgetMs: Int = 8000) async throws -> String {
        guard let path else { throw TestFailure("no chromium: install Debian's chromium (scripts/setup.sh does)") }
        let profile = tempDir()
        defer { removeTempDir(profile) }
        let out = profile.appendingPathComponent("dom.html").path
        let arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--user-data-dir=\(profile.path)", "--virtual-time-budget=\(budgetMs)", "--dump-dom", url,
        ]
        return try await withCheckedThrowingContinuation { (c: CheckedContinuation<String, any Error>) in
            let thread = Thread {
                c.resume(
                    with: Result {
                        let status = try runCommand(path, arguments, stdoutPath: out)
                        guard status == 0 else { throw TestFailure("chromium exited \(status)") }
                        return try String(contentsOfFile: out, encoding: .utf8)
                    }
                )
            }
            thread.start()
        }
    }
}

/// Reading the operator page's DOM.
extension String {
    /// `data-value` of the element with id `id`.
    func dataValue(id: String) -> String? {
        guard let r = range(of: "id=\"\(id)\"") else { return nil }
        let tag = self[r.upperBound...].prefix { $0 != ">" }
        guard let v = tag.range(of: "data-value=\"") else { return nil }
        return String(tag[v.upperBound...].prefix { $0 != "\"" })
    }

    /// The text of every element with class `cls` (no nested tags).
    func texts(class cls: String) -> [String] {
        components(separatedBy: "class=\"\(cls)\">").dropFirst().map { String($0.prefix { $0 != "<" }) }
    }
}
