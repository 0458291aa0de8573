import TacitTestSupport
import XCTest

@testable import TacitTensor

/// sum, mean, sum(axis:), mean(axis:), squaredNorm, rowDot.
final class ReductionGradientTests: XCTestCase {
    /// Σ over `axis` of a row-major tensor, by multi-index.
    private func referenceSum(_ x: Tensor, axis: Int) -> ([Int], [Double]) {
        var outShape = x.shape
        outShape.remove(at: axis)
        let outStrides = strides(of: outShape)
        var out = [Double](repeating: 0, count: outShape.reduce(1, *))
        for i in 0..<x.count {
            var idx = multiIndex(i, x.shape)
            idx.remove(at: axis)
            out[zip(idx, outStrides).reduce(0) { $0 + $1.0 * $1.1 }] += Double(x.value[i])
        }
        return (outShape, out)
    }

    /// sum() and mean() of a hand-written tensor, and their constant gradients.
    func testSumMeanHandComputed() {
        let x = Tensor(shape: [2, 3], value: [1, 2, 3, 4, 5, 6], requiresGrad: true)
        assertClose(x.sum(), shape: [], [21])
        assertClose(x.mean(), shape: [], [3.5])
        x.mean().backward()
        assertClose(x.grad, [Double](repeating: 1.0 / 6, count: 6), "d mean")
        x.zeroGrad()
        (x.sum() * 3).backward()
        XCTAssertEqual(x.grad, [Float](repeating: 3, count: 6))
    }

    /// Gradient checks of sum() and mean().
    func testSumMeanGradients() {
        var rng = SeededRNG(seed: 200)
        let x = randomTensor([3, 2, 4], &rng)
        assertGradientsMatch("sum()", inputs: [x]) { x.sum() }
        assertGradientsMatch("mean()", inputs: [x]) { x.mean() }
    }

    /// sum(axis:) and mean(axis:) for every axis of a 3-D tensor, positive and negative: values and gradients.
    func testAxisReductionsEveryAxis() {
        var rng = SeededRNG(seed: 201)
        let x = randomTensor([2, 3, 4], &rng)
        for axis in [0, 1, 2, -1, -2, -3] {
            let ax = axis < 0 ? 3 + axis : axis
            let (shape, expected) = referenceSum(x, axis: ax)
            assertClose(x.sum(axis: axis), shape: shape, expected, "sum(axis: \(axis))")
            let n = Double(x.shape[ax])
            assertClose(x.mean(axis: axis), shape: shape, expected.map { $0 / n }, "mean(axis: \(axis))")
            assertGradientsMatch("sum(axis: \(axis))", inputs: [x]) { x.sum(axis: axis) }
            assertGradientsMatch("mean(axis: \(axis))", inputs: [x]) { x.mean(axis: axis) }
        }
    }

    /// sum(axis:) of a 2-D tensor by hand: column sums and row sums.
    func testAxisSumHandComputed() {
        let x = Tensor(shape: [2, 3], value: [1, 2, 3, 4, 5, 6])
        assertClose(x.sum(axis: 0), shape: [3], [5, 7, 9])
        assertClose(x.sum(axis: 1), shape: [2], [6, 15])
        assertClose(x.mean(axis: -1), shape: [2], [2, 5])
    }

    /// ‖x‖² by hand and by gradient check (d = 2x).
    func testSquaredNorm() {
        let fixed = Tensor(shape: [3], value: [1, -2, 3])
        assertClose(fixed.squaredNorm(), shape: [], [14])
        var rng = SeededRNG(seed: 202)
        let x = randomTensor([3, 4], &rng)
        assertGradientsMatch("squaredNorm", inputs: [x]) { x.squaredNorm() }
    }

    /// Row-wise dot products by hand, by reference, and gradients for both operands (and the same tensor twice).
    func testRowDot() {
        let a = Tensor(shape: [2, 3], value: [1, 2, 3, 4, 5, 6]), b = Tensor(shape: [2, 3], value: [1, 0, -1, 2, 2, 2])
        assertClose(Tensor.rowDot(a, b), shape: [2], [-2, 30])
        var rng = SeededRNG(seed: 203)
        let x = randomTensor([5, 4], &rng), y = randomTensor([5, 4], &rng)
        let expected = (0..<5).map { r in (0..<4).reduce(0.0) { $0 + Double(x.value[r * 4 + $1]) * Double(y.value[r * 4 + $1]) } }
        assertClose(Tensor.rowDot(x, y), shape: [5], expected)
        assertGradientsMatch("rowDot", inputs: [x, y]) { Tensor.rowDot(x, y) }
        assertGradientsMatch("rowDot(x, x)", inputs: [x]) { Tensor.rowDot(x, x) }
    }
}
