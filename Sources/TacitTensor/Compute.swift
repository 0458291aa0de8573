import COpenBLAS
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import CLibc
#endif

/// Process-wide compute settings: how many threads our kernels and OpenBLAS use.
public enum Compute {
    private static let threadCount = Atomic<Int>(ProcessInfoShim.activeProcessorCount)

    /// Threads used by parallel kernels and by OpenBLAS. Set once at start-up from configuration;
    /// the default is the number of cores.
    public static var threads: Int { threadCount.load(ordering: .relaxed) }

    /// Sets the thread count for our kernels and for OpenBLAS (0 = all cores).
    public static func setThreads(_ n: Int) {
        let resolved = n > 0 ? n : activeProcessorCount()
        threadCount.store(resolved, ordering: .relaxed)
        openblas_set_num_threads(Int32(resolved))
    }

    /// Sets the thread count (see `setThreads`) and keeps large freed buffers in the process:
    /// glibc returns buffers above 128 KiB to the kernel on free, so every op output of a
    /// propagation step would page-fault afresh (measured: 6 s of sys time per 16 s of CPU on
    /// LightGCN/ML-100k, 0.04 s with the thresholds raised). The trim threshold must exceed a
    /// step's whole working set, or the heap top is handed back after every step: HNT on Retail
    /// Rocket peaks near 2.4 GB per step and spent half its time clearing fresh pages at 1 GiB.
    public static func configure(threads: Int) {
        setThreads(threads)
        #if canImport(Glibc)
        _ = mallopt(M_MMAP_THRESHOLD, 512 << 20)
        // −1 disables trimming (mallopt(3)): the threshold is an int, and 2 GiB is below that peak.
        // The price: a process keeps its largest step's heap for its lifetime.
        _ = mallopt(M_TRIM_THRESHOLD, -1)
        _ = mallopt(M_TOP_PAD, 64 << 20)
        #endif
    }

    /// Number of cores available to this process.
    public static func activeProcessorCount() -> Int {
        max(1, ProcessInfoShim.activeProcessorCount)
    }

    /// Runs `body` over `0..<count` split into at most `threads` contiguous chunks.
    /// Each index is handled by exactly one chunk, so kernels that write disjoint rows stay
    /// deterministic whatever the thread count.
    @inlinable
    public static func parallelFor(_ count: Int, minChunk: Int = 1024, _ body: (Range<Int>) -> Void) {
        let chunks = min(threads, max(1, count / max(1, minChunk)))
        if chunks <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        let per = (count + chunks - 1) / chunks
        // Chunks write disjoint ranges; the closure is only shared for the duration of the call.
        withoutActuallyEscaping(body) { escapable in
            nonisolated(unsafe) let run = escapable
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = c * per
                let hi = min(count, lo + per)
                if lo < hi { run(lo..<hi) }
            }
        }
    }
}

enum ProcessInfoShim {
    static var activeProcessorCount: Int { ProcessInfo.processInfo.activeProcessorCount }
}
