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

    /// The general path's index tables for (2,1,3) ∘ (1,4,1), written out by hand for the first rows.
    func testGeneralIndexTables() {
        let plan = Broadcast([2, 1, 3], [1, 4, 1])
        XCTAssertEqual(plan.aIndex.count, 24)
        // out[i, j, k] reads a[i, 0, k] = 3i + k and b[0, j, 0] = j
        for i in 0..<2 { for j in 0..<4 { for k in 0..<3 {
            let o = i * 12 + j * 3 + k
            XCTAssertEqual(plan.aIndex[o], 3 * i + k, "a index at \(i),\(j),\(k)")
            XCTAssertEqual(plan.bIndex[o], j, "b index at \(i),\(j),\(k)")
        } } }
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
