import Foundation

/// A fresh folder under the system's temporary directory. The test that makes one removes it
/// (`defer { removeTempDir(dir) }`): every run of the suite would otherwise leave dozens of SQLite
/// stores, some of 10 MB, behind in /tmp.
public func tempDir() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tacit-test-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

public func removeTempDir(_ url: URL) {
    try? FileManager.default.removeItem(at: url)
}

/// A temporary folder removed with its last reference: for suite and fixture properties, which live
/// exactly as long as their test.
public final class TemporaryDirectory: Sendable {
    public let url = tempDir()
    public init() {}
    deinit { removeTempDir(url) }
}
