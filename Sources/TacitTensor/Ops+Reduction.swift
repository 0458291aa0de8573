// MARK: - Reductions (forward/backward pairs)

extension Tensor {
    /// Σ of all elements → scalar ().
    public func sum() -> Tensor {
        var s: Double = 0
        Profiler.measure(.reduction) { for v in value { s += Double(v) } }
        let x = self
        return Tensor(result: [], value: [Float(s)], parents: [x]) { y in
            let g = y.grad[0]
            x.accumulateGrad { gx in for i in 0..<gx.count { gx[i] += g } }
        }
    }

    /// Mean of all elements → scalar ().
    public func mean() -> Tensor { sum().scaled(by: 1 / Float(max(count, 1))) }

    /// Σ over `axis` (negative counts from the end); the axis is removed from the shape.
    /// x: (outer…, n, inner…) → (outer…, inner…).
    public func sum(axis: Int) -> Tensor {
        let ax = axis < 0 ? rank + axis : axis
        precondition(ax >= 0 && ax < rank, "axis \(axis) out of range for shape \(shape)")
        let outer = shape[..<ax].reduce(1, *), n = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        var out = [Float](repeating: 0, count: outer * inner)
        Profiler.measure(.reduction) {
            value.withUnsafeBufferPointer { px in
                out.withUnsafeMutableBufferPointer { po in
                    for o in 0..<outer {
                        for k in 0..<n {
                            let src = o * n * inner + k * inner, dst = o * inner
                            for j in 0..<inner { po[dst + j] += px[src + j] }
                        }
                    }
                }
            }
        }
        var newShape = shape
        newShape.remove(at: ax)
        let x = self
        return Tensor(result: newShape, value: out, parents: [x]) { y in
            x.accumulateGrad { gx in
                y.grad.withUnsafeBufferPointer { g in
                    for o in 0..<outer {
                        for k in 0..<n {
                            let dst = o * n * inner + k * inner, src = o * inner
                            for j in 0..<inner { gx[dst + j] += g[src + j] }
                        }
                    }
                }
            }
        }
    }

    /// Mean over `axis`; the axis is removed.
    public func mean(axis: Int) -> Tensor {
        let ax = axis < 0 ? rank + axis : axis
        return sum(axis: axis).scaled(by: 1 / Float(max(shape[ax], 1)))
    }

    /// ‖x‖² = Σ x² → scalar (the L2 penalty).
    public func squaredNorm() -> Tensor {
        var s: Double = 0
        Profiler.measure(.reduction) { for v in value { s += Double(v * v) } }
        let x = self
        return Tensor(result: [], value: [Float(s)], parents: [x]) { y in
            let g = 2 * y.grad[0]
            x.accumulateGrad { gx in
                x.value.withUnsafeBufferPointer { px in for i in 0..<gx.count { gx[i] += g * px[i] } }
            }
        }
    }

    /// Row-wise dot product: a: (N, d), b: (N, d) → (N).
    public static func rowDot(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape && a.rank == 2, "rowDot needs two (N, d) tensors, got \(a.shape), \(b.shape)")
        let n = a.shape[0], d = a.shape[1]
        var out = [Float](repeating: 0, count: n)
        Profiler.measure(.reduction) {
            a.value.withUnsafeBufferPointer { pa in
                b.value.withUnsafeBufferPointer { pb in
                    for r in 0..<n {
                        var s: Float = 0
                        let o = r * d
                        for j in 0..<d { s += pa[o + j] * pb[o + j] }
                        out[r] = s
                    }
                }
            }
        }
        return Tensor(result: [n], value: out, parents: [a, b]) { y in
            y.grad.withUnsafeBufferPointer { g in
                if a.requiresGrad {
                    a.accumulateGrad { ga in
                        b.value.withUnsafeBufferPointer { pb in
                            for r in 0..<n {
                                let o = r * d
                                for j in 0..<d { ga[o + j] += g[r] * pb[o + j] }
                            }
                        }
                    }
                }
                if b.requiresGrad {
                    b.accumulateGrad { gb in
                        a.value.withUnsafeBufferPointer { pa in
                            for r in 0..<n {
                                let o = r * d
                                for j in 0..<d { gb[o + j] += g[r] * pa[o + j] }
                            }
                        }
                    }
                }
            }
        }
    }
}
