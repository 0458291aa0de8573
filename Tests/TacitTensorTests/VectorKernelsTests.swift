import XCTest

@testable import TacitTensor

final class VectorKernelsTests: XCTestCase {
    /// Every length from empty through several 16-wide blocks and a tail, at an unaligned start.
    func testDotMatchesADoublePrecisionSumAtEveryLength() {
        var rng = SeededRNG(seed: 7)
        let a = (0..<101).map { _ in rng.nextFloat() * 2 - 1 }
        let b = (0..<101).map { _ in rng.nextFloat() * 2 - 1 }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                for n in 0...100 {
                    var expected = 0.0
                    for j in 0..<n { expected += Double(a[1 + j]) * Double(b[j]) }
                    let got = VectorKernels.dot(pa.baseAddress! + 1, pb.baseAddress!, count: n)
                    XCTAssertEqual(Double(got), expected, accuracy: 1e-5, "length \(n)")
                }
            }
        }
    }
}
