import COpenBLAS

/// Thin wrappers over CBLAS: row-major single precision, timed under `Profiler.Category.blas`.
public enum BLAS {
    /// C (m×n) = alpha · op(A) · op(B) + beta · C, where op(A) is m×k and op(B) is k×n.
    /// `lda`, `ldb`, `ldc` are the row strides of A, B, C as stored.
    @inlinable
    public static func gemm(
        transA: Bool,
        transB: Bool,
        m: Int,
        n: Int,
        k: Int,
        alpha: Float,
        a: UnsafePointer<Float>,
        lda: Int,
        b: UnsafePointer<Float>,
        ldb: Int,
        beta: Float,
        c: UnsafeMutablePointer<Float>,
        ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        Profiler.measure(.blas) {
            if k == 0 {
                // BLAS leaves C untouched when k == 0 only if beta == 1; make the result exact.
                for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
                return
            }
            cblas_sgemm(
                CblasRowMajor,
                transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans,
                Int32(m),
                Int32(n),
                Int32(k),
                alpha,
                a,
                Int32(lda),
                b,
                Int32(ldb),
                beta,
                c,
                Int32(ldc)
            )
        }
    }

    /// y (m) = alpha · op(A) · x + beta · y with A stored m×n row-major (op = Aᵀ when `trans`).
    @inlinable
    public static func gemv(
        trans: Bool,
        m: Int,
        n: Int,
        alpha: Float,
        a: UnsafePointer<Float>,
        lda: Int,
        x: UnsafePointer<Float>,
        beta: Float,
        y: UnsafeMutablePointer<Float>
    ) {
        guard m > 0, n > 0 else { return }
        Profiler.measure(.blas) {
            cblas_sgemv(
                CblasRowMajor,
                trans ? CblasTrans : CblasNoTrans,
                Int32(m),
                Int32(n),
                alpha,
                a,
                Int32(lda),
                x,
                1,
                beta,
                y,
                1
            )
        }
    }

    /// y += alpha · x over n elements.
    @inlinable
    public static func axpy(n: Int, alpha: Float, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        guard n > 0 else { return }
        cblas_saxpy(Int32(n), alpha, x, 1, y, 1)
    }
}
