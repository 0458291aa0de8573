/// How two shapes combine under NumPy broadcasting, and how to walk the result.
@usableFromInline
struct Broadcast {
    @usableFromInline enum Mode: Equatable { case same, bScalar, aScalar, bSuffix, aSuffix, general }
    @usableFromInline let mode: Mode
    @usableFromInline let shape: [Int]
    @usableFromInline let count: Int
    /// For `.general`: the a and b element index of every output element.
    @usableFromInline let aIndex: [Int]
    @usableFromInline let bIndex: [Int]
    @usableFromInline let aCount: Int
    @usableFromInline let bCount: Int

    @usableFromInline
    init(_ a: [Int], _ b: [Int]) {
        aCount = elementCount(a)
        bCount = elementCount(b)
        let rank = max(a.count, b.count)
        let pa = [Int](repeating: 1, count: rank - a.count) + a
        let pb = [Int](repeating: 1, count: rank - b.count) + b
        var out = [Int](repeating: 1, count: rank)
        for d in 0..<rank {
            precondition(pa[d] == pb[d] || pa[d] == 1 || pb[d] == 1, "shapes \(a) and \(b) do not broadcast")
            out[d] = pa[d] == 1 ? pb[d] : pa[d]
        }
        shape = out
        count = elementCount(out)
        func strippedOnes(_ s: [Int]) -> ArraySlice<Int> { s.drop { $0 == 1 } }
        if a == b {
            mode = .same
        } else if bCount == 1 {
            mode = .bScalar
        } else if aCount == 1 {
            mode = .aScalar
        } else if out == pa && Array(pa.suffix(strippedOnes(b).count)) == Array(strippedOnes(b)) {
            mode = .bSuffix
        } else if out == pb && Array(pb.suffix(strippedOnes(a).count)) == Array(strippedOnes(a)) {
            mode = .aSuffix
        } else {
            mode = .general
        }
        if mode == .general {
            func strides(_ s: [Int]) -> [Int] {
                var st = [Int](repeating: 0, count: rank)
                var acc = 1
                for d in stride(from: rank - 1, through: 0, by: -1) {
                    st[d] = s[d] == 1 ? 0 : acc
                    acc *= s[d]
                }
                return st
            }
            let sa = strides(pa), sb = strides(pb)
            var ia = [Int](repeating: 0, count: count), ib = [Int](repeating: 0, count: count)
            var idx = [Int](repeating: 0, count: rank)
            var offA = 0, offB = 0
            for i in 0..<count {
                ia[i] = offA; ib[i] = offB
                var d = rank - 1
                while d >= 0 {
                    idx[d] += 1; offA += sa[d]; offB += sb[d]
                    if idx[d] < out[d] { break }
                    offA -= sa[d] * out[d]; offB -= sb[d] * out[d]; idx[d] = 0
                    d -= 1
                }
            }
            aIndex = ia; bIndex = ib
        } else {
            aIndex = []; bIndex = []
        }
    }

    /// Calls `body(outIndex, aIndex, bIndex)` for every output element.
    @inlinable @inline(__always)
    func forEach(_ body: (Int, Int, Int) -> Void) {
        switch mode {
        case .same: for i in 0..<count { body(i, i, i) }
        case .bScalar: for i in 0..<count { body(i, i, 0) }
        case .aScalar: for i in 0..<count { body(i, 0, i) }
        case .bSuffix: for i in 0..<count { body(i, i, i % bCount) }
        case .aSuffix: for i in 0..<count { body(i, i % aCount, i) }
        case .general: for i in 0..<count { body(i, aIndex[i], bIndex[i]) }
        }
    }
}
