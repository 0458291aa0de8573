import TacitTestSupport
import XCTest

@testable import TacitTensor

/// The broadcast planner: result shapes, and which fast path each shape pair takes (so the gradient
/// tests in ElementwiseGradientTests really exercise every path).
final class BroadcastTests: XCTestCase {
    /// Result shape and mode for representative pairs.
    func testModesAndShapes() {
        let cases: [([Int], [Int], Broadcast.Mode, [Int])] = [
            ([3, 4], [3, 4], .same, [3, 4]),
            ([3, 4], [], .bScalar, [3, 4]),
            ([2, 3], [1], .bScalar, [2, 3]),
            ([], [3, 2], .aScalar, [3, 2]),
            ([4, 3], [3], .bSuffix, [4, 3]),
            ([2, 3, 4], [3, 4], .bSuffix, [2, 3, 4]),
            ([2, 3, 4], [1, 4], .bSuffix, [2, 3, 4]),
            ([3], [4, 3], .aSuffix, [4, 3]),
            ([4, 1], [4, 3], .general, [4, 3]),
            ([4, 3], [4, 1], .general, [4, 3]),
            ([2, 1, 3], [1, 4, 1], .general, [2, 4, 3]),
            ([2, 1, 3], [4, 1], .general, [2, 4, 3]),
            ([3, 1], [1, 2], .general, [3, 2]),
        ]
        for (a, b, mode, shape) in cases {
            let plan = Broadcast(a, b)
            XCTAssertEqual(plan.mode, mode, "\(a) ∘ \(b)")
            XCTAssertEqual(plan.shape, shape, "\(a) ∘ \(b)")
            XCTAssertEqual(plan.count, shape.reduce(1, *), "\(a) ∘ \(b)")
        }
    }

    /// The general path's blocks for (2,1,3) ∘ (1,4,1), written out by hand: out[i, j, k] reads
    /// a[i, 0, k] = 3i + k and b[0, j, 0] = j, in runs of 3 with b held.
    func testGeneralBlocks() {
        let plan = Broadcast([2, 1, 3], [1, 4, 1])
        XCTAssertEqual(plan.run, 3)
        XCTAssertEqual([plan.aStep, plan.bStep], [1, 0])
        var a = [Int](repeating: -1, count: 24), b = [Int](repeating: -1, count: 24)
        plan.forEach { o, ia, ib in
            a[o] = ia
            b[o] = ib
        }
        for i in 0..<2 {
            for j in 0..<4 {
                for k in 0..<3 {
                    let o = i * 12 + j * 3 + k
                    XCTAssertEqual(a[o], 3 * i + k, "a index at \(i),\(j),\(k)")
                    XCTAssertEqual(b[o], j, "b index at \(i),\(j),\(k)")
                }
            }
        }
        // Attention scores times a per-sequence kernel shared by the heads: runs of L·L, both contiguous.
        let kernel = Broadcast([3, 2, 5, 5], [3, 1, 5, 5])
        XCTAssertEqual(kernel.mode, .general)
        XCTAssertEqual(kernel.run, 25)
        XCTAssertEqual([kernel.aStep, kernel.bStep], [1, 1])
        XCTAssertEqual(kernel.bBlock, [0, 0, 25, 25, 50, 50])
    }

    /// Every mode walks the same (out, a, b) triples as NumPy's definition, computed from multi-indices.
    func testForEachMatchesDefinition() {
        let pairs: [([Int], [Int])] = [
            ([4, 1], [4, 3]), ([4, 3], [4, 1]), ([2, 1, 3], [1, 4, 1]), ([2, 1, 3], [4, 1]), ([3, 1], [1, 2]),
            ([3, 2, 5, 5], [3, 1, 5, 5]), ([3, 1, 5, 5], [3, 2, 5, 5]), ([2, 3, 1, 4], [1, 3, 5, 1]),
            ([4, 3], [3]), ([2, 3, 4], [1, 4]), ([3], [4, 3]), ([1, 2, 1], [2, 1, 2, 3]),
        ]
        for (a, b) in pairs {
            let plan = Broadcast(a, b)
            let rank = plan.shape.count
            let pa = [Int](repeating: 1, count: rank - a.count) + a, pb = [Int](repeating: 1, count: rank - b.count) + b
            func offset(_ index: [Int], in shape: [Int]) -> Int {
                zip(index, shape).reduce(0) { $0 * $1.1 + ($1.1 == 1 ? 0 : $1.0) }
            }
            var walked: [[Int]] = []
            plan.forEach { o, ia, ib in walked.append([o, ia, ib]) }
            var expected: [[Int]] = []
            for o in 0..<plan.count {
                var index = [Int](repeating: 0, count: rank), rest = o
                for d in stride(from: rank - 1, through: 0, by: -1) {
                    index[d] = rest % plan.shape[d]
                    rest /= plan.shape[d]
                }
                expected.append([o, offset(index, in: pa), offset(index, in: pb)])
            }
            XCTAssertEqual(walked, expected, "\(a) ∘ \(b)")
        }
    }

    /// forEach visits every output once with in-range operand indices, in every mode.
    func testForEachVisitsEveryOutputOnce() {
        for (a, b) in [([3, 4], [3, 4]), ([3, 4], []), ([], [2, 2]), ([4, 3], [3]), ([3], [4, 3]), ([2, 1, 3], [1, 4, 1])] {
            let plan = Broadcast(a, b)
            var seen = [Int](repeating: 0, count: plan.count)
            plan.forEach { o, ia, ib in
                seen[o] += 1
                XCTAssertTrue((0..<plan.aCount).contains(ia) && (0..<plan.bCount).contains(ib), "\(a) ∘ \(b)")
            }
            XCTAssertEqual(seen, [Int](repeating: 1, count: plan.count), "\(a) ∘ \(b)")
        }
    }
}
