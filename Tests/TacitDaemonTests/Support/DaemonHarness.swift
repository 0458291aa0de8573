import Foundation
import Logging
import TacitKafka
import TacitServiceTestSupport

@testable import TacitDaemon

/// A daemon configuration for tests: the given broker, a fresh SQLite file, fast group joins.
func testConfiguration(broker: String, dir: URL, httpPort: Int = freePort(), group: String = "tacit-test") -> TacitConfiguration {
    var c = TacitConfiguration()
    c.kafka.brokers = [broker]
    c.kafka.groupID = group
    c.kafka.sessionTimeoutMs = 6000
    c.kafka.heartbeatIntervalMs = 500
    c.kafka.producerStallTimeoutMs = 10_000
    c.store.path = dir.appendingPathComponent("tacit.sqlite").path
    c.store.pollTimeoutMs = 10
    c.store.synchronous = .normal
    c.publisher.debounceMs = 100
    c.publisher.topK = 5
    c.publisher.retryBackoffMs = 200
    c.http.port = httpPort
    c.service.shutdownTimeoutMs = 10_000
    c.service.logLevel = ProcessInfo.processInfo.environment["TACIT_TEST_LOG"] ?? "error"
    return c
}

/// Produces records and waits for every acknowledgement; returns where each one landed.
@discardableResult
func produce(_ broker: String, _ records: [ProducerRecord]) async throws -> [DeliveryReport] {
    let producer = try KafkaProducer(
        configuration: KafkaProducerConfiguration(client: KafkaClientConfiguration(brokers: [broker])),
        logger: testLogger("test-producer")
    )
    let poller = Task { await producer.run() }
    let results = await producer.sendAll(records)
    poller.cancel()
    producer.close(flushTimeout: .seconds(5))
    return try results.map { try $0.get() }
}

/// Reads a topic from the beginning (its own group) until `done` holds or `timeout` passes.
/// Never blocks a thread of the cooperative pool (an in-process daemon needs them).
func consume(_ broker: String, topic: String, timeout: Duration, until done: ([KafkaMessage]) -> Bool) async throws -> [KafkaMessage] {
    let consumer = try KafkaConsumer(
        configuration: fastConsumer(broker, group: "reader-\(UUID().uuidString)", topics: [topic]),
        offsetSource: MemoryOffsets(),
        logger: testLogger("test-consumer")
    )
    try consumer.subscribe()
    defer { consumer.close() }
    var got: [KafkaMessage] = []
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline, !done(got) {
        let batch = try consumer.poll(maxMessages: 1000)
        if batch.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        got += batch
    }
    return got
}

/// A one-shot HTTP/1.1 GET over a plain socket: (status, body).
func httpGet(port: Int, path: String) throws -> (Int, String) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else { throw TestFailure("connect to HTTP port \(port) failed") }
    // A daemon that never answers fails the test instead of hanging the run (this blocks a cooperative thread).
    var timeout = timeval(tv_sec: 60, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let req = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    _ = req.withCString { send(fd, $0, strlen($0), 0) }
    var data = [UInt8]()
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &buf, buf.count, 0)
        if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { throw TestFailure("GET \(path) on port \(port): no answer in 60 s") }
        if n <= 0 { break }
        data += buf[0..<n]
    }
    let text = String(decoding: data, as: UTF8.self)
    guard let statusLine = text.split(separator: "\r\n").first, let code = Int(statusLine.split(separator: " ")[1]) else {
        throw TestFailure("bad HTTP response: \(text.prefix(200))")
    }
    let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
    return (code, body)
}

func jsonObject(_ bytes: [UInt8]) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
}

func eventJSON(user: String, item: String, type: String = "buy", ts: Int64 = 1_700_000_000_000, id: String? = nil) -> [UInt8] {
    Array(EventMessage(user: user, item: item, type: type, timestampMs: ts, id: id).json.utf8)
}

/// The value of an unlabelled metric in `metrics` as `/metrics` would show it (0 when absent).
func metricValue(_ metrics: DaemonMetrics, _ name: String) -> Double {
    var buffer: [UInt8] = []
    metrics.registry.emit(into: &buffer)
    let line = String(decoding: buffer, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix(name + " ") }
    return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
}

/// Waits for a child process without blocking a cooperative thread.
/// Polls `condition` every 100 ms until it holds or `timeout` passes, without blocking a thread.
func waitUntil(_ timeout: Duration, _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return try condition()
}
