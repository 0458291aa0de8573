import Synchronization
import TacitTestSupport
import XCTest

@testable import TacitTensor

/// Compute.parallelFor partitioning, thread settings, and the Profiler.
final class ComputeTests: XCTestCase {
    /// Every index in 0..<count is visited exactly once, by at most `threads` contiguous, disjoint chunks,
    /// for many counts, chunk sizes and thread counts.
    func testParallelForCoversEveryIndexOnce() {
        let saved = Compute.threads
        defer { Compute.setThreads(saved) }
        for threads in [1, 2, 3, 8] {
            Compute.setThreads(threads)
            XCTAssertEqual(Compute.threads, threads)
            for minChunk in [1, 7, 1024] {
                for count in [0, 1, 2, 5, 7, 8, 100, 1023, 1024, 2049, 5000] {
                    let hits = Mutex<[Int]>([Int](repeating: 0, count: count))
                    let ranges = Mutex<[Range<Int>]>([])
                    Compute.parallelFor(count, minChunk: minChunk) { range in
                        hits.withLock { h in for i in range { h[i] += 1 } }
                        ranges.withLock { $0.append(range) }
                    }
                    let label = "count \(count), minChunk \(minChunk), threads \(threads)"
                    hits.withLock { XCTAssertEqual($0, [Int](repeating: 1, count: count), label) }
                    ranges.withLock { rs in
                        XCTAssertLessThanOrEqual(rs.count, threads, label)
                        XCTAssertLessThanOrEqual(rs.count, max(1, count / minChunk), label)
                        XCTAssertTrue(rs.allSatisfy { !$0.isEmpty }, label)
                        XCTAssertEqual(rs.reduce(0) { $0 + $1.count }, count, label)
                        if count >= 2 * minChunk && threads >= 2 {
                            XCTAssertGreaterThan(rs.count, 1, "\(label): work is actually split")
                        }
                    }
                }
            }
        }
    }

    /// Chunks really run concurrently-safe: disjoint writes into one buffer give the serial result.
    func testParallelForDisjointWrites() {
        let saved = Compute.threads
        defer { Compute.setThreads(saved) }
        Compute.setThreads(2)
        var out = [Int](repeating: -1, count: 10_000)
        out.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let b = buffer
            Compute.parallelFor(b.count, minChunk: 100) { range in for i in range { b[i] = i * i } }
        }
        XCTAssertEqual(out, (0..<10_000).map { $0 * $0 })
    }

    /// setThreads(0) means all cores; the setting is what `threads` reports.
    func testSetThreadsZeroMeansAllCores() {
        let saved = Compute.threads
        defer { Compute.setThreads(saved) }
        Compute.setThreads(0)
        XCTAssertEqual(Compute.threads, Compute.activeProcessorCount())
        XCTAssertGreaterThanOrEqual(Compute.activeProcessorCount(), 1)
        Compute.setThreads(3)
        XCTAssertEqual(Compute.threads, 3)
    }

    /// When enabled, the profiler attributes op time to its category; when disabled it records nothing.
    func testProfilerCategories() {
        defer {
            Profiler.enable(false)
            Profiler.reset()
        }
        Profiler.reset()
        Profiler.enable(false)
        let a = Tensor(zeros: [8, 8], fill: 1), b = Tensor(zeros: [8, 8], fill: 2)
        _ = Tensor.matmul(a, b)
        XCTAssertTrue(Profiler.snapshot().isEmpty)
        Profiler.enable(true)
        XCTAssertTrue(Profiler.isEnabled)
        _ = Tensor.matmul(a, b)
        _ = (a + b).sum()
        let snap = Profiler.snapshot()
        XCTAssertNotNil(snap[.blas])
        XCTAssertNotNil(snap[.elementwise])
        XCTAssertNotNil(snap[.reduction])
        XCTAssertNil(snap[.loss])
        XCTAssertEqual(Profiler.measure(.other) { 41 + 1 }, 42)
        XCTAssertNotNil(Profiler.snapshot()[.other])
        Profiler.reset()
        XCTAssertTrue(Profiler.snapshot().isEmpty)
    }
}
