import Foundation

/// A fresh folder under the system's temporary directory. The test that makes one removes it
/// (`defer { removeTempDir(dir) }`): every run of the suite would otherwise leave dozens of SQLite
/// stores, some of 10 MB, behind in /tmp.
func tempDir() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tacit-test-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func removeTempDir(_ url: URL) {
    try? FileManager.default.removeItem(at: url)
}

/// A temporary folder removed with its last reference: for suite and fixture properties, which live
/// exactly as long as their test.
final class TemporaryDirectory: Sendable {
    let url = tempDir()
    deinit { removeTempDir(url) }
}
