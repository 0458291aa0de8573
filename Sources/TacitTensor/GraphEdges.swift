import Foundation

/// The edges of one relation of a graph, from source nodes (columns) to target nodes (rows), for ops
/// whose values live on the edges (graph attention). Edges are numbered in CSR order (by target, then
/// source); the same edges grouped by source are kept beside them, so that both an aggregation and
/// its backward pass run in parallel over disjoint rows, without atomics.
public final class GraphEdges: Sendable {
    /// Number of target nodes.
    public let rows: Int
    /// Number of source nodes.
    public let cols: Int
    /// Edges `rowStart[t] ..< rowStart[t + 1]` point into target t; `rows + 1` values.
    public let rowStart: [Int]
    /// The source of each edge.
    public let source: [Int32]
    /// The target of each edge.
    public let target: [Int32]
    /// Edge ids grouped by source: `bySource[colStart[s] ..< colStart[s + 1]]` leave source s.
    let colStart: [Int]
    let bySource: [Int32]
    /// The target of each edge in `bySource` order, so that the transposed edges form a CSR
    /// matrix (rows = sources) that `SparseMatrix.row` can run over.
    let targetBySource: [Int32]

    public var count: Int { source.count }

    /// Builds from (target, source) pairs; a repeated pair is one edge.
    public init(rows: Int, cols: Int, targets: [Int32], sources: [Int32]) {
        precondition(targets.count == sources.count, "GraphEdges: \(targets.count) targets for \(sources.count) sources")
        self.rows = rows
        self.cols = cols
        var pairs = [Int64]()
        pairs.reserveCapacity(targets.count)
        for (t, s) in zip(targets, sources) {
            precondition(t >= 0 && Int(t) < rows && s >= 0 && Int(s) < cols, "edge \(s)→\(t) out of \(cols)→\(rows)")
            pairs.append(Int64(t) << 32 | Int64(s))
        }
        pairs.sort()
        var src = [Int32](), tgt = [Int32]()
        src.reserveCapacity(pairs.count)
        tgt.reserveCapacity(pairs.count)
        var last: Int64 = -1
        for p in pairs where p != last {
            tgt.append(Int32(p >> 32))
            src.append(Int32(truncatingIfNeeded: p & 0xFFFF_FFFF))
            last = p
        }
        var start = [Int](repeating: 0, count: rows + 1)
        for t in tgt { start[Int(t) + 1] += 1 }
        for r in 0..<rows { start[r + 1] += start[r] }
        var cStart = [Int](repeating: 0, count: cols + 1)
        for s in src { cStart[Int(s) + 1] += 1 }
        for c in 0..<cols { cStart[c + 1] += cStart[c] }
        var fill = cStart
        var grouped = [Int32](repeating: 0, count: src.count)
        for (e, s) in src.enumerated() {
            grouped[fill[Int(s)]] = Int32(e)
            fill[Int(s)] += 1
        }
        rowStart = start
        source = src
        target = tgt
        colStart = cStart
        bySource = grouped
        targetBySource = grouped.map { tgt[Int($0)] }
    }

    /// Number of edges into each target.
    public func inDegrees() -> [Int] { (0..<rows).map { rowStart[$0 + 1] - rowStart[$0] } }
}

extension Tensor {
    /// Σ over the edges into each target of `weights[e] · x[source(e)]`: weights (E) or (E, 1) in the
    /// edges' order, x (sources, d) → (targets, d). Both weights and x take gradients (attention).
    public static func edgeAggregate(_ edges: GraphEdges, weights: Tensor, _ x: Tensor) -> Tensor {
        precondition(weights.count == edges.count, "edgeAggregate: \(weights.count) weights for \(edges.count) edges")
        precondition(x.rank == 2 && x.shape[0] == edges.cols, "edgeAggregate: x \(x.shape) for \(edges.cols) sources")
        let d = x.shape[1]
        var out = [Float](repeating: 0, count: edges.rows * d)
        // Without edges or columns there is nothing to add, and the kernels' buffers would be empty.
        let empty = edges.count == 0 || d == 0
        // y[t] = Σ_e w[e] · x[source(e)]: the edges are a CSR matrix with the weights as values.
        Profiler.measure(.sparse) {
            guard !empty else { return }
            edges.rowStart.withUnsafeBufferPointer { start in
                edges.source.withUnsafeBufferPointer { col in
                    weights.value.withUnsafeBufferPointer { w in
                        x.value.withUnsafeBufferPointer { px in
                            out.withUnsafeMutableBufferPointer { po in
                                Compute.parallelFor(edges.rows, minChunk: 256) { range in
                                    for t in range {
                                        SparseMatrix.row(
                                            t,
                                            start: start,
                                            col: col,
                                            val: w,
                                            x: px.baseAddress!,
                                            d: d,
                                            y: po.baseAddress!,
                                            accumulate: false
                                        )
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return Tensor(result: [edges.rows, d], value: out, parents: [weights, x]) { y in
            Profiler.measure(.sparse) {
                guard !empty else { return }
                if x.requiresGrad {
                    // gx[s] += Σ over the edges leaving s of w[e] · gy[target(e)]: the transposed CSR,
                    // with the weights laid out in by-source order once per backward pass.
                    let transposed = weights.value.withUnsafeBufferPointer { w in edges.bySource.map { w[Int($0)] } }
                    x.accumulateGrad { gx in
                        y.grad.withUnsafeBufferPointer { gy in
                            edges.colStart.withUnsafeBufferPointer { start in
                                edges.targetBySource.withUnsafeBufferPointer { col in
                                    transposed.withUnsafeBufferPointer { wt in
                                        Compute.parallelFor(edges.cols, minChunk: 256) { range in
                                            for s in range {
                                                SparseMatrix.row(
                                                    s,
                                                    start: start,
                                                    col: col,
                                                    val: wt,
                                                    x: gy.baseAddress!,
                                                    d: d,
                                                    y: gx.baseAddress!,
                                                    accumulate: true
                                                )
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                if weights.requiresGrad {
                    // gw[e] += ⟨gy[target(e)], x[source(e)]⟩
                    weights.accumulateGrad { gw in
                        y.grad.withUnsafeBufferPointer { gy in
                            x.value.withUnsafeBufferPointer { px in
                                edges.source.withUnsafeBufferPointer { source in
                                    edges.target.withUnsafeBufferPointer { target in
                                        Compute.parallelFor(edges.count, minChunk: 4096) { range in
                                            for e in range {
                                                gw[e] += VectorKernels.dot(
                                                    gy.baseAddress! + Int(target[e]) &* d,
                                                    px.baseAddress! + Int(source[e]) &* d,
                                                    count: d
                                                )
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
    }

    /// Softmax of edge logits (E) or (E, 1) over the edges into each target (GAT's α). A target
    /// without edges has none to normalize.
    public func edgeSoftmax(_ edges: GraphEdges) -> Tensor {
        precondition(count == edges.count, "edgeSoftmax: \(count) logits for \(edges.count) edges")
        var out = [Float](repeating: 0, count: count)
        Profiler.measure(.normalization) {
            value.withUnsafeBufferPointer { px in
                out.withUnsafeMutableBufferPointer { po in
                    Compute.parallelFor(edges.rows, minChunk: 1024) { range in
                        for t in range {
                            let lo = edges.rowStart[t], hi = edges.rowStart[t + 1]
                            guard lo < hi else { continue }
                            var mx = -Float.infinity
                            for e in lo..<hi { mx = Swift.max(mx, px[e]) }
                            var sum: Float = 0
                            for e in lo..<hi {
                                po[e] = Foundation.exp(px[e] - mx)
                                sum += po[e]
                            }
                            let inv = 1 / sum
                            for e in lo..<hi { po[e] *= inv }
                        }
                    }
                }
            }
        }
        let x = self
        return Tensor(result: shape, value: out, parents: [x]) { y in
            // dx = y ⊙ (g − Σ over the target's edges of g·y)
            x.accumulateGrad { gx in
                y.grad.withUnsafeBufferPointer { g in
                    y.value.withUnsafeBufferPointer { py in
                        Compute.parallelFor(edges.rows, minChunk: 1024) { range in
                            for t in range {
                                let lo = edges.rowStart[t], hi = edges.rowStart[t + 1]
                                guard lo < hi else { continue }
                                let dot = VectorKernels.dot(g.baseAddress! + lo, py.baseAddress! + lo, count: hi - lo)
                                for e in lo..<hi { gx[e] += py[e] * (g[e] - dot) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// max(x, slope·x) (GAT's LeakyReLU, slope 0.2).
    public func leakyRelu(_ slope: Float = 0.2) -> Tensor {
        unary({ $0 > 0 ? $0 : slope * $0 }, derivative: { x, _ in x > 0 ? 1 : slope })
    }
}
