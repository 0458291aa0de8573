import TacitTestSupport
import XCTest

@testable import TacitTensor

/// CSR construction, transpose, products, and the LightGCN normalized adjacency.
final class SparseMatrixTests: XCTestCase {
    /// The dense form of a CSR matrix.
    private func dense(_ a: SparseMatrix) -> [[Float]] {
        var out = [[Float]](repeating: [Float](repeating: 0, count: a.cols), count: a.rows)
        for r in 0..<a.rows { for e in a.rowStart[r]..<a.rowStart[r + 1] { out[r][Int(a.colIndex[e])] += a.values[e] } }
        return out
    }

    /// Columns strictly increasing within every row (sorted, no duplicates left).
    private func assertSortedRows(_ a: SparseMatrix, file: StaticString = #filePath, line: UInt = #line) {
        for r in 0..<a.rows {
            let cols = a.colIndex[a.rowStart[r]..<a.rowStart[r + 1]]
            XCTAssertTrue(zip(cols, cols.dropFirst()).allSatisfy { $0 < $1 }, "row \(r): \(Array(cols))", file: file, line: line)
        }
    }

    /// COO with duplicates and unsorted columns: duplicates are summed, columns sorted, rowStart exact.
    func testCompressHandComputed() {
        let a = SparseMatrix(
            rows: 3,
            cols: 4,
            rowIndex: [2, 0, 0, 2, 0, 2],
            colIndex: [1, 3, 0, 1, 3, 0],
            values: [1, 2, 3, 4, 5, 6]
        )
        XCTAssertEqual(a.rowStart, [0, 2, 2, 4])
        XCTAssertEqual(a.colIndex, [0, 3, 0, 1])
        XCTAssertEqual(a.values, [3, 7, 6, 5])
        XCTAssertEqual(a.nonZeros, 4)
        XCTAssertFalse(a.isSymmetric)
    }

    /// Random COO input: dense form equals the summed triples; rows sorted; transpose is the dense transpose,
    /// also sorted; and the transpose of the transpose is the original.
    func testCompressAndTransposeRandom() {
        var rng = SeededRNG(seed: 700)
        let rows = 6, cols = 5, n = 40  // 40 entries in 30 cells: many duplicates
        let r = (0..<n).map { _ in Int32(rng.nextInt(below: rows)) }
        let c = (0..<n).map { _ in Int32(rng.nextInt(below: cols)) }
        let v = (0..<n).map { _ in Float(rng.nextInt(below: 9) + 1) }  // small integers: sums are exact
        var expected = [[Float]](repeating: [Float](repeating: 0, count: cols), count: rows)
        for e in 0..<n { expected[Int(r[e])][Int(c[e])] += v[e] }
        let a = SparseMatrix(rows: rows, cols: cols, rowIndex: r, colIndex: c, values: v)
        XCTAssertEqual(dense(a), expected)
        assertSortedRows(a)
        XCTAssertEqual(a.nonZeros, expected.joined().filter { $0 != 0 }.count)
        let t = a.transpose
        XCTAssertEqual(t.rows, cols)
        XCTAssertEqual(t.cols, rows)
        XCTAssertEqual(dense(t), (0..<cols).map { j in expected.map { $0[j] } })
        assertSortedRows(t)
        XCTAssertEqual(dense(t.transpose), expected, "(Aᵀ)ᵀ = A")
        XCTAssertEqual(t.transpose.rows, rows)
    }

    /// An empty matrix and empty rows are fine.
    func testEmpty() {
        let a = SparseMatrix(rows: 3, cols: 2, rowIndex: [], colIndex: [], values: [])
        XCTAssertEqual(a.rowStart, [0, 0, 0, 0])
        XCTAssertEqual(a.transpose.rowStart, [0, 0, 0])
        var y = [Float](repeating: 5, count: 6)
        let x: [Float] = [1, 2, 3, 4]
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                a.multiply(px.baseAddress!, columns: 2, into: py.baseAddress!, accumulate: false)
            }
        }
        XCTAssertEqual(y, [0, 0, 0, 0, 0, 0])
    }

    /// multiply against a dense product, overwriting and accumulating.
    func testMultiply() {
        let a = SparseMatrix(rows: 2, cols: 3, rowIndex: [0, 0, 1], colIndex: [0, 2, 1], values: [2, -1, 3])
        let x: [Float] = [1, 2, 3, 4, 5, 6]  // 3×2
        var y: [Float] = [100, 100, 100, 100]
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                a.multiply(px.baseAddress!, columns: 2, into: py.baseAddress!, accumulate: false)
            }
        }
        // row 0: 2·[1,2] − [5,6] = [−3, −2]; row 1: 3·[3,4] = [9, 12]
        XCTAssertEqual(y, [-3, -2, 9, 12])
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                a.multiply(px.baseAddress!, columns: 2, into: py.baseAddress!, accumulate: true)
            }
        }
        XCTAssertEqual(y, [-6, -4, 18, 24])
    }

    /// The row kernel's SIMD blocks (64 and 16 columns) and scalar tail, for widths around every block
    /// boundary: overwrite ignores what y held (including for an empty row), accumulate adds to it.
    func testMultiplyAllColumnWidths() {
        var rng = SeededRNG(seed: 710)
        let rows = 5, cols = 7
        let r: [Int32] = [0, 0, 1, 1, 1, 3, 3, 4, 4, 0]  // row 2 empty; (0, 3) twice
        let c: [Int32] = [3, 6, 0, 2, 5, 1, 4, 6, 0, 3]
        let v = randomValues(r.count, &rng)
        let a = SparseMatrix(rows: rows, cols: cols, rowIndex: r, colIndex: c, values: v)
        for d in [1, 3, 15, 16, 17, 31, 32, 48, 63, 64, 65, 79, 80, 83, 128, 130] {
            let x = randomValues(cols * d, &rng)
            let prior = randomValues(rows * d, &rng)
            var expected = [Double](repeating: 0, count: rows * d)
            for e in 0..<r.count {
                for j in 0..<d { expected[Int(r[e]) * d + j] += Double(v[e]) * Double(x[Int(c[e]) * d + j]) }
            }
            for accumulate in [false, true] {
                var y = prior
                x.withUnsafeBufferPointer { px in
                    y.withUnsafeMutableBufferPointer { py in
                        a.multiply(px.baseAddress!, columns: d, into: py.baseAddress!, accumulate: accumulate)
                    }
                }
                let want = accumulate ? zip(expected, prior).map { $0 + Double($1) } : expected
                assertClose(y, want, atol: 1e-5, rtol: 1e-5, "d = \(d), accumulate = \(accumulate)")
            }
        }
    }

    /// A symmetric matrix is its own transpose (no copy kept).
    func testSymmetricTransposeIsSelf() {
        let a = SparseMatrix(rows: 2, cols: 2, rowIndex: [0, 1], colIndex: [1, 0], values: [1, 1], symmetric: true)
        XCTAssertTrue(a.transpose === a)
        let b = SparseMatrix(rows: 2, cols: 2, rowIndex: [0, 1], colIndex: [1, 0], values: [1, 1])
        XCTAssertFalse(b.transpose === b)
    }

    /// D^{-1/2} A D^{-1/2} of the bipartite adjacency, computed densely here: duplicate (user, item) pairs
    /// count once, users come first, an isolated item has an all-zero row, and the result is symmetric.
    func testNormalizedBipartiteAgainstDense() {
        let users = 3, items = 4, n = users + items
        let eu: [Int32] = [0, 0, 1, 2, 2, 0, 1]
        let ei: [Int32] = [0, 1, 1, 0, 2, 1, 0]  // (0,1) twice; item 3 isolated
        var adj = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for e in 0..<eu.count {
            let u = Int(eu[e]), i = users + Int(ei[e])
            adj[u][i] = 1
            adj[i][u] = 1
        }
        let degree = adj.map { $0.reduce(0, +) }
        let a = SparseMatrix.normalizedBipartite(users: users, items: items, edgeUsers: eu, edgeItems: ei)
        XCTAssertTrue(a.isSymmetric)
        XCTAssertEqual(a.rows, n)
        XCTAssertEqual(a.nonZeros, 12, "6 distinct pairs, both directions")
        assertSortedRows(a)
        let d = dense(a)
        for r in 0..<n {
            for c in 0..<n {
                let expected = adj[r][c] == 0 ? 0 : adj[r][c] / (degree[r] * degree[c]).squareRoot()
                XCTAssertEqual(Double(d[r][c]), expected, accuracy: 1e-6, "(\(r), \(c))")
                XCTAssertEqual(d[r][c], d[c][r])
            }
        }
        XCTAssertEqual(d[users + 3], [Float](repeating: 0, count: n), "isolated item")
        // user 0 (items 0 and 1) – item 0 (users 0, 1, 2): 1/√(2·3)
        XCTAssertEqual(Double(d[0][users]), 1 / 6.0.squareRoot(), accuracy: 1e-6)
    }

    /// Edge weights scale edges and degrees: Â = D^{-1/2} W D^{-1/2} with D the weighted degree.
    func testNormalizedBipartiteWeighted() {
        let a = SparseMatrix.normalizedBipartite(
            users: 2,
            items: 2,
            edgeUsers: [0, 0, 1],
            edgeItems: [0, 1, 1],
            weights: [2, 1, 3]
        )
        // degrees: u0 = 3, u1 = 3, i0 = 2, i1 = 4
        let d = dense(a)
        XCTAssertEqual(Double(d[0][2]), 2 / (3.0 * 2).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(Double(d[0][3]), 1 / (3.0 * 4).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(Double(d[1][3]), 3 / (3.0 * 4).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(d[1][2], 0)
        XCTAssertEqual(d[3][1], d[1][3])
    }
}
