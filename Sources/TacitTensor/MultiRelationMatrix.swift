/// A symmetric sparse matrix `Σ_g A_g` whose entries each belong to one relation g (a multigraph's
/// behaviors), in one CSR, so that `Σ_g (A_g X) ⊙ w_g` (HNT eq. 3) is one pass over the edges instead
/// of one sparse product, one broadcast product and one sum per relation, each with its own (n, d)
/// intermediate.
///
/// Every `A_g` must be symmetric (an edge (r, c) of relation g comes with (c, r) of g, same value):
/// the backward pass with respect to X then runs the forward kernel over the upstream gradient.
public final class MultiRelationMatrix: Sendable {
    /// Rows (= columns).
    public let size: Int
    /// Number of relations; `relation` values are `0..<relationCount`.
    public let relationCount: Int
    /// `rowStart[r] ..< rowStart[r + 1]` indexes row r's entries; `size + 1` values.
    public let rowStart: [Int]
    public let colIndex: [Int32]
    public let values: [Float]
    public let relation: [Int32]

    public var nonZeros: Int { values.count }

    /// Builds from coordinates; entries are kept apart even when (row, col) repeats (two relations
    /// of one pair), ordered by row, then column, then relation. Symmetry is the caller's promise.
    public init(size: Int, relationCount: Int, rowIndex: [Int32], colIndex: [Int32], values: [Float], relation: [Int32]) {
        precondition(rowIndex.count == colIndex.count && colIndex.count == values.count && values.count == relation.count)
        self.size = size
        self.relationCount = relationCount
        var order = Array(0..<values.count)
        for e in order {
            precondition(
                rowIndex[e] >= 0 && Int(rowIndex[e]) < size && colIndex[e] >= 0 && Int(colIndex[e]) < size,
                "entry (\(rowIndex[e]), \(colIndex[e])) out of a \(size)×\(size) matrix"
            )
            precondition(relation[e] >= 0 && Int(relation[e]) < relationCount, "relation \(relation[e]) out of 0..<\(relationCount)")
        }
        order.sort { (rowIndex[$0], colIndex[$0], relation[$0]) < (rowIndex[$1], colIndex[$1], relation[$1]) }
        var start = [Int](repeating: 0, count: size + 1)
        for r in rowIndex { start[Int(r) + 1] += 1 }
        for r in 0..<size { start[r + 1] += start[r] }
        rowStart = start
        self.colIndex = order.map { colIndex[$0] }
        self.values = order.map { values[$0] }
        self.relation = order.map { relation[$0] }
    }

    /// y (size × d) = Σ_g (A_g x) ⊙ w_g, or y += … when `accumulate`; w: (relationCount × d). Row-parallel.
    public func multiply(
        _ x: UnsafePointer<Float>,
        weights w: UnsafePointer<Float>,
        columns d: Int,
        into y: UnsafeMutablePointer<Float>,
        accumulate: Bool
    ) {
        Profiler.measure(.sparse) {
            rowStart.withUnsafeBufferPointer { start in
                colIndex.withUnsafeBufferPointer { col in
                    values.withUnsafeBufferPointer { val in
                        relation.withUnsafeBufferPointer { rel in
                            Compute.parallelFor(size, minChunk: 256) { range in
                                for r in range {
                                    MultiRelationMatrix.row(
                                        r,
                                        start: start,
                                        col: col,
                                        val: val,
                                        rel: rel,
                                        x: x,
                                        w: w,
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
    }

    /// gw (relationCount × d) += Σ_r Σ_{e ∈ row r} v_e · dy_r ⊙ x_{c_e}, into `gw[relation[e]]`: the
    /// gradient of `multiply` with respect to the weights. Each thread sums its rows into its own table.
    public func weightGradient(
        _ x: UnsafePointer<Float>,
        upstream dy: UnsafePointer<Float>,
        columns d: Int,
        into gw: UnsafeMutablePointer<Float>
    ) {
        let tableSize = relationCount * d
        let chunks = min(Compute.threads, max(1, size / 256))
        var partials = [Float](repeating: 0, count: chunks * tableSize)
        Profiler.measure(.sparse) {
            rowStart.withUnsafeBufferPointer { start in
                colIndex.withUnsafeBufferPointer { col in
                    values.withUnsafeBufferPointer { val in
                        relation.withUnsafeBufferPointer { rel in
                            partials.withUnsafeMutableBufferPointer { part in
                                nonisolated(unsafe) let tables = part.baseAddress!
                                let per = (size + chunks - 1) / chunks
                                Compute.parallelFor(chunks, minChunk: 1) { range in
                                    for chunk in range {
                                        let table = tables + chunk * tableSize
                                        for r in (chunk * per)..<min(size, (chunk + 1) * per) {
                                            let g = dy + r &* d
                                            for e in start[r]..<start[r &+ 1] {
                                                let v = val[e]
                                                let src = x + Int(col[e]) &* d
                                                let dst = table + Int(rel[e]) &* d
                                                for j in 0..<d { dst[j] += v * g[j] * src[j] }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        for c in 0..<chunks { for k in 0..<tableSize { gw[k] += partials[c * tableSize + k] } }
    }

    @inline(__always)
    static func row(
        _ r: Int,
        start: UnsafeBufferPointer<Int>,
        col: UnsafeBufferPointer<Int32>,
        val: UnsafeBufferPointer<Float>,
        rel: UnsafeBufferPointer<Int32>,
        x: UnsafePointer<Float>,
        w: UnsafePointer<Float>,
        d: Int,
        y: UnsafeMutablePointer<Float>,
        accumulate: Bool
    ) {
        let lo = start[r], hi = start[r &+ 1]
        let out = y + r &* d
        var c = 0
        // 32 columns at a time: two 16-wide accumulators in registers, loads of x and w per entry.
        while c &+ 32 <= d {
            var a0 = SIMD16<Float>(), a1 = SIMD16<Float>()
            for e in lo..<hi {
                let v = SIMD16<Float>(repeating: val[e])
                let src = UnsafeRawPointer(x + (Int(col[e]) &* d &+ c))
                let wt = UnsafeRawPointer(w + (Int(rel[e]) &* d &+ c))
                a0 += v * src.loadUnaligned(as: SIMD16<Float>.self) * wt.loadUnaligned(as: SIMD16<Float>.self)
                a1 +=
                    v * src.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
                    * wt.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
            }
            let dst = UnsafeMutableRawPointer(out + c)
            if accumulate {
                a0 += dst.loadUnaligned(as: SIMD16<Float>.self)
                a1 += dst.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
            }
            dst.storeBytes(of: a0, as: SIMD16<Float>.self)
            dst.storeBytes(of: a1, toByteOffset: 64, as: SIMD16<Float>.self)
            c &+= 32
        }
        if c < d {
            if !accumulate { (out + c).update(repeating: 0, count: d &- c) }
            for e in lo..<hi {
                let v = val[e]
                let src = x + Int(col[e]) &* d
                let wt = w + Int(rel[e]) &* d
                for j in c..<d { out[j] += v * src[j] * wt[j] }
            }
        }
    }
}

extension Tensor {
    /// `Σ_g (A_g x) ⊙ w_g` for a `MultiRelationMatrix` A: x (size, d), w (relationCount, d) → (size, d).
    public static func multiRelationMatmul(_ a: MultiRelationMatrix, _ x: Tensor, weights w: Tensor) -> Tensor {
        precondition(x.rank == 2 && x.shape[0] == a.size, "multiRelationMatmul: \(a.size)×\(a.size) · \(x.shape)")
        let d = x.shape[1]
        precondition(w.shape == [a.relationCount, d], "multiRelationMatmul: weights \(w.shape), need [\(a.relationCount), \(d)]")
        var out = [Float](repeating: 0, count: a.size * d)
        x.value.withUnsafeBufferPointer { px in
            w.value.withUnsafeBufferPointer { pw in
                out.withUnsafeMutableBufferPointer { po in
                    a.multiply(px.baseAddress!, weights: pw.baseAddress!, columns: d, into: po.baseAddress!, accumulate: false)
                }
            }
        }
        return Tensor(result: [a.size, d], value: out, parents: [x, w]) { y in
            y.grad.withUnsafeBufferPointer { gy in
                if x.requiresGrad {
                    // Each A_g is symmetric: Σ_g A_gᵀ (dy ⊙ w_g) is the forward kernel over dy.
                    x.accumulateGrad { gx in
                        w.value.withUnsafeBufferPointer { pw in
                            a.multiply(gy.baseAddress!, weights: pw.baseAddress!, columns: d, into: gx.baseAddress!, accumulate: true)
                        }
                    }
                }
                if w.requiresGrad {
                    w.accumulateGrad { gw in
                        x.value.withUnsafeBufferPointer { px in
                            a.weightGradient(px.baseAddress!, upstream: gy.baseAddress!, columns: d, into: gw.baseAddress!)
                        }
                    }
                }
            }
        }
    }
}
