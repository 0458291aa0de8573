import TacitTestSupport
import XCTest

@testable import TacitTensor

/// Gradient checks through whole small models: accumulation when a tensor feeds several ops, and the
/// reverse topological order of backward on diamonds and residual chains.
final class ComposedGraphGradientTests: XCTestCase {
    /// x used by three ops (x·x, eˣ·x): every path's contribution accumulates.
    func testTensorUsedTwice() {
        var rng = SeededRNG(seed: 600)
        let x = randomTensor([3, 4], &rng)
        assertGradientsMatch("x*x + exp(x)*x", inputs: [x]) { x * x + x.exp() * x }
    }

    /// An intermediate consumed twice (a diamond): y = tanh(x), z = y·y + σ(y). The intermediate's backward
    /// must run only after both consumers have added to its gradient.
    func testDiamond() {
        var rng = SeededRNG(seed: 601)
        let x = randomTensor([2, 5], &rng)
        assertGradientsMatch("diamond", inputs: [x]) {
            let y = x.tanh()
            return y * y + y.sigmoid()
        }
    }

    /// A residual chain h ← h + ½ tanh(h), five times, with a skip connection from the input to the end.
    func testResidualChain() {
        var rng = SeededRNG(seed: 602)
        let x = randomTensor([3, 3], &rng)
        assertGradientsMatch("residual chain", inputs: [x]) {
            var h = x
            for _ in 0..<5 { h = h + h.tanh() * 0.5 }
            return h * x
        }
    }

    /// A 2-layer MLP: linear → layerNorm → GELU → dropout (fixed mask) → linear → softmax-CE with an
    /// ignored row, plus an L2 penalty on W₁ (so W₁ gets gradient from two paths).
    func testTwoLayerMLP() {
        var rng = SeededRNG(seed: 610)
        let x = randomTensor([4, 5], &rng)
        let w1 = randomTensor([5, 6], &rng, maxMagnitude: 0.8), b1 = randomTensor([6], &rng, maxMagnitude: 0.2)
        let gamma = randomTensor([6], &rng, minMagnitude: 0.5, maxMagnitude: 1.5, positive: true)
        let beta = randomTensor([6], &rng, maxMagnitude: 0.2)
        let w2 = randomTensor([6, 3], &rng, maxMagnitude: 0.8), b2 = randomTensor([3], &rng, maxMagnitude: 0.2)
        let targets: [Int32] = [0, 2, -1, 1]
        func loss() -> Tensor {
            var dropRNG = SeededRNG(seed: 3)
            let h = Tensor.layerNorm(Tensor.linear(x, w1, b1), gamma: gamma, beta: beta).gelu()
                .dropout(0.2, training: true, rng: &dropRNG)
            let logits = Tensor.linear(h, w2, b2)
            return Tensor.softmaxCrossEntropy(logits: logits, targets: targets) + w1.squaredNorm() * 0.01
        }
        assertGradientsMatch("2-layer MLP", inputs: [x, w1, b1, gamma, beta, w2, b2], h: 5e-3, loss)
    }

    /// A causal self-attention block over (B, T, d): Q, K, V projections of the same input, scaled scores,
    /// masked softmax, weighted values, residual.
    func testSelfAttentionBlock() {
        var rng = SeededRNG(seed: 620)
        let x = randomTensor([2, 3, 4], &rng)
        let wq = randomTensor([4, 4], &rng, maxMagnitude: 0.7), wk = randomTensor([4, 4], &rng, maxMagnitude: 0.7)
        let wv = randomTensor([4, 4], &rng, maxMagnitude: 0.7)
        let causal = Tensor(shape: [3, 3], value: [1, 0, 0, 1, 1, 0, 1, 1, 1])
        assertGradientsMatch("self-attention", inputs: [x, wq, wk, wv]) {
            let q = Tensor.linear(x, wq), k = Tensor.linear(x, wk), v = Tensor.linear(x, wv)
            let scores = Tensor.batchedMatmul(q, k, transB: true) * 0.5
            let attention = scores.softmax(mask: causal)
            return Tensor.batchedMatmul(attention, v) + x
        }
    }

    /// LightGCN-style: E₁ = Â E₀, E₂ = Â E₁, final = mean(E₀, E₁, E₂), then gather users / positive /
    /// negative items, score by rowDot, BPR loss plus L2 on the gathered layer-0 rows. E₀ feeds the
    /// propagation, the layer mean and the penalty; repeated user indices accumulate.
    func testLightGCNPropagation() {
        let users = 3, items = 4
        let adjacency = SparseMatrix.normalizedBipartite(
            users: users,
            items: items,
            edgeUsers: [0, 0, 1, 1, 2, 2, 0],
            edgeItems: [0, 1, 1, 2, 3, 0, 0]
        )
        var rng = SeededRNG(seed: 630)
        let e0 = randomTensor([users + items, 3], &rng)
        let u: [Int32] = [0, 1, 2, 0], pos: [Int32] = [3, 5, 6, 4], neg: [Int32] = [5, 3, 4, 6]
        func loss() -> Tensor {
            let e1 = Tensor.sparseMatmul(adjacency, e0)
            let e2 = Tensor.sparseMatmul(adjacency, e1)
            let stacked = Tensor.concat([e0, e1, e2].map { $0.reshaped([1, users + items, 3]) }, axis: 0)
            let final = stacked.mean(axis: 0)
            let ue = Tensor.gather(final, u), pe = Tensor.gather(final, pos), ne = Tensor.gather(final, neg)
            let bpr = Tensor.bprLoss(positive: Tensor.rowDot(ue, pe), negative: Tensor.rowDot(ue, ne))
            let penalty = Tensor.gather(e0, u + pos + neg).squaredNorm() * 0.01
            return bpr + penalty
        }
        assertGradientsMatch("LightGCN", inputs: [e0], loss)
    }

    /// Two backward passes without zeroGrad in between accumulate exactly twice the gradient.
    func testBackwardTwiceAccumulates() {
        var rng = SeededRNG(seed: 640)
        let x = randomTensor([2, 3], &rng), w = randomTensor([3, 2], &rng)
        Tensor.matmul(x, w).tanh().sum().backward()
        let once = w.grad
        Tensor.matmul(x, w).tanh().sum().backward()
        assertClose(w.grad, once.map { 2 * Double($0) }, "second backward adds")
    }
}
