import Foundation

// MARK: - Softmax, layer norm, dropout, row normalization (forward/backward pairs)

extension Tensor {
    /// Softmax over the last axis. x: (…, n) → (…, n).
    /// `mask` (0/1, shape (…, n) or a suffix of it, broadcast over leading axes): entries with 0 get
    /// probability 0 and no gradient; a row with no unmasked entry is all zeros.
    public func softmax(mask: Tensor? = nil) -> Tensor {
        let n = shape.last!, rows = count / max(n, 1)
        var out = [Float](repeating: 0, count: count)
        Profiler.measure(.normalization) {
            out.withUnsafeMutableBufferPointer { po in
                forEachSoftmaxRow(mask: mask, exponentials: po) { o, keep, _, sum in
                    let inv = 1 / sum
                    for j in 0..<n { po[o + j] = keep(j) ? po[o + j] * inv : 0 }
                }
            }
        }
        let x = self
        return Tensor(result: shape, value: out, parents: [x]) { y in
            // dx = y ⊙ (g − Σⱼ gⱼ yⱼ)
            Profiler.measure(.normalization) {
                x.accumulateGrad { gx in
                    y.grad.withUnsafeBufferPointer { g in
                        y.value.withUnsafeBufferPointer { py in
                            for r in 0..<rows {
                                let o = r * n
                                let dot = VectorKernels.dot(g.baseAddress! + o, py.baseAddress! + o, count: n)
                                for j in 0..<n { gx[o + j] += py[o + j] * (g[o + j] - dot) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// log-softmax over the last axis. Masked entries (see `softmax`) are −∞ and get no gradient.
    public func logSoftmax(mask: Tensor? = nil) -> Tensor {
        let n = shape.last!, rows = count / max(n, 1)
        var out = [Float](repeating: -.infinity, count: count)
        Profiler.measure(.normalization) {
            value.withUnsafeBufferPointer { px in
                out.withUnsafeMutableBufferPointer { po in
                    forEachSoftmaxRow(mask: mask, exponentials: po) { o, keep, mx, sum in
                        // (x − max) − log Σ keeps precision for large logits, unlike x − (max + log Σ).
                        let logSum = Foundation.log(sum)
                        for j in 0..<n { po[o + j] = keep(j) ? (px[o + j] - mx) - logSum : -.infinity }
                    }
                }
            }
        }
        let x = self
        return Tensor(result: shape, value: out, parents: [x]) { y in
            // dx = g − softmax ⊙ Σⱼ gⱼ  (over unmasked entries)
            x.accumulateGrad { gx in
                y.grad.withUnsafeBufferPointer { g in
                    y.value.withUnsafeBufferPointer { py in
                        for r in 0..<rows {
                            let o = r * n
                            var s: Float = 0
                            for j in 0..<n where py[o + j] > -.infinity { s += g[o + j] }
                            for j in 0..<n where py[o + j] > -.infinity { gx[o + j] += g[o + j] - Foundation.exp(py[o + j]) * s }
                        }
                    }
                }
            }
        }
    }

    /// The shared first pass of softmax and log-softmax over the last axis: for every row with at
    /// least one unmasked entry, writes exp(x − max) of the unmasked entries into `exponentials` and
    /// calls `body(rowOffset, isUnmasked(column), max, Σ exp(x − max))`. Rows with nothing unmasked
    /// are left as they are.
    private func forEachSoftmaxRow(
        mask: Tensor?,
        exponentials: UnsafeMutableBufferPointer<Float>,
        _ body: (Int, (Int) -> Bool, Float, Float) -> Void
    ) {
        let n = shape.last!, rows = count / max(n, 1)
        let maskValues = mask?.value ?? []
        let maskCount = maskValues.count
        if let mask { precondition(maskCount > 0 && count % maskCount == 0, "mask \(mask.shape) does not fit \(shape)") }
        value.withUnsafeBufferPointer { px in
            for r in 0..<rows {
                let o = r * n
                let keep: (Int) -> Bool = { j in maskCount == 0 || maskValues[(o + j) % maskCount] != 0 }
                var mx = -Float.infinity
                for j in 0..<n where keep(j) { mx = max(mx, px[o + j]) }
                if mx == -Float.infinity { continue }
                var sum: Float = 0
                for j in 0..<n where keep(j) {
                    let e = Foundation.exp(px[o + j] - mx)
                    exponentials[o + j] = e
                    sum += e
                }
                body(o, keep, mx, sum)
            }
        }
    }

    /// Layer normalization over the last axis: (x − μ)/√(σ² + ε) · γ + β.
    /// x: (…, d), gamma: (d), beta: (d) → (…, d).
    public static func layerNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float = 1e-5) -> Tensor {
        let d = x.shape.last!, rows = x.count / max(d, 1)
        precondition(gamma.count == d && beta.count == d, "layerNorm: γ, β need \(d) values")
        var out = [Float](repeating: 0, count: x.count)
        var xhat = [Float](repeating: 0, count: x.count)
        var invStd = [Float](repeating: 0, count: rows)
        Profiler.measure(.normalization) {
            x.value.withUnsafeBufferPointer { px in
                for r in 0..<rows {
                    let o = r * d
                    var mean: Float = 0
                    for j in 0..<d { mean += px[o + j] }
                    mean /= Float(d)
                    var v: Float = 0
                    for j in 0..<d {
                        let c = px[o + j] - mean
                        v += c * c
                    }
                    let inv = 1 / (v / Float(d) + epsilon).squareRoot()
                    invStd[r] = inv
                    for j in 0..<d {
                        let h = (px[o + j] - mean) * inv
                        xhat[o + j] = h
                        out[o + j] = h * gamma.value[j] + beta.value[j]
                    }
                }
            }
        }
        return Tensor(result: x.shape, value: out, parents: [x, gamma, beta]) { y in
            Profiler.measure(.normalization) {
                y.grad.withUnsafeBufferPointer { g in
                    if gamma.requiresGrad || beta.requiresGrad {
                        var dg = [Float](repeating: 0, count: d), db = [Float](repeating: 0, count: d)
                        for r in 0..<rows {
                            let o = r * d
                            for j in 0..<d {
                                dg[j] += g[o + j] * xhat[o + j]
                                db[j] += g[o + j]
                            }
                        }
                        if gamma.requiresGrad { gamma.accumulateGrad { p in for j in 0..<d { p[j] += dg[j] } } }
                        if beta.requiresGrad { beta.accumulateGrad { p in for j in 0..<d { p[j] += db[j] } } }
                    }
                    if x.requiresGrad {
                        // dx = inv/d · (d·ĝ − Σĝ − x̂ Σ(ĝ x̂)), ĝ = g ⊙ γ
                        x.accumulateGrad { gx in
                            for r in 0..<rows {
                                let o = r * d
                                var s1: Float = 0, s2: Float = 0
                                for j in 0..<d {
                                    let gh = g[o + j] * gamma.value[j]
                                    s1 += gh
                                    s2 += gh * xhat[o + j]
                                }
                                let k = invStd[r] / Float(d)
                                for j in 0..<d {
                                    let gh = g[o + j] * gamma.value[j]
                                    gx[o + j] += k * (Float(d) * gh - s1 - xhat[o + j] * s2)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1−p).
    /// The identity when `training` is false or p = 0.
    public func dropout(_ p: Float, training: Bool, rng: inout SeededRNG) -> Tensor {
        guard training, p > 0 else { return self }
        precondition(p < 1, "dropout probability must be below 1")
        let scale = 1 / (1 - p)
        // The mask is drawn serially (one generator, reproducible); applying it is a plain product.
        var keep = [Float](repeating: 0, count: count)
        Profiler.measure(.elementwise) {
            keep.withUnsafeMutableBufferPointer { k in
                for i in 0..<k.count where rng.nextFloat() >= p { k[i] = scale }
            }
        }
        return self * Tensor(shape: shape, value: keep)
    }

    /// Each row scaled to unit L2 norm (rows with norm below ε are divided by ε).
    /// x: (N, d) → (N, d). Backward: (g − y (g·y)) / ‖x‖.
    public func l2NormalizedRows(epsilon: Float = 1e-12) -> Tensor {
        let d = shape.last!, rows = count / max(d, 1)
        var out = [Float](repeating: 0, count: count)
        var norms = [Float](repeating: 0, count: rows)
        value.withUnsafeBufferPointer { px in
            for r in 0..<rows {
                let o = r * d
                var s: Float = 0
                for j in 0..<d { s += px[o + j] * px[o + j] }
                let nrm = max(s.squareRoot(), epsilon)
                norms[r] = nrm
                for j in 0..<d { out[o + j] = px[o + j] / nrm }
            }
        }
        let x = self
        return Tensor(result: shape, value: out, parents: [x]) { y in
            x.accumulateGrad { gx in
                y.grad.withUnsafeBufferPointer { g in
                    y.value.withUnsafeBufferPointer { py in
                        for r in 0..<rows {
                            let o = r * d
                            let dot = VectorKernels.dot(g.baseAddress! + o, py.baseAddress! + o, count: d)
                            let inv = 1 / norms[r]
                            for j in 0..<d { gx[o + j] += (g[o + j] - py[o + j] * dot) * inv }
                        }
                    }
                }
            }
        }
    }
}
