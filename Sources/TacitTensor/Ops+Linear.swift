// MARK: - Dense and sparse products (forward/backward pairs)

extension Tensor {
    /// C = op(A) · op(B) for 2-D tensors, through `cblas_sgemm`.
    /// a: (M, K), or (K, M) when `transA`; b: (K, N), or (N, K) when `transB` → (M, N).
    public static func matmul(_ a: Tensor, _ b: Tensor, transA: Bool = false, transB: Bool = false) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2, "matmul takes 2-D tensors, got \(a.shape) and \(b.shape)")
        let (m, k) = transA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (k2, n) = transB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        precondition(k == k2, "matmul inner sizes differ: \(a.shape)\(transA ? "ᵀ" : "") · \(b.shape)\(transB ? "ᵀ" : "")")
        var out = [Float](repeating: 0, count: m * n)
        gemmInto(
            &out,
            a.value,
            b.value,
            transA: transA,
            transB: transB,
            m: m,
            n: n,
            k: k,
            lda: a.shape[1],
            ldb: b.shape[1],
            beta: 0
        )
        return Tensor(result: [m, n], value: out, parents: [a, b]) { c in
            // dA = dC · op(B)ᵀ  (stored as A is: transposed when transA)
            if a.requiresGrad {
                a.accumulateGrad { ga in
                    if !transA {
                        gemm(
                            ga.baseAddress!,
                            c.grad,
                            b.value,
                            transA: false,
                            transB: !transB,
                            m: m,
                            n: k,
                            k: n,
                            lda: n,
                            ldb: b.shape[1],
                            ldc: k
                        )
                    } else {
                        gemm(
                            ga.baseAddress!,
                            b.value,
                            c.grad,
                            transA: transB,
                            transB: true,
                            m: k,
                            n: m,
                            k: n,
                            lda: b.shape[1],
                            ldb: n,
                            ldc: m
                        )
                    }
                }
            }
            // dB = op(A)ᵀ · dC  (stored as B is)
            if b.requiresGrad {
                b.accumulateGrad { gb in
                    if !transB {
                        gemm(
                            gb.baseAddress!,
                            a.value,
                            c.grad,
                            transA: !transA,
                            transB: false,
                            m: k,
                            n: n,
                            k: m,
                            lda: a.shape[1],
                            ldb: n,
                            ldc: n
                        )
                    } else {
                        gemm(
                            gb.baseAddress!,
                            c.grad,
                            a.value,
                            transA: true,
                            transB: transA,
                            m: n,
                            n: k,
                            k: m,
                            lda: n,
                            ldb: a.shape[1],
                            ldc: k
                        )
                    }
                }
            }
        }
    }

    /// Batched product: a: (B, M, K) (or (B, K, M) when `transA`), b: (B, K, N) (or (B, N, K)) → (B, M, N).
    public static func batchedMatmul(_ a: Tensor, _ b: Tensor, transA: Bool = false, transB: Bool = false) -> Tensor {
        precondition(
            a.rank == 3 && b.rank == 3 && a.shape[0] == b.shape[0],
            "batchedMatmul takes (B,·,·) tensors with one B, got \(a.shape) and \(b.shape)"
        )
        let batch = a.shape[0]
        let (m, k) = transA ? (a.shape[2], a.shape[1]) : (a.shape[1], a.shape[2])
        let (k2, n) = transB ? (b.shape[2], b.shape[1]) : (b.shape[1], b.shape[2])
        precondition(k == k2, "batchedMatmul inner sizes differ: \(a.shape) · \(b.shape)")
        let aStride = a.shape[1] * a.shape[2], bStride = b.shape[1] * b.shape[2], cStride = m * n
        let lda = a.shape[2], ldb = b.shape[2]
        var out = [Float](repeating: 0, count: batch * cStride)
        a.value.withUnsafeBufferPointer { pa in
            b.value.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { pc in
                    for i in 0..<batch {
                        BLAS.gemm(
                            transA: transA,
                            transB: transB,
                            m: m,
                            n: n,
                            k: k,
                            alpha: 1,
                            a: pa.baseAddress! + i * aStride,
                            lda: lda,
                            b: pb.baseAddress! + i * bStride,
                            ldb: ldb,
                            beta: 0,
                            c: pc.baseAddress! + i * cStride,
                            ldc: n
                        )
                    }
                }
            }
        }
        return Tensor(result: [batch, m, n], value: out, parents: [a, b]) { c in
            c.grad.withUnsafeBufferPointer { pg in
                let g = pg.baseAddress!
                if a.requiresGrad {
                    a.accumulateGrad { ga in
                        b.value.withUnsafeBufferPointer { pb in
                            for i in 0..<batch {
                                let gA = ga.baseAddress! + i * aStride, B = pb.baseAddress! + i * bStride
                                let dC = g + i * cStride
                                if !transA {
                                    BLAS.gemm(
                                        transA: false,
                                        transB: !transB,
                                        m: m,
                                        n: k,
                                        k: n,
                                        alpha: 1,
                                        a: dC,
                                        lda: n,
                                        b: B,
                                        ldb: ldb,
                                        beta: 1,
                                        c: gA,
                                        ldc: lda
                                    )
                                } else {
                                    BLAS.gemm(
                                        transA: transB,
                                        transB: true,
                                        m: k,
                                        n: m,
                                        k: n,
                                        alpha: 1,
                                        a: B,
                                        lda: ldb,
                                        b: dC,
                                        ldb: n,
                                        beta: 1,
                                        c: gA,
                                        ldc: lda
                                    )
                                }
                            }
                        }
                    }
                }
                if b.requiresGrad {
                    b.accumulateGrad { gb in
                        a.value.withUnsafeBufferPointer { pa in
                            for i in 0..<batch {
                                let gB = gb.baseAddress! + i * bStride, A = pa.baseAddress! + i * aStride
                                let dC = g + i * cStride
                                if !transB {
                                    BLAS.gemm(
                                        transA: !transA,
                                        transB: false,
                                        m: k,
                                        n: n,
                                        k: m,
                                        alpha: 1,
                                        a: A,
                                        lda: lda,
                                        b: dC,
                                        ldb: n,
                                        beta: 1,
                                        c: gB,
                                        ldc: ldb
                                    )
                                } else {
                                    BLAS.gemm(
                                        transA: true,
                                        transB: transA,
                                        m: n,
                                        n: k,
                                        k: m,
                                        alpha: 1,
                                        a: dC,
                                        lda: n,
                                        b: A,
                                        ldb: lda,
                                        beta: 1,
                                        c: gB,
                                        ldc: ldb
                                    )
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Sparse × dense: A (R × C, CSR) · x (C, d) → (R, d). The graph-propagation step.
    /// Backward: dx = Aᵀ · dY, another row-parallel CSR product.
    public static func sparseMatmul(_ a: SparseMatrix, _ x: Tensor) -> Tensor {
        precondition(x.rank == 2 && x.shape[0] == a.cols, "sparseMatmul: \(a.rows)×\(a.cols) · \(x.shape)")
        let d = x.shape[1]
        var out = [Float](repeating: 0, count: a.rows * d)
        x.value.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { po in
                a.multiply(px.baseAddress!, columns: d, into: po.baseAddress!, accumulate: false)
            }
        }
        return Tensor(result: [a.rows, d], value: out, parents: [x]) { y in
            x.accumulateGrad { gx in
                y.grad.withUnsafeBufferPointer { gy in
                    a.transpose.multiply(gy.baseAddress!, columns: d, into: gx.baseAddress!, accumulate: true)
                }
            }
        }
    }

    /// x: (…, in) · w: (in, out) + bias: (out) → (…, out). Leading axes are flattened into rows.
    public static func linear(_ x: Tensor, _ w: Tensor, _ bias: Tensor? = nil) -> Tensor {
        let inner = x.shape.last!
        let rows = x.count / max(inner, 1)
        let flat = x.rank == 2 ? x : x.reshaped([rows, inner])
        var y = matmul(flat, w)
        if let bias { y = y + bias }
        return x.rank == 2 ? y : y.reshaped(Array(x.shape.dropLast()) + [w.shape[1]])
    }
}

/// C (m×n) += op(A) · op(B) into a raw buffer, all row-major.
@usableFromInline
func gemm(
    _ c: UnsafeMutablePointer<Float>,
    _ a: [Float],
    _ b: [Float],
    transA: Bool,
    transB: Bool,
    m: Int,
    n: Int,
    k: Int,
    lda: Int,
    ldb: Int,
    ldc: Int
) {
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            BLAS.gemm(
                transA: transA,
                transB: transB,
                m: m,
                n: n,
                k: k,
                alpha: 1,
                a: pa.baseAddress!,
                lda: lda,
                b: pb.baseAddress!,
                ldb: ldb,
                beta: 1,
                c: c,
                ldc: ldc
            )
        }
    }
}

@usableFromInline
func gemmInto(
    _ out: inout [Float],
    _ a: [Float],
    _ b: [Float],
    transA: Bool,
    transB: Bool,
    m: Int,
    n: Int,
    k: Int,
    lda: Int,
    ldb: Int,
    beta: Float
) {
    out.withUnsafeMutableBufferPointer { pc in
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                BLAS.gemm(
                    transA: transA,
                    transB: transB,
                    m: m,
                    n: n,
                    k: k,
                    alpha: 1,
                    a: pa.baseAddress!,
                    lda: lda,
                    b: pb.baseAddress!,
                    ldb: ldb,
                    beta: beta,
                    c: pc.baseAddress!,
                    ldc: n
                )
            }
        }
    }
}
