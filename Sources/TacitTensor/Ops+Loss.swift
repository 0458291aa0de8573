import Foundation

// MARK: - Losses and similarities (forward/backward pairs)

extension Tensor {
    /// Bayesian personalized ranking: mean over pairs of w · (−log σ(pos − neg)) = w · softplus(neg − pos).
    /// pos, neg: (N); weights: N values (1 when nil) → scalar. The weighted form is HNT's eq. 18.
    public static func bprLoss(positive pos: Tensor, negative neg: Tensor, weights: [Float]? = nil) -> Tensor {
        precondition(pos.shape == neg.shape, "bprLoss: \(pos.shape) vs \(neg.shape)")
        if let weights { precondition(weights.count == pos.count, "bprLoss: \(weights.count) weights for \(pos.count) pairs") }
        let n = pos.count
        var total: Double = 0
        Profiler.measure(.loss) {
            for i in 0..<n { total += Double((weights?[i] ?? 1) * stableSoftplus(neg.value[i] - pos.value[i])) }
        }
        let invN = 1 / Float(max(n, 1))
        return Tensor(result: [], value: [Float(total) * invN], parents: [pos, neg]) { y in
            let g = y.grad[0] * invN
            // d/dpos = −w σ(neg − pos), d/dneg = +w σ(neg − pos)
            var d = [Float](repeating: 0, count: n)
            for i in 0..<n { d[i] = g * (weights?[i] ?? 1) * stableSigmoid(neg.value[i] - pos.value[i]) }
            if pos.requiresGrad { pos.accumulateGrad { gp in for i in 0..<n { gp[i] -= d[i] } } }
            if neg.requiresGrad { neg.accumulateGrad { gn in for i in 0..<n { gn[i] += d[i] } } }
        }
    }

    /// Binary cross-entropy on logits: mean of w · [softplus(x) − t·x]. logits: (N…), targets in [0, 1].
    public static func binaryCrossEntropy(logits x: Tensor, targets: [Float], weights: [Float]? = nil) -> Tensor {
        precondition(targets.count == x.count, "binaryCrossEntropy: \(targets.count) targets for \(x.count) logits")
        let n = x.count
        var total: Double = 0
        Profiler.measure(.loss) {
            for i in 0..<n { total += Double((weights?[i] ?? 1) * (stableSoftplus(x.value[i]) - targets[i] * x.value[i])) }
        }
        let invN = 1 / Float(max(n, 1))
        return Tensor(result: [], value: [Float(total) * invN], parents: [x]) { y in
            let g = y.grad[0] * invN
            x.accumulateGrad { gx in
                for i in 0..<n { gx[i] += g * (weights?[i] ?? 1) * (stableSigmoid(x.value[i]) - targets[i]) }
            }
        }
    }

    /// Softmax cross-entropy: logits (N, C), one class per row (negative = ignored) → mean over kept rows.
    /// Rows run on all threads (SASRec's softmax over every item is most of its non-BLAS time).
    public static func softmaxCrossEntropy(logits x: Tensor, targets: [Int32]) -> Tensor {
        precondition(x.rank == 2 && targets.count == x.shape[0], "softmaxCrossEntropy: logits \(x.shape), \(targets.count) targets")
        let n = x.shape[0], c = x.shape[1]
        precondition(targets.allSatisfy { $0 < c }, "target class out of 0..<\(c)")
        var probs = [Float](repeating: 0, count: x.count)
        var rowLoss = [Double](repeating: 0, count: n)
        let kept = targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) }
        let minRows = max(1, (1 << 16) / max(c, 1))
        Profiler.measure(.loss) {
            x.value.withUnsafeBufferPointer { px in
                probs.withUnsafeMutableBufferPointer { pp in
                    rowLoss.withUnsafeMutableBufferPointer { pl in
                        Compute.parallelFor(n, minChunk: minRows) { rows in
                            for r in rows {
                                let o = r * c
                                var mx = -Float.infinity
                                for j in 0..<c { mx = max(mx, px[o + j]) }
                                var s: Float = 0
                                for j in 0..<c {
                                    let e = Foundation.exp(px[o + j] - mx)
                                    pp[o + j] = e
                                    s += e
                                }
                                let inv = 1 / s
                                for j in 0..<c { pp[o + j] *= inv }
                                let t = Int(targets[r])
                                if t >= 0 { pl[r] = Double(mx + Foundation.log(s) - px[o + t]) }
                            }
                        }
                    }
                }
            }
        }
        let invN = 1 / Float(max(kept, 1))
        let total = rowLoss.reduce(0, +)
        return Tensor(result: [], value: [Float(total) * invN], parents: [x]) { y in
            let g = y.grad[0] * invN
            Profiler.measure(.loss) {
                x.accumulateGrad { gx in
                    probs.withUnsafeBufferPointer { pp in
                        Compute.parallelFor(n, minChunk: minRows) { rows in
                            for r in rows {
                                let t = Int(targets[r])
                                guard t >= 0 else { continue }
                                let o = r * c
                                for j in 0..<c { gx[o + j] += g * pp[o + j] }
                                gx[o + t] -= g
                            }
                        }
                    }
                }
            }
        }
    }

    /// Row-wise cosine similarity: a, b: (N, d) → (N).
    public static func cosineSimilarity(_ a: Tensor, _ b: Tensor) -> Tensor {
        rowDot(a.l2NormalizedRows(), b.l2NormalizedRows())
    }

    /// InfoNCE with in-batch negatives (HNT eq. 13): row i of `anchor` should match row i of
    /// `positive` against every other row, with cosine similarity / τ as the logit.
    /// anchor, positive: (N, d) → scalar.
    public static func infoNCE(anchor: Tensor, positive: Tensor, temperature: Float) -> Tensor {
        precondition(anchor.shape == positive.shape && anchor.rank == 2, "infoNCE: \(anchor.shape) vs \(positive.shape)")
        let logits = matmul(anchor.l2NormalizedRows(), positive.l2NormalizedRows(), transB: true).scaled(by: 1 / temperature)
        return softmaxCrossEntropy(logits: logits, targets: (0..<Int32(anchor.shape[0])).map { $0 })
    }

    /// Distance correlation of two samples (Székely et al. 2007), as SINE's prototype loss computes it
    /// between two prototype vectors (KGIN's form: the components are the samples).
    /// x, y: (n) → scalar in [0, 1]; 0 when independent. ε keeps √ differentiable at 0.
    public static func distanceCorrelation(_ x: Tensor, _ y: Tensor, epsilon: Float = 1e-8) -> Tensor {
        precondition(x.rank == 1 && x.shape == y.shape, "distanceCorrelation: \(x.shape) vs \(y.shape)")
        let n = x.count
        func centeredDistances(_ v: Tensor) -> Tensor {
            let d = ((v.reshaped([n, 1]) - v.reshaped([1, n])).squared() + epsilon).sqrt()  // (n, n)
            return d - d.mean(axis: 0).reshaped([1, n]) - d.mean(axis: 1).reshaped([n, 1]) + d.mean()
        }
        let a = centeredDistances(x), b = centeredDistances(y)
        func covariance(_ p: Tensor, _ q: Tensor) -> Tensor { ((p * q).mean() + epsilon).sqrt() }
        return covariance(a, b) / (covariance(a, a) * covariance(b, b) + epsilon).sqrt()
    }
}
