/// How two shapes combine under NumPy broadcasting, and how to walk the result.
@usableFromInline
struct Broadcast {
    @usableFromInline enum Mode: Equatable { case same, bScalar, aScalar, bSuffix, aSuffix, general }
    @usableFromInline let mode: Mode
    @usableFromInline let shape: [Int]
    @usableFromInline let count: Int
    /// For `.general`: the output is walked in blocks of `run` consecutive elements, within which a and
    /// b each either advance by one (`aStep`/`bStep` = 1) or stay put (0); `aBlock`/`bBlock` are the
    /// operands' offsets at each block's start. (A per-element index table cost two Int arrays the size
    /// of the output on every call, and the (B, heads, L, L) ∘ (B, 1, L, L) products of attention
    /// kernels are exactly this shape: blocks of L·L with both operands contiguous.)
    @usableFromInline let run: Int
    @usableFromInline let aStep: Int
    @usableFromInline let bStep: Int
    @usableFromInline let aBlock: [Int]
    @usableFromInline let bBlock: [Int]
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
        guard mode == .general else {
            run = count
            aStep = 0
            bStep = 0
            aBlock = []
            bBlock = []
            return
        }
        // The inner run: the trailing dimensions (ignoring those of size 1) over which each operand is
        // either whole or broadcast throughout.
        var first = rank, runLength = 1, steps: (Int, Int)?
        for d in stride(from: rank - 1, through: 0, by: -1) where out[d] > 1 {
            let s = (pa[d] == 1 ? 0 : 1, pb[d] == 1 ? 0 : 1)
            if let steps, steps != s { break }
            steps = s
            runLength *= out[d]
            first = d
        }
        run = runLength
        (aStep, bStep) = steps ?? (1, 1)
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
        let blocks = count / runLength
        var ia = [Int](repeating: 0, count: blocks), ib = [Int](repeating: 0, count: blocks)
        var idx = [Int](repeating: 0, count: rank)
        var offA = 0, offB = 0
        for blk in 0..<blocks {
            ia[blk] = offA
            ib[blk] = offB
            var d = first - 1
            while d >= 0 {
                idx[d] += 1
                offA += sa[d]
                offB += sb[d]
                if idx[d] < out[d] { break }
                offA -= sa[d] * out[d]
                offB -= sb[d] * out[d]
                idx[d] = 0
                d -= 1
            }
        }
        aBlock = ia
        bBlock = ib
    }

    /// Calls `body(outIndex, aIndex, bIndex)` for every output element.
    @inlinable @inline(__always)
    func forEach(_ body: (Int, Int, Int) -> Void) {
        switch mode {
        case .same: for i in 0..<count { body(i, i, i) }
        case .bScalar: for i in 0..<count { body(i, i, 0) }
        case .aScalar: for i in 0..<count { body(i, 0, i) }
        // Nested loops rather than `i % bCount`: an integer division per element costs more than the op.
        case .bSuffix:
            for o in stride(from: 0, to: count, by: bCount) { for k in 0..<bCount { body(o + k, o + k, k) } }
        case .aSuffix:
            for o in stride(from: 0, to: count, by: aCount) { for k in 0..<aCount { body(o + k, k, o + k) } }
        case .general:
            for blk in aBlock.indices {
                let o = blk * run, ia = aBlock[blk], ib = bBlock[blk]
                switch (aStep, bStep) {
                case (1, 1): for k in 0..<run { body(o + k, ia + k, ib + k) }
                case (1, _): for k in 0..<run { body(o + k, ia + k, ib) }
                default: for k in 0..<run { body(o + k, ia, ib + k) }
                }
            }
        }
    }
}
