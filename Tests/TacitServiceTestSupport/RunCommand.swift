import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs a short command to completion with `posix_spawn` and `waitpid`, stdout to `stdoutPath` (or
/// /dev/null), stderr to /dev/null; returns its exit status (128 + signal when killed).
///
/// Not `Foundation.Process` for commands waited on: on Linux it sees a child's exit through a socket
/// the child inherits, and a child spawned at the same moment from another test (a broker, a daemon
/// process) inherits that socket too, so `waitUntilExit` then waits for *that* process to end
/// (swift-corelibs-foundation#4795: seen as a test run hung in `tansu topic create`). Blocks the calling thread.
public func runCommand(_ path: String, _ arguments: [String], stdoutPath: String? = nil) throws -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdoutPath ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for a in argv { free(a) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
    guard rc == 0 else { throw TestFailure("posix_spawn \(path): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 {
        guard errno == EINTR else { throw TestFailure("waitpid \(path): \(String(cString: strerror(errno)))") }
    }
    let signal = status & 0x7f
    return signal == 0 ? (status >> 8) & 0xff : 128 + signal
}
