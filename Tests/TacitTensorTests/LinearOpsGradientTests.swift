import TacitTestSupport
import XCTest

@testable import TacitTensor

/// Dense and sparse products: matmul, batchedMatmul, sparseMatmul, linear.
final class LinearOpsGradientTests: XCTestCase {
    private let transposeCases: [(Bool, Bool)] = [(false, false), (false, true), (true, false), (true, true)]

    /// Stored shapes of A and B for op(A): (m, k) and op(B): (k, n).
    private func storedShapes(m: Int, k: Int, n: Int, transA: Bool, transB: Bool) -> ([Int], [Int]) {
        (transA ? [k, m] : [m, k], transB ? [n, k] : [k, n])
    }

    // MARK: matmul

    /// A literal 2×3 · 3×2 product, worked by hand.
    func testMatmulHandComputed() {
        let a = Tensor(shape: [2, 3], value: [1, 2, 3, 4, 5, 6])
        let b = Tensor(shape: [3, 2], value: [7, 8, 9, 10, 11, 12])
        // [1 2 3]·[7 9 11]ᵀ = 58, ·[8 10 12]ᵀ = 64; [4 5 6] → 139, 154
        assertClose(Tensor.matmul(a, b), shape: [2, 2], [58, 64, 139, 154])
        // Aᵀ (3×2) · A (2×3)
        assertClose(Tensor.matmul(a, a, transA: true), shape: [3, 3], [17, 22, 27, 22, 29, 36, 27, 36, 45])
        // A · Aᵀ
        assertClose(Tensor.matmul(a, a, transB: true), shape: [2, 2], [14, 32, 32, 77])
    }

    /// Forward values of all four transpose combinations against the triple loop (non-square shapes,
    /// so a swapped leading dimension cannot go unnoticed).
    func testMatmulForwardAllTransposes() {
        var rng = SeededRNG(seed: 10)
        for (tA, tB) in transposeCases {
            let (sa, sb) = storedShapes(m: 3, k: 4, n: 5, transA: tA, transB: tB)
            let a = randomTensor(sa, &rng, requiresGrad: false), b = randomTensor(sb, &rng, requiresGrad: false)
            let c = Tensor.matmul(a, b, transA: tA, transB: tB)
            assertClose(
                c,
                shape: [3, 5],
                referenceMatmul(a.value, sa, b.value, sb, transA: tA, transB: tB),
                "matmul transA=\(tA) transB=\(tB)"
            )
        }
    }

    /// Gradients w.r.t. both operands for all four transpose combinations.
    func testMatmulGradientsAllTransposes() {
        var rng = SeededRNG(seed: 11)
        for (tA, tB) in transposeCases {
            let (sa, sb) = storedShapes(m: 3, k: 4, n: 2, transA: tA, transB: tB)
            let a = randomTensor(sa, &rng), b = randomTensor(sb, &rng)
            assertGradientsMatch("matmul(transA: \(tA), transB: \(tB))", inputs: [a, b]) {
                Tensor.matmul(a, b, transA: tA, transB: tB)
            }
        }
    }

    /// Only the operand that requires grad receives one; a constant operand stays untouched.
    func testMatmulGradientOnlyToParameters() {
        var rng = SeededRNG(seed: 12)
        let a = randomTensor([2, 3], &rng), b = randomTensor([3, 2], &rng, requiresGrad: false)
        assertGradientsMatch("matmul(param, const)", inputs: [a]) { Tensor.matmul(a, b) }
        let loss = Tensor.matmul(a, b).sum()
        loss.backward()
        XCTAssertTrue(b.grad.isEmpty)
        XCTAssertEqual(a.grad.count, 6)
    }

    /// The same tensor as both operands (x·xᵀ) accumulates both contributions.
    func testMatmulSelfProductGradient() {
        var rng = SeededRNG(seed: 13)
        let x = randomTensor([3, 4], &rng)
        assertGradientsMatch("matmul(x, xᵀ)", inputs: [x]) { Tensor.matmul(x, x, transB: true) }
        assertGradientsMatch("matmul(xᵀ, x)", inputs: [x]) { Tensor.matmul(x, x, transA: true) }
    }

    /// An empty inner dimension gives an exact zero product (BLAS leaves C alone when k == 0).
    func testMatmulEmptyInnerDimension() {
        let a = Tensor(shape: [2, 0], value: []), b = Tensor(shape: [0, 3], value: [])
        assertClose(Tensor.matmul(a, b), shape: [2, 3], [Double](repeating: 0, count: 6))
    }

    // MARK: batchedMatmul

    /// Forward values of all four combinations, batch by batch against the triple loop.
    func testBatchedMatmulForwardAllTransposes() {
        var rng = SeededRNG(seed: 20)
        let batch = 3, m = 2, k = 4, n = 3
        for (tA, tB) in transposeCases {
            let (sa, sb) = storedShapes(m: m, k: k, n: n, transA: tA, transB: tB)
            let a = randomTensor([batch] + sa, &rng, requiresGrad: false)
            let b = randomTensor([batch] + sb, &rng, requiresGrad: false)
            var expected: [Double] = []
            for i in 0..<batch {
                let ai = Array(a.value[(i * m * k)..<((i + 1) * m * k)])
                let bi = Array(b.value[(i * k * n)..<((i + 1) * k * n)])
                expected += referenceMatmul(ai, sa, bi, sb, transA: tA, transB: tB)
            }
            assertClose(
                Tensor.batchedMatmul(a, b, transA: tA, transB: tB),
                shape: [batch, m, n],
                expected,
                "batchedMatmul transA=\(tA) transB=\(tB)"
            )
        }
    }

    /// Gradients w.r.t. both operands for all four combinations.
    func testBatchedMatmulGradientsAllTransposes() {
        var rng = SeededRNG(seed: 21)
        for (tA, tB) in transposeCases {
            let (sa, sb) = storedShapes(m: 3, k: 2, n: 4, transA: tA, transB: tB)
            let a = randomTensor([2] + sa, &rng), b = randomTensor([2] + sb, &rng)
            assertGradientsMatch("batchedMatmul(transA: \(tA), transB: \(tB))", inputs: [a, b]) {
                Tensor.batchedMatmul(a, b, transA: tA, transB: tB)
            }
        }
    }

    /// The same tensor as both operands (attention-style Q·Kᵀ, and x·x, xᵀ·x for square blocks): the
    /// second operand's gradient must add to the first's, in every transpose combination.
    func testBatchedMatmulSharedOperandGradient() {
        var rng = SeededRNG(seed: 22)
        let x = randomTensor([2, 3, 4], &rng)
        assertGradientsMatch("batchedMatmul(x, xᵀ)", inputs: [x]) { Tensor.batchedMatmul(x, x, transB: true) }
        assertGradientsMatch("batchedMatmul(xᵀ, x)", inputs: [x]) { Tensor.batchedMatmul(x, x, transA: true) }
        let square = randomTensor([2, 3, 3], &rng)
        assertGradientsMatch("batchedMatmul(x, x)", inputs: [square]) { Tensor.batchedMatmul(square, square) }
        assertGradientsMatch("batchedMatmul(xᵀ, xᵀ)", inputs: [square]) {
            Tensor.batchedMatmul(square, square, transA: true, transB: true)
        }
    }

    // MARK: sparseMatmul

    /// A non-symmetric 4×5 matrix from COO with duplicate (row, col) pairs and an empty row.
    private func cooMatrix() -> (SparseMatrix, dense: [[Double]]) {
        let r: [Int32] = [0, 0, 2, 3, 0, 2, 3, 3, 0]
        let c: [Int32] = [4, 1, 0, 2, 1, 3, 2, 0, 0]
        let v: [Float] = [0.5, -1.0, 2.0, 0.25, 0.75, -0.5, 1.5, 0.3, 1.2]
        var dense = [[Double]](repeating: [Double](repeating: 0, count: 5), count: 4)
        for e in 0..<r.count { dense[Int(r[e])][Int(c[e])] += Double(v[e]) }
        return (SparseMatrix(rows: 4, cols: 5, rowIndex: r, colIndex: c, values: v), dense)
    }

    private func denseProduct(_ a: [[Double]], _ x: Tensor) -> [Double] {
        let d = x.shape[1]
        var out: [Double] = []
        for row in a {
            for j in 0..<d {
                var s = 0.0
                for (c, v) in row.enumerated() { s += v * Double(x.value[c * d + j]) }
                out.append(s)
            }
        }
        return out
    }

    private func transposed(_ a: [[Double]]) -> [[Double]] {
        (0..<a[0].count).map { j in a.map { $0[j] } }
    }

    /// A · x for a non-symmetric COO-built matrix equals the dense product; gradient is Aᵀ · dY.
    func testSparseMatmulNonSymmetric() {
        let (a, dense) = cooMatrix()
        var rng = SeededRNG(seed: 30)
        let x = randomTensor([5, 3], &rng)
        assertClose(Tensor.sparseMatmul(a, x), shape: [4, 3], denseProduct(dense, x))
        assertGradientsMatch("sparseMatmul(COO)", inputs: [x]) { Tensor.sparseMatmul(a, x) }
    }

    /// Propagating through the transpose (items → users) is a product with Aᵀ whose gradient needs A.
    func testSparseMatmulThroughTranspose() {
        let (a, dense) = cooMatrix()
        var rng = SeededRNG(seed: 31)
        let x = randomTensor([4, 3], &rng)
        assertClose(Tensor.sparseMatmul(a.transpose, x), shape: [5, 3], denseProduct(transposed(dense), x))
        assertGradientsMatch("sparseMatmul(Aᵀ)", inputs: [x]) { Tensor.sparseMatmul(a.transpose, x) }
    }

    /// The symmetric normalized bipartite adjacency (LightGCN) used as propagation matrix.
    func testSparseMatmulNormalizedBipartite() {
        let a = SparseMatrix.normalizedBipartite(
            users: 3,
            items: 4,
            edgeUsers: [0, 0, 1, 2, 2, 1],
            edgeItems: [0, 2, 1, 3, 0, 2]
        )
        XCTAssertTrue(a.isSymmetric)
        var dense = [[Double]](repeating: [Double](repeating: 0, count: 7), count: 7)
        for r in 0..<7 { for e in a.rowStart[r]..<a.rowStart[r + 1] { dense[r][Int(a.colIndex[e])] = Double(a.values[e]) } }
        var rng = SeededRNG(seed: 32)
        let x = randomTensor([7, 2], &rng)
        assertClose(Tensor.sparseMatmul(a, x), shape: [7, 2], denseProduct(dense, x))
        assertGradientsMatch("sparseMatmul(normalizedBipartite)", inputs: [x]) { Tensor.sparseMatmul(a, x) }
        // Two propagation layers reuse the matrix and the intermediate.
        assertGradientsMatch("sparseMatmul²", inputs: [x]) {
            let e1 = Tensor.sparseMatmul(a, x)
            return Tensor.sparseMatmul(a, e1) + e1
        }
    }

    /// Wide embeddings go through the SIMD blocks of the row kernel (64 + 16 + tail columns here), forward
    /// and backward (Aᵀ · dY accumulates into an existing gradient).
    func testSparseMatmulWideColumns() {
        let (a, dense) = cooMatrix()
        var rng = SeededRNG(seed: 34)
        let x = randomTensor([5, 83], &rng)
        assertClose(Tensor.sparseMatmul(a, x), shape: [4, 83], denseProduct(dense, x), atol: 1e-5, rtol: 1e-5)
        assertGradientsMatch("sparseMatmul, d = 83", inputs: [x]) { Tensor.sparseMatmul(a, x) + x.slice(axis: 0, 0..<4) }
        let xt = randomTensor([4, 20], &rng)
        assertGradientsMatch("sparseMatmul(Aᵀ), d = 20", inputs: [xt]) { Tensor.sparseMatmul(a.transpose, xt) }
    }

    /// The row-parallel kernel gives bit-identical results for 1 and 2 threads (rows ≥ 2 × minChunk).
    func testSparseMatmulDeterministicAcrossThreads() {
        var rng = SeededRNG(seed: 33)
        let rows = 700, cols = 50, nnz = 3000
        let r = (0..<nnz).map { _ in Int32(rng.nextInt(below: rows)) }
        let c = (0..<nnz).map { _ in Int32(rng.nextInt(below: cols)) }
        let v = randomValues(nnz, &rng)
        let a = SparseMatrix(rows: rows, cols: cols, rowIndex: r, colIndex: c, values: v)
        let x = randomTensor([cols, 3], &rng)
        let saved = Compute.threads
        defer { Compute.setThreads(saved) }
        var results: [([Float], [Float])] = []
        for threads in [1, 2] {
            Compute.setThreads(threads)
            let y = Tensor.sparseMatmul(a, x)
            let w = Tensor(shape: y.shape, value: (0..<y.count).map { Float($0 % 7) - 3 })
            (y * w).sum().backward()
            results.append((y.value, x.grad))
            x.zeroGrad()
        }
        XCTAssertEqual(results[0].0, results[1].0)
        XCTAssertEqual(results[0].1, results[1].1)
        // and the forward is right: spot-check against the COO triples
        var dense = [Double](repeating: 0, count: rows * 3)
        for e in 0..<nnz { for j in 0..<3 { dense[Int(r[e]) * 3 + j] += Double(v[e]) * Double(x.value[Int(c[e]) * 3 + j]) } }
        assertClose(results[1].0, dense, atol: 1e-4, rtol: 1e-4)
    }

    // MARK: multiRelationMatmul

    /// A symmetric 6-node multigraph with three relations; pair (0, 3) carries two relations.
    private func multiRelationGraph() -> (MultiRelationMatrix, perRelation: [[[Double]]]) {
        let edges: [(Int32, Int32, Int32, Float)] = [
            (0, 3, 0, 0.5), (0, 3, 2, -0.7), (1, 4, 1, 1.2), (2, 5, 0, 0.3),
            (1, 3, 2, 0.9), (0, 0, 1, 0.4), (2, 4, 1, -1.1),
        ]
        var r: [Int32] = [], c: [Int32] = [], v: [Float] = [], g: [Int32] = []
        var dense = [[[Double]]](repeating: [[Double]](repeating: [Double](repeating: 0, count: 6), count: 6), count: 3)
        for (a, b, rel, x) in edges {
            r += a == b ? [a] : [a, b]
            c += a == b ? [a] : [b, a]
            v += a == b ? [x] : [x, x]
            g += a == b ? [rel] : [rel, rel]
            dense[Int(rel)][Int(a)][Int(b)] = Double(x)
            dense[Int(rel)][Int(b)][Int(a)] = Double(x)
        }
        return (MultiRelationMatrix(size: 6, relationCount: 3, rowIndex: r, colIndex: c, values: v, relation: g), dense)
    }

    /// Σ_g (A_g x) ⊙ w_g equals the product relation by relation; gradients for x and w, at a width
    /// that takes the SIMD block and the scalar tail (d = 35), and at a narrow one.
    func testMultiRelationMatmul() {
        let (a, perRelation) = multiRelationGraph()
        var rng = SeededRNG(seed: 35)
        for d in [3, 35] {
            let x = randomTensor([6, d], &rng), w = randomTensor([3, d], &rng)
            var expected = [Double](repeating: 0, count: 6 * d)
            for (g, dense) in perRelation.enumerated() {
                let product = denseProduct(dense, x)
                for r in 0..<6 { for j in 0..<d { expected[r * d + j] += product[r * d + j] * Double(w.value[g * d + j]) } }
            }
            assertClose(Tensor.multiRelationMatmul(a, x, weights: w), shape: [6, d], expected, atol: 1e-5, rtol: 1e-5)
            assertGradientsMatch("multiRelationMatmul, d = \(d)", inputs: [x, w]) {
                // Two layers: the second reads the first, as in a propagation.
                let e1 = Tensor.multiRelationMatmul(a, x, weights: w)
                return Tensor.multiRelationMatmul(a, e1, weights: w) + e1
            }
        }
    }

    /// Forward and both gradients are identical for 1 and 2 threads (rows ≥ 2 × minChunk).
    func testMultiRelationMatmulDeterministicAcrossThreads() {
        var rng = SeededRNG(seed: 36)
        let n = 900, pairs = 4000
        var r: [Int32] = [], c: [Int32] = [], v: [Float] = [], g: [Int32] = []
        for _ in 0..<pairs {
            let a = Int32(rng.nextInt(below: n)), b = Int32(rng.nextInt(below: n)), x = rng.nextFloat(), rel = Int32(rng.nextInt(below: 4))
            r += [a, b]
            c += [b, a]
            v += [x, x]
            g += [rel, rel]
        }
        let a = MultiRelationMatrix(size: n, relationCount: 4, rowIndex: r, colIndex: c, values: v, relation: g)
        let x = randomTensor([n, 40], &rng), w = randomTensor([4, 40], &rng)
        let saved = Compute.threads
        defer { Compute.setThreads(saved) }
        var results: [[[Float]]] = []
        for threads in [1, 2] {
            Compute.setThreads(threads)
            let y = Tensor.multiRelationMatmul(a, x, weights: w)
            (y * Tensor(shape: y.shape, value: (0..<y.count).map { Float($0 % 7) - 3 })).sum().backward()
            results.append([y.value, x.grad, w.grad])
            x.zeroGrad()
            w.zeroGrad()
        }
        XCTAssertEqual(results[0][0], results[1][0])
        XCTAssertEqual(results[0][1], results[1][1])
        // The weight gradient sums per-thread tables: equal up to the order of one addition.
        assertClose(results[1][2], results[0][2].map(Double.init), atol: 1e-3, rtol: 1e-5)
    }

    // MARK: linear

    /// 2-D linear with bias: values are x·W + b; gradients for x, W and b.
    func testLinear2DWithBias() {
        var rng = SeededRNG(seed: 40)
        let x = randomTensor([4, 3], &rng), w = randomTensor([3, 2], &rng), b = randomTensor([2], &rng)
        var expected = referenceMatmul(x.value, x.shape, w.value, w.shape, transA: false, transB: false)
        for i in 0..<expected.count { expected[i] += Double(b.value[i % 2]) }
        assertClose(Tensor.linear(x, w, b), shape: [4, 2], expected)
        assertGradientsMatch("linear 2-D + bias", inputs: [x, w, b]) { Tensor.linear(x, w, b) }
    }

    /// 2-D linear without bias equals matmul.
    func testLinear2DWithoutBias() {
        var rng = SeededRNG(seed: 41)
        let x = randomTensor([3, 4], &rng), w = randomTensor([4, 5], &rng)
        assertClose(
            Tensor.linear(x, w),
            shape: [3, 5],
            referenceMatmul(x.value, x.shape, w.value, w.shape, transA: false, transB: false)
        )
        assertGradientsMatch("linear 2-D", inputs: [x, w]) { Tensor.linear(x, w) }
    }

    /// 3-D input (B, T, in): leading axes are flattened and restored; gradients for x, W, b.
    func testLinear3D() {
        var rng = SeededRNG(seed: 42)
        let x = randomTensor([2, 3, 4], &rng), w = randomTensor([4, 2], &rng), b = randomTensor([2], &rng)
        var expected = referenceMatmul(x.value, [6, 4], w.value, w.shape, transA: false, transB: false)
        let withBias = Tensor.linear(x, w, b)
        assertClose(Tensor.linear(x, w), shape: [2, 3, 2], expected)
        for i in 0..<expected.count { expected[i] += Double(b.value[i % 2]) }
        assertClose(withBias, shape: [2, 3, 2], expected)
        assertGradientsMatch("linear 3-D + bias", inputs: [x, w, b]) { Tensor.linear(x, w, b) }
        assertGradientsMatch("linear 3-D", inputs: [x, w]) { Tensor.linear(x, w) }
    }
}
