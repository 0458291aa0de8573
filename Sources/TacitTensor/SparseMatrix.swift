/// A sparse matrix in compressed-sparse-row form, with its transpose kept beside it so that
/// the backward pass of `A · X` (which needs `Aᵀ · dY`) is another row-parallel product.
public final class SparseMatrix: Sendable {
    public let rows: Int
    public let cols: Int
    /// `rowStart[r] ..< rowStart[r + 1]` indexes row r's entries; `rows + 1` values.
    public let rowStart: [Int]
    public let colIndex: [Int32]
    public let values: [Float]
    /// Whether the matrix equals its transpose (then `transpose` is `self`).
    public let isSymmetric: Bool
    private let storedTranspose: SparseMatrix?

    public var nonZeros: Int { values.count }
    /// Aᵀ: stored for a matrix built by an initializer, `self` when symmetric. The transpose of a stored
    /// transpose (needed by the backward pass of `sparseMatmul(a.transpose, x)`) is rebuilt on each access,
    /// since storing it would make the two matrices keep each other alive.
    public var transpose: SparseMatrix {
        if let storedTranspose { return storedTranspose }
        if isSymmetric { return self }
        return SparseMatrix.transposeOf(rows: rows, cols: cols, rowStart: rowStart, colIndex: colIndex, values: values)
    }

    /// Builds from coordinates; duplicate (row, col) entries are summed, columns sorted per row.
    public convenience init(
        rows: Int,
        cols: Int,
        rowIndex: [Int32],
        colIndex: [Int32],
        values: [Float],
        symmetric: Bool = false
    ) {
        let (start, cidx, vals) = SparseMatrix.compress(
            rows: rows,
            cols: cols,
            rowIndex: rowIndex,
            colIndex: colIndex,
            values: values
        )
        self.init(rows: rows, cols: cols, rowStart: start, colIndex: cidx, values: vals, symmetric: symmetric)
    }

    /// Takes compressed arrays as they are (callers guarantee sorted, in-range columns).
    public init(rows: Int, cols: Int, rowStart: [Int], colIndex: [Int32], values: [Float], symmetric: Bool = false) {
        precondition(rowStart.count == rows + 1 && colIndex.count == values.count && rowStart[rows] == values.count)
        precondition(!symmetric || rows == cols, "a symmetric matrix is square")
        self.rows = rows
        self.cols = cols
        self.rowStart = rowStart
        self.colIndex = colIndex
        self.values = values
        self.isSymmetric = symmetric
        storedTranspose =
            symmetric
            ? nil
            : SparseMatrix.transposeOf(
                rows: rows,
                cols: cols,
                rowStart: rowStart,
                colIndex: colIndex,
                values: values
            )
    }

    /// Aᵀ of CSR arrays, as a matrix without a stored transpose of its own.
    private static func transposeOf(
        rows: Int,
        cols: Int,
        rowStart: [Int],
        colIndex: [Int32],
        values: [Float]
    ) -> SparseMatrix {
        var rowIdx = [Int32](repeating: 0, count: values.count)
        for r in 0..<rows { for e in rowStart[r]..<rowStart[r + 1] { rowIdx[e] = Int32(r) } }
        let (tStart, tCol, tVal) = SparseMatrix.compress(
            rows: cols,
            cols: rows,
            rowIndex: colIndex,
            colIndex: rowIdx,
            values: values
        )
        return SparseMatrix(rows: cols, cols: rows, rowStart: tStart, colIndex: tCol, values: tVal, asTranspose: ())
    }

    private init(rows: Int, cols: Int, rowStart: [Int], colIndex: [Int32], values: [Float], asTranspose: Void) {
        self.rows = rows
        self.cols = cols
        self.rowStart = rowStart
        self.colIndex = colIndex
        self.values = values
        self.isSymmetric = false
        // No stored transpose: `transpose` rebuilds it on demand, so the two matrices do not form a cycle.
        self.storedTranspose = nil
    }

    /// Counting sort by row, then by column within each row; sums duplicates.
    static func compress(
        rows: Int,
        cols: Int,
        rowIndex: [Int32],
        colIndex: [Int32],
        values: [Float]
    )
        -> ([Int], [Int32], [Float])
    {
        precondition(rowIndex.count == colIndex.count && colIndex.count == values.count)
        var counts = [Int](repeating: 0, count: rows + 1)
        for r in rowIndex {
            precondition(r >= 0 && Int(r) < rows, "row \(r) out of 0..<\(rows)")
            counts[Int(r) + 1] += 1
        }
        for r in 0..<rows { counts[r + 1] += counts[r] }
        var fill = counts
        var cidx = [Int32](repeating: 0, count: values.count)
        var vals = [Float](repeating: 0, count: values.count)
        for e in 0..<values.count {
            let r = Int(rowIndex[e])
            precondition(colIndex[e] >= 0 && Int(colIndex[e]) < cols, "column \(colIndex[e]) out of 0..<\(cols)")
            cidx[fill[r]] = colIndex[e]
            vals[fill[r]] = values[e]
            fill[r] += 1
        }
        // Sort each row by column and merge duplicates.
        var outStart = [Int](repeating: 0, count: rows + 1)
        var outCol: [Int32] = []
        var outVal: [Float] = []
        outCol.reserveCapacity(values.count)
        outVal.reserveCapacity(values.count)
        var order: [Int] = []
        for r in 0..<rows {
            let lo = counts[r], hi = counts[r + 1]
            order.removeAll(keepingCapacity: true)
            order.append(contentsOf: lo..<hi)
            order.sort { cidx[$0] < cidx[$1] }
            var last: Int32 = -1
            for e in order {
                if cidx[e] == last {
                    outVal[outVal.count - 1] += vals[e]
                } else {
                    outCol.append(cidx[e])
                    outVal.append(vals[e])
                    last = cidx[e]
                }
            }
            outStart[r + 1] = outCol.count
        }
        return (outStart, outCol, outVal)
    }

    /// y (rows × d) = self · x (cols × d), or y += self · x when `accumulate`. Row-parallel.
    /// Each output row is accumulated in SIMD registers across all of the row's entries and
    /// stored once (64 columns per pass), instead of a load/store of y per entry.
    public func multiply(
        _ x: UnsafePointer<Float>,
        columns d: Int,
        into y: UnsafeMutablePointer<Float>,
        accumulate: Bool
    ) {
        Profiler.measure(.sparse) {
            rowStart.withUnsafeBufferPointer { start in
                colIndex.withUnsafeBufferPointer { col in
                    values.withUnsafeBufferPointer { val in
                        Compute.parallelFor(rows, minChunk: 256) { range in
                            for r in range {
                                SparseMatrix.row(
                                    r,
                                    start: start,
                                    col: col,
                                    val: val,
                                    x: x,
                                    d: d,
                                    y: y,
                                    accumulate: accumulate
                                )
                            }
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    static func row(
        _ r: Int,
        start: UnsafeBufferPointer<Int>,
        col: UnsafeBufferPointer<Int32>,
        val: UnsafeBufferPointer<Float>,
        x: UnsafePointer<Float>,
        d: Int,
        y: UnsafeMutablePointer<Float>,
        accumulate: Bool
    ) {
        let lo = start[r], hi = start[r &+ 1]
        let out = y + r &* d
        var c = 0
        // 64 columns at a time: four 16-wide accumulators stay in registers.
        while c &+ 64 <= d {
            var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
            for e in lo..<hi {
                let v = SIMD16<Float>(repeating: val[e])
                let src: UnsafeRawPointer = UnsafeRawPointer(x + (Int(col[e]) &* d &+ c))
                a0 += v * src.loadUnaligned(as: SIMD16<Float>.self)
                a1 += v * src.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
                a2 += v * src.loadUnaligned(fromByteOffset: 128, as: SIMD16<Float>.self)
                a3 += v * src.loadUnaligned(fromByteOffset: 192, as: SIMD16<Float>.self)
            }
            let dst = UnsafeMutableRawPointer(out + c)
            if accumulate {
                a0 += dst.loadUnaligned(as: SIMD16<Float>.self)
                a1 += dst.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
                a2 += dst.loadUnaligned(fromByteOffset: 128, as: SIMD16<Float>.self)
                a3 += dst.loadUnaligned(fromByteOffset: 192, as: SIMD16<Float>.self)
            }
            dst.storeBytes(of: a0, as: SIMD16<Float>.self)
            dst.storeBytes(of: a1, toByteOffset: 64, as: SIMD16<Float>.self)
            dst.storeBytes(of: a2, toByteOffset: 128, as: SIMD16<Float>.self)
            dst.storeBytes(of: a3, toByteOffset: 192, as: SIMD16<Float>.self)
            c &+= 64
        }
        while c &+ 16 <= d {
            var a = SIMD16<Float>()
            for e in lo..<hi {
                let v = SIMD16<Float>(repeating: val[e])
                let src: UnsafeRawPointer = UnsafeRawPointer(x + (Int(col[e]) &* d &+ c))
                a += v * src.loadUnaligned(as: SIMD16<Float>.self)
            }
            let dst = UnsafeMutableRawPointer(out + c)
            if accumulate { a += dst.loadUnaligned(as: SIMD16<Float>.self) }
            dst.storeBytes(of: a, as: SIMD16<Float>.self)
            c &+= 16
        }
        if c < d {
            if !accumulate { (out + c).update(repeating: 0, count: d &- c) }
            for e in lo..<hi {
                let v = val[e]
                let src = x + Int(col[e]) &* d
                for j in c..<d { out[j] += v * src[j] }
            }
        }
    }
}

extension SparseMatrix {
    /// The symmetrically normalized adjacency `D^{-1/2} A D^{-1/2}` of a user–item bipartite graph,
    /// as one (users + items) square matrix: users are nodes `0..<users`, items `users..<users+items`.
    /// Each (user, item) pair counts once whatever its multiplicity (keeping its first weight);
    /// `weights` (if given) scale edges.
    /// Isolated nodes get an all-zero row (LightGCN, He et al. 2020, eq. 7).
    public static func normalizedBipartite(
        users: Int,
        items: Int,
        edgeUsers: [Int32],
        edgeItems: [Int32],
        weights: [Float]? = nil
    ) -> SparseMatrix {
        precondition(edgeUsers.count == edgeItems.count)
        let n = users + items
        // Deduplicate pairs first so the degree counts each neighbour once.
        var pairs = [(Int32, Int32, Float)]()
        pairs.reserveCapacity(edgeUsers.count)
        for e in 0..<edgeUsers.count {
            precondition(edgeUsers[e] >= 0 && Int(edgeUsers[e]) < users, "user \(edgeUsers[e]) out of 0..<\(users)")
            precondition(edgeItems[e] >= 0 && Int(edgeItems[e]) < items, "item \(edgeItems[e]) out of 0..<\(items)")
            pairs.append((edgeUsers[e], edgeItems[e], weights?[e] ?? 1))
        }
        // Stable order (by input position on ties) so a repeated pair keeps its first weight.
        pairs = pairs.enumerated().sorted { ($0.element.0, $0.element.1, $0.offset) < ($1.element.0, $1.element.1, $1.offset) }
            .map(\.element)
        var uniq = [(Int32, Int32, Float)]()
        uniq.reserveCapacity(pairs.count)
        for p in pairs where uniq.last.map({ $0.0 != p.0 || $0.1 != p.1 }) ?? true { uniq.append(p) }

        var degree = [Float](repeating: 0, count: n)
        for (u, i, w) in uniq {
            degree[Int(u)] += w
            degree[users + Int(i)] += w
        }
        let invSqrt = degree.map { $0 > 0 ? 1 / $0.squareRoot() : 0 }
        var r = [Int32](), c = [Int32](), v = [Float]()
        r.reserveCapacity(2 * uniq.count)
        c.reserveCapacity(2 * uniq.count)
        v.reserveCapacity(2 * uniq.count)
        for (u, i, w) in uniq {
            let a = Int(u), b = users + Int(i)
            let x = w * invSqrt[a] * invSqrt[b]
            r.append(Int32(a))
            c.append(Int32(b))
            v.append(x)
            r.append(Int32(b))
            c.append(Int32(a))
            v.append(x)
        }
        return SparseMatrix(rows: n, cols: n, rowIndex: r, colIndex: c, values: v, symmetric: true)
    }
}
