import TacitTestSupport
import XCTest

@testable import TacitTensor

/// reshaped, permuted, transposedLast, concat, slice, split, gather.
final class ShapeGradientTests: XCTestCase {
    /// Permutation by multi-index: output element at idx reads input at idx' with idx'[axes[i]] = idx[i].
    private func referencePermute(_ x: Tensor, _ axes: [Int]) -> ([Int], [Double]) {
        let outShape = axes.map { x.shape[$0] }
        let inStrides = strides(of: x.shape)
        let values = (0..<x.count).map { i -> Double in
            let idx = multiIndex(i, outShape)
            var src = 0
            for (d, axis) in axes.enumerated() { src += idx[d] * inStrides[axis] }
            return Double(x.value[src])
        }
        return (outShape, values)
    }

    // MARK: reshape / permute

    /// reshaped keeps the values, resolves −1, and passes gradients straight through.
    func testReshaped() {
        var rng = SeededRNG(seed: 300)
        let x = randomTensor([2, 3, 4], &rng)
        let y = x.reshaped([4, -1])
        assertClose(y, shape: [4, 6], x.value.map(Double.init))
        XCTAssertEqual(x.reshaped([-1]).shape, [24])
        XCTAssertEqual(x.reshaped([2, -1, 2]).shape, [2, 6, 2])
        assertGradientsMatch("reshaped([4, -1])", inputs: [x]) { x.reshaped([4, -1]) }
        // A reshape followed by a shape-sensitive op: the gradient must land back in the original layout.
        let w = randomTensor([6], &rng, requiresGrad: false)
        assertGradientsMatch("reshaped then broadcast", inputs: [x]) { x.reshaped([4, 6]) * w }
    }

    /// A hand-worked 2×3 transpose.
    func testTransposeHandComputed() {
        let x = Tensor(shape: [2, 3], value: [1, 2, 3, 4, 5, 6])
        assertClose(x.transposedLast(), shape: [3, 2], [1, 4, 2, 5, 3, 6])
        assertClose(x.permuted([1, 0]), shape: [3, 2], [1, 4, 2, 5, 3, 6])
        assertClose(x.permuted([0, 1]), shape: [2, 3], [1, 2, 3, 4, 5, 6])
    }

    /// Every permutation of a 3-D tensor: values against the index reference, and gradients.
    func testPermuted3D() {
        var rng = SeededRNG(seed: 301)
        let x = randomTensor([2, 3, 4], &rng)
        for axes in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
            let (shape, expected) = referencePermute(x, axes)
            assertClose(x.permuted(axes), shape: shape, expected, "permuted(\(axes))")
            assertGradientsMatch("permuted(\(axes))", inputs: [x]) { x.permuted(axes) }
        }
    }

    /// 4-D permutations (the attention head split/merge) and their inverses round-tripping exactly.
    func testPermuted4D() {
        var rng = SeededRNG(seed: 302)
        let x = randomTensor([2, 3, 2, 2], &rng)
        for axes in [[0, 2, 1, 3], [3, 1, 0, 2], [1, 3, 2, 0]] {
            let (shape, expected) = referencePermute(x, axes)
            let y = x.permuted(axes)
            assertClose(y, shape: shape, expected, "permuted(\(axes))")
            var inverse = [Int](repeating: 0, count: 4)
            for (i, a) in axes.enumerated() { inverse[a] = i }
            XCTAssertEqual(y.permuted(inverse).value, x.value, "inverse of \(axes)")
            assertGradientsMatch("permuted(\(axes))", inputs: [x]) { x.permuted(axes) }
        }
    }

    /// transposedLast swaps only the last two axes of a 3-D tensor.
    func testTransposedLast() {
        var rng = SeededRNG(seed: 303)
        let x = randomTensor([2, 3, 4], &rng)
        let (shape, expected) = referencePermute(x, [0, 2, 1])
        assertClose(x.transposedLast(), shape: shape, expected)
        assertGradientsMatch("transposedLast", inputs: [x]) { x.transposedLast() }
    }

    // MARK: concat / slice / split

    /// Three parts along axis 0, 1 and the last axis (given as −1 and as 2): values and gradients,
    /// with one constant part that must receive nothing.
    func testConcatThreeParts() {
        var rng = SeededRNG(seed: 310)
        let layouts: [(Int, [[Int]])] = [
            (0, [[1, 2, 3], [2, 2, 3], [1, 2, 3]]),
            (1, [[2, 1, 3], [2, 2, 3], [2, 3, 3]]),
            (2, [[2, 2, 1], [2, 2, 2], [2, 2, 3]]),
            (-1, [[2, 2, 2], [2, 2, 1], [2, 2, 2]]),
        ]
        for (axis, shapes) in layouts {
            let parts = shapes.map { randomTensor($0, &rng) }
            let ax = axis < 0 ? 3 + axis : axis
            var outShape = shapes[0]
            outShape[ax] = shapes.reduce(0) { $0 + $1[ax] }
            // reference: walk output multi-indices and find which part each falls into
            var expected: [Double] = []
            for i in 0..<outShape.reduce(1, *) {
                var idx = multiIndex(i, outShape)
                var p = 0
                while idx[ax] >= shapes[p][ax] {
                    idx[ax] -= shapes[p][ax]
                    p += 1
                }
                let s = strides(of: shapes[p])
                expected.append(Double(parts[p].value[zip(idx, s).reduce(0) { $0 + $1.0 * $1.1 }]))
            }
            assertClose(Tensor.concat(parts, axis: axis), shape: outShape, expected, "concat axis \(axis)")
            assertGradientsMatch("concat(axis: \(axis))", inputs: parts) { Tensor.concat(parts, axis: axis) }
        }
        // A constant part in the middle: the others still get the right gradients, the constant none.
        let a = randomTensor([2, 2], &rng), c = randomTensor([2, 3], &rng, requiresGrad: false), b = randomTensor([2, 1], &rng)
        assertGradientsMatch("concat with a constant part", inputs: [a, b]) { Tensor.concat([a, c, b], axis: 1) }
        XCTAssertTrue(c.grad.isEmpty)
    }

    /// A hand-worked concat of two rows and of two columns.
    func testConcatHandComputed() {
        let a = Tensor(shape: [2, 2], value: [1, 2, 3, 4]), b = Tensor(shape: [2, 1], value: [5, 6])
        assertClose(Tensor.concat([a, b], axis: 1), shape: [2, 3], [1, 2, 5, 3, 4, 6])
        assertClose(Tensor.concat([a, a], axis: 0), shape: [4, 2], [1, 2, 3, 4, 1, 2, 3, 4])
    }

    /// The same tensor concatenated twice receives both gradient slices.
    func testConcatSameTensorTwice() {
        var rng = SeededRNG(seed: 311)
        let x = randomTensor([2, 3], &rng)
        assertGradientsMatch("concat([x, x])", inputs: [x]) { Tensor.concat([x, x.scaled(by: 2), x], axis: 0) }
    }

    /// slice along each axis of a 3-D tensor: values and gradients (the rest of the input gets zero).
    func testSlice() {
        var rng = SeededRNG(seed: 320)
        let x = randomTensor([3, 5, 2], &rng)
        for (axis, range) in [(0, 1..<3), (1, 1..<4), (-1, 1..<2), (1, 0..<5)] {
            let ax = axis < 0 ? 3 + axis : axis
            var shape = x.shape
            shape[ax] = range.count
            let expected = (0..<shape.reduce(1, *)).map { i -> Double in
                var idx = multiIndex(i, shape)
                idx[ax] += range.lowerBound
                return Double(x.value[zip(idx, strides(of: x.shape)).reduce(0) { $0 + $1.0 * $1.1 }])
            }
            assertClose(x.slice(axis: axis, range), shape: shape, expected, "slice(axis: \(axis), \(range))")
            assertGradientsMatch("slice(axis: \(axis), \(range))", inputs: [x]) { x.slice(axis: axis, range) }
        }
        let m = Tensor(shape: [2, 4], value: [1, 2, 3, 4, 5, 6, 7, 8], requiresGrad: true)
        assertClose(m.slice(axis: 1, 1..<3), shape: [2, 2], [2, 3, 6, 7])
        m.slice(axis: 1, 1..<3).sum().backward()
        XCTAssertEqual(m.grad, [0, 1, 1, 0, 0, 1, 1, 0])
    }

    /// split into pieces that tile the axis; gradients through all pieces at once.
    func testSplit() {
        var rng = SeededRNG(seed: 321)
        let x = randomTensor([2, 5, 3], &rng)
        let pieces = x.split(axis: 1, sizes: [2, 1, 2])
        XCTAssertEqual(pieces.map(\.shape), [[2, 2, 3], [2, 1, 3], [2, 2, 3]])
        XCTAssertEqual(Tensor.concat(pieces, axis: 1).value, x.value)
        assertGradientsMatch("split(axis: 1)", inputs: [x]) { x.split(axis: 1, sizes: [2, 1, 2]) }
        assertGradientsMatch("split(axis: -1)", inputs: [x]) { x.split(axis: -1, sizes: [1, 2]) }
        // Only one piece used: the other rows of the gradient are zero.
        assertGradientsMatch("split, one piece used", inputs: [x]) { x.split(axis: 0, sizes: [1, 1])[1].tanh() }
    }

    // MARK: gather

    /// Rows at (repeated) indices, reshaped by leadingShape; repeated rows accumulate their gradients.
    func testGatherRepeatedIndices() {
        var rng = SeededRNG(seed: 330)
        let table = randomTensor([5, 3], &rng)
        let indices: [Int32] = [1, 3, 1, 0, 1, 4]
        let y = Tensor.gather(table, indices, leadingShape: [2, 3])
        let expected = indices.flatMap { i in (0..<3).map { Double(table.value[Int(i) * 3 + $0]) } }
        assertClose(y, shape: [2, 3, 3], expected)
        assertClose(Tensor.gather(table, indices), shape: [6, 3], expected)
        assertGradientsMatch("gather(leadingShape: [2, 3])", inputs: [table]) {
            Tensor.gather(table, indices, leadingShape: [2, 3])
        }
        // Σ of the gathered rows: row 1 was taken three times, row 2 never.
        table.zeroGrad()
        Tensor.gather(table, indices).sum().backward()
        XCTAssertEqual(table.grad, [1, 1, 1, 3, 3, 3, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    }

    /// Gather from a table with trailing axes (N, 2, 2): each "row" is a 2×2 block.
    func testGatherHigherRankTable() {
        var rng = SeededRNG(seed: 331)
        let table = randomTensor([4, 2, 2], &rng)
        let indices: [Int32] = [3, 0, 3]
        let y = Tensor.gather(table, indices)
        XCTAssertEqual(y.shape, [3, 2, 2])
        XCTAssertEqual(Array(y.value[0..<4]), Array(table.value[12..<16]))
        XCTAssertEqual(Array(y.value[4..<8]), Array(table.value[0..<4]))
        assertGradientsMatch("gather 3-D table", inputs: [table]) { Tensor.gather(table, indices).squared() }
    }
}
