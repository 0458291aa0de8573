// MARK: - Shape ops: reshape, permute, concat, slice, gather (forward/backward pairs)

extension Tensor {
    /// Same values, new shape (one extent may be −1). Gradient passes straight through.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let hole = newShape.firstIndex(of: -1) {
            let known = newShape.filter { $0 != -1 }.reduce(1, *)
            resolved[hole] = known == 0 ? 0 : count / known
        }
        precondition(elementCount(resolved) == count, "cannot reshape \(shape) to \(newShape)")
        let x = self
        return Tensor(result: resolved, value: value, parents: [x]) { y in
            x.accumulateGrad { gx in
                y.grad.withUnsafeBufferPointer { g in for i in 0..<gx.count { gx[i] += g[i] } }
            }
        }
    }

    /// Axes reordered: output axis i is input axis `axes[i]`. x: (s₀, …) → (s_{axes[0]}, …).
    public func permuted(_ axes: [Int]) -> Tensor {
        precondition(axes.sorted() == Array(0..<rank), "permuted(\(axes)) is not a permutation of \(rank) axes")
        let outShape = axes.map { shape[$0] }
        var inStrides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { inStrides[d] = inStrides[d + 1] * shape[d + 1] }
        let strides = axes.map { inStrides[$0] }
        // source[i] = the input index of output element i
        var source = [Int](repeating: 0, count: count)
        var idx = [Int](repeating: 0, count: rank)
        var off = 0
        for i in 0..<count {
            source[i] = off
            var d = rank - 1
            while d >= 0 {
                idx[d] += 1
                off += strides[d]
                if idx[d] < outShape[d] { break }
                off -= strides[d] * outShape[d]
                idx[d] = 0
                d -= 1
            }
        }
        var out = [Float](repeating: 0, count: count)
        value.withUnsafeBufferPointer { px in for i in 0..<source.count { out[i] = px[source[i]] } }
        let x = self
        return Tensor(result: outShape, value: out, parents: [x]) { y in
            x.accumulateGrad { gx in
                y.grad.withUnsafeBufferPointer { g in for i in 0..<source.count { gx[source[i]] += g[i] } }
            }
        }
    }

    /// Swaps the last two axes: (…, m, n) → (…, n, m).
    public func transposedLast() -> Tensor {
        var axes = Array(0..<rank)
        axes.swapAt(rank - 1, rank - 2)
        return permuted(axes)
    }

    /// Joins tensors along `axis`; all other extents must agree.
    public static func concat(_ parts: [Tensor], axis: Int) -> Tensor {
        precondition(!parts.isEmpty)
        let rank = parts[0].rank
        let ax = axis < 0 ? rank + axis : axis
        for p in parts {
            precondition(
                p.rank == rank && zip(p.shape, parts[0].shape).enumerated().allSatisfy { $0.offset == ax || $0.element.0 == $0.element.1 },
                "concat along \(axis): shapes \(parts.map(\.shape)) disagree"
            )
        }
        let outer = parts[0].shape[..<ax].reduce(1, *)
        let inner = parts[0].shape[(ax + 1)...].reduce(1, *)
        let widths = parts.map { $0.shape[ax] * inner }
        let total = widths.reduce(0, +)
        var out = [Float](repeating: 0, count: outer * total)
        var offset = 0
        for (p, w) in zip(parts, widths) {
            p.value.withUnsafeBufferPointer { src in
                for o in 0..<outer { for j in 0..<w { out[o * total + offset + j] = src[o * w + j] } }
            }
            offset += w
        }
        var shape = parts[0].shape
        shape[ax] = parts.reduce(0) { $0 + $1.shape[ax] }
        return Tensor(result: shape, value: out, parents: parts) { y in
            var offset = 0
            y.grad.withUnsafeBufferPointer { g in
                for (p, w) in zip(parts, widths) {
                    if p.requiresGrad {
                        p.accumulateGrad { gp in
                            for o in 0..<outer { for j in 0..<w { gp[o * w + j] += g[o * total + offset + j] } }
                        }
                    }
                    offset += w
                }
            }
        }
    }

    /// The sub-range `range` of `axis`.
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let ax = axis < 0 ? rank + axis : axis
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[ax], "slice \(range) of axis \(ax) in \(shape)")
        let outer = shape[..<ax].reduce(1, *), inner = shape[(ax + 1)...].reduce(1, *)
        let full = shape[ax] * inner, w = range.count * inner, start = range.lowerBound * inner
        var out = [Float](repeating: 0, count: outer * w)
        value.withUnsafeBufferPointer { px in
            for o in 0..<outer { for j in 0..<w { out[o * w + j] = px[o * full + start + j] } }
        }
        var newShape = shape
        newShape[ax] = range.count
        let x = self
        return Tensor(result: newShape, value: out, parents: [x]) { y in
            x.accumulateGrad { gx in
                y.grad.withUnsafeBufferPointer { g in
                    for o in 0..<outer { for j in 0..<w { gx[o * full + start + j] += g[o * w + j] } }
                }
            }
        }
    }

    /// Splits `axis` into pieces of the given sizes.
    public func split(axis: Int, sizes: [Int]) -> [Tensor] {
        var start = 0
        return sizes.map { n in
            defer { start += n }
            return slice(axis: axis, start..<(start + n))
        }
    }

    /// Embedding lookup: rows of table (N, d…) at `indices` → (indices.count, d…), reshaped to
    /// `leadingShape + [d…]` when given. Backward scatter-adds into the table's gradient, in index
    /// order (deterministic).
    public static func gather(_ table: Tensor, _ indices: [Int32], leadingShape: [Int]? = nil) -> Tensor {
        let rowSize = table.count / max(table.shape[0], 1)
        let rows = table.shape[0]
        var out = [Float](repeating: 0, count: indices.count * rowSize)
        Profiler.measure(.gather) {
            table.value.withUnsafeBufferPointer { pt in
                out.withUnsafeMutableBufferPointer { po in
                    for (k, idx) in indices.enumerated() {
                        precondition(idx >= 0 && Int(idx) < rows, "gather index \(idx) out of 0..<\(rows)")
                        (po.baseAddress! + k * rowSize).update(from: pt.baseAddress! + Int(idx) * rowSize, count: rowSize)
                    }
                }
            }
        }
        let lead = leadingShape ?? [indices.count]
        precondition(lead.reduce(1, *) == indices.count, "leading shape \(lead) does not hold \(indices.count) indices")
        return Tensor(result: lead + Array(table.shape.dropFirst()), value: out, parents: [table]) { y in
            Profiler.measure(.gather) {
                table.accumulateGrad { gt in
                    y.grad.withUnsafeBufferPointer { g in
                        for (k, idx) in indices.enumerated() {
                            let dst = gt.baseAddress! + Int(idx) * rowSize, src = g.baseAddress! + k * rowSize
                            for j in 0..<rowSize { dst[j] += src[j] }
                        }
                    }
                }
            }
        }
    }
}
