import Foundation
import TacitData
import TacitStore

// Records and events as tests write them, for the store's, the daemon's and the CLI's tests.

public func event(
    _ user: String,
    _ item: String,
    _ type: String = "buy",
    ts: Int64 = 1_700_000_000_000,
    id: String? = nil,
    feedback: FeedbackKind? = .explicitPositive
) -> UserEvent {
    UserEvent(user: user, item: item, behavior: type, feedback: feedback, timestampMs: ts, eventID: id)
}

public func rec(_ e: UserEvent, _ topic: String = "t", _ partition: Int32 = 0, offset: Int64) -> IngestRecord {
    IngestRecord(position: StreamPosition(topic, partition, offset), payload: .event(e))
}

/// Path of the running test binary, to re-run it as a child process (crash tests kill it).
public func testBinaryPath() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}
