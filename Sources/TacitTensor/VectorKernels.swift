/// Small kernels over raw float buffers, shared by ops whose inner loops are reductions.
///
/// Swift will not reorder a scalar `Float` sum (that would change its rounding), so a loop like
/// `for j in 0..<d { s += a[j] * b[j] }` runs one element at a time. These keep 16 partial sums
/// in SIMD registers instead: the result differs from the serial sum only in rounding.
enum VectorKernels {
    /// Σⱼ a[j] · b[j] over `count` elements.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) -> Float {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>()
        var j = 0
        while j &+ 16 <= n {
            let offset = j &* 4
            s0 +=
                ra.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
            s1 +=
                ra.loadUnaligned(fromByteOffset: offset &+ 32, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: offset &+ 32, as: SIMD8<Float>.self)
            j &+= 16
        }
        var sum = (s0 + s1).sum()
        while j < n {
            sum += a[j] * b[j]
            j &+= 1
        }
        return sum
    }
}
