import Foundation
import TacitTestSupport
import XCTest

@testable import TacitTensor

/// bprLoss, binaryCrossEntropy, softmaxCrossEntropy, cosineSimilarity, infoNCE.
final class LossGradientTests: XCTestCase {
    private func softplus(_ x: Double) -> Double { Foundation.log(1 + Foundation.exp(x)) }

    // MARK: BPR

    /// Equal scores give log 2 per pair; a wide margin gives almost nothing.
    func testBPRHandComputed() {
        let pos = Tensor(shape: [2], value: [1, 10]), neg = Tensor(shape: [2], value: [1, -10])
        // (log 2 + softplus(−20)) / 2
        assertClose(Tensor.bprLoss(positive: pos, negative: neg), shape: [], [(Foundation.log(2.0) + softplus(-20)) / 2])
        // weights scale each pair; the mean still divides by the number of pairs
        assertClose(
            Tensor.bprLoss(positive: pos, negative: neg, weights: [3, 1]),
            shape: [],
            [(3 * Foundation.log(2.0) + softplus(-20)) / 2]
        )
    }

    /// Unweighted BPR: mean of −log σ(pos − neg), and gradients for both score vectors.
    func testBPRUnweighted() {
        var rng = SeededRNG(seed: 500)
        let pos = randomTensor([6], &rng, maxMagnitude: 2), neg = randomTensor([6], &rng, maxMagnitude: 2)
        let expected = (0..<6).reduce(0.0) { $0 + softplus(Double(neg.value[$1]) - Double(pos.value[$1])) } / 6
        assertClose(Tensor.bprLoss(positive: pos, negative: neg), shape: [], [expected])
        assertGradientsMatch("bprLoss", inputs: [pos, neg]) { Tensor.bprLoss(positive: pos, negative: neg) }
    }

    /// Weighted BPR (HNT eq. 18): values and gradients.
    func testBPRWeighted() {
        var rng = SeededRNG(seed: 501)
        let pos = randomTensor([6], &rng, maxMagnitude: 2), neg = randomTensor([6], &rng, maxMagnitude: 2)
        let w: [Float] = [0.5, 2, 1, 0, 1.5, 3]
        let expected = (0..<6).reduce(0.0) { $0 + Double(w[$1]) * softplus(Double(neg.value[$1]) - Double(pos.value[$1])) } / 6
        assertClose(Tensor.bprLoss(positive: pos, negative: neg, weights: w), shape: [], [expected])
        assertGradientsMatch("bprLoss(weights:)", inputs: [pos, neg]) {
            Tensor.bprLoss(positive: pos, negative: neg, weights: w)
        }
    }

    /// Extreme score gaps stay finite (softplus and sigmoid are the stable forms).
    func testBPRExtremeScores() {
        let pos = Tensor(shape: [2], value: [-80, 80], requiresGrad: true)
        let neg = Tensor(shape: [2], value: [80, -80], requiresGrad: true)
        let loss = Tensor.bprLoss(positive: pos, negative: neg)
        XCTAssertEqual(loss.item, 80, accuracy: 1e-3)
        loss.backward()
        assertClose(pos.grad, [-0.5, 0], atol: 1e-6)
        assertClose(neg.grad, [0.5, 0], atol: 1e-6)
    }

    // MARK: binary cross-entropy

    /// At logit 0 the loss is log 2 whatever the target; a confident right answer costs ~0.
    func testBCEHandComputed() {
        let x = Tensor(shape: [3], value: [0, 0, 20])
        assertClose(
            Tensor.binaryCrossEntropy(logits: x, targets: [1, 0, 1]),
            shape: [],
            [(2 * Foundation.log(2.0) + softplus(-20)) / 3]
        )
    }

    /// Unweighted BCE with fractional targets: mean of softplus(x) − t·x, and the logit gradient.
    func testBCEUnweighted() {
        var rng = SeededRNG(seed: 510)
        let x = randomTensor([2, 3], &rng, maxMagnitude: 3)
        let t: [Float] = [1, 0, 0.3, 1, 0, 0.8]
        let expected = (0..<6).reduce(0.0) { $0 + softplus(Double(x.value[$1])) - Double(t[$1]) * Double(x.value[$1]) } / 6
        assertClose(Tensor.binaryCrossEntropy(logits: x, targets: t), shape: [], [expected])
        assertGradientsMatch("binaryCrossEntropy", inputs: [x]) { Tensor.binaryCrossEntropy(logits: x, targets: t) }
    }

    /// Weighted BCE: values and gradient; a zero weight removes the element's gradient.
    func testBCEWeighted() {
        var rng = SeededRNG(seed: 511)
        let x = randomTensor([5], &rng, maxMagnitude: 3)
        let t: [Float] = [1, 0, 1, 0, 1], w: [Float] = [2, 0.5, 0, 1, 3]
        let expected =
            (0..<5).reduce(0.0) {
                $0 + Double(w[$1]) * (softplus(Double(x.value[$1])) - Double(t[$1]) * Double(x.value[$1]))
            } / 5
        assertClose(Tensor.binaryCrossEntropy(logits: x, targets: t, weights: w), shape: [], [expected])
        assertGradientsMatch("binaryCrossEntropy(weights:)", inputs: [x]) {
            Tensor.binaryCrossEntropy(logits: x, targets: t, weights: w)
        }
        Tensor.binaryCrossEntropy(logits: x, targets: t, weights: w).backward()
        XCTAssertEqual(x.grad[2], 0)
    }

    // MARK: softmax cross-entropy

    /// Cross-entropy with an ignored (−1) row: mean over the kept rows only, values and gradients,
    /// and the ignored row gets exactly zero gradient.
    func testSoftmaxCrossEntropyWithIgnoredTarget() {
        var rng = SeededRNG(seed: 520)
        let x = randomTensor([4, 5], &rng, maxMagnitude: 2)
        let targets: [Int32] = [2, -1, 0, 4]
        var expected = 0.0
        for r in [0, 2, 3] {
            let row = (0..<5).map { Double(x.value[r * 5 + $0]) }
            let lse = Foundation.log(row.reduce(0) { $0 + Foundation.exp($1) })
            expected += lse - row[Int(targets[r])]
        }
        expected /= 3
        assertClose(Tensor.softmaxCrossEntropy(logits: x, targets: targets), shape: [], [expected])
        assertGradientsMatch("softmaxCrossEntropy", inputs: [x]) { Tensor.softmaxCrossEntropy(logits: x, targets: targets) }
        Tensor.softmaxCrossEntropy(logits: x, targets: targets).backward()
        XCTAssertEqual(Array(x.grad[5..<10]), [0, 0, 0, 0, 0], "ignored row")
        // each kept row's gradient is (p − onehot)/kept and sums to 0
        XCTAssertEqual(x.grad[0..<5].reduce(0, +), 0, accuracy: 1e-6)
    }

    /// Uniform logits over C classes cost log C; all rows ignored gives 0 and no gradient.
    func testSoftmaxCrossEntropyHandComputed() {
        let x = Tensor(zeros: [2, 4], requiresGrad: true)
        assertClose(Tensor.softmaxCrossEntropy(logits: x, targets: [1, 3]), shape: [], [Foundation.log(4.0)])
        let none = Tensor.softmaxCrossEntropy(logits: x, targets: [-1, -1])
        XCTAssertEqual(none.item, 0)
        none.backward()
        XCTAssertEqual(x.grad, [Float](repeating: 0, count: 8))
    }

    // MARK: cosine similarity / InfoNCE

    /// Row-wise cosine: hand-worked rows, reference values and gradients for both inputs.
    func testCosineSimilarity() {
        let a = Tensor(shape: [3, 2], value: [1, 0, 1, 1, 2, 0]), b = Tensor(shape: [3, 2], value: [0, 3, 1, 1, -1, 0])
        assertClose(Tensor.cosineSimilarity(a, b), shape: [3], [0, 1, -1])
        var rng = SeededRNG(seed: 530)
        let x = randomTensor([4, 3], &rng, minMagnitude: 0.2), y = randomTensor([4, 3], &rng, minMagnitude: 0.2)
        let expected = (0..<4).map { r -> Double in
            let u = (0..<3).map { Double(x.value[r * 3 + $0]) }, v = (0..<3).map { Double(y.value[r * 3 + $0]) }
            let dot = zip(u, v).reduce(0) { $0 + $1.0 * $1.1 }
            return dot / (u.reduce(0) { $0 + $1 * $1 }.squareRoot() * v.reduce(0) { $0 + $1 * $1 }.squareRoot())
        }
        assertClose(Tensor.cosineSimilarity(x, y), shape: [4], expected)
        assertGradientsMatch("cosineSimilarity", inputs: [x, y]) { Tensor.cosineSimilarity(x, y) }
    }

    /// InfoNCE in Double: mean over rows of logsumexp_j(cos(aᵢ, pⱼ)/τ) − cos(aᵢ, pᵢ)/τ.
    private func referenceInfoNCE(_ a: Tensor, _ p: Tensor, temperature: Double) -> Double {
        let n = a.shape[0], d = a.shape[1]
        func row(_ t: Tensor, _ r: Int) -> [Double] {
            let v = (0..<d).map { Double(t.value[r * d + $0]) }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return v.map { $0 / norm }
        }
        var total = 0.0
        for i in 0..<n {
            let logits = (0..<n).map { j in zip(row(a, i), row(p, j)).reduce(0) { $0 + $1.0 * $1.1 } / temperature }
            total += Foundation.log(logits.reduce(0) { $0 + Foundation.exp($1) }) - logits[i]
        }
        return total / Double(n)
    }

    /// InfoNCE values against the reference and gradients for anchor and positive.
    func testInfoNCE() {
        var rng = SeededRNG(seed: 540)
        let a = randomTensor([4, 3], &rng, minMagnitude: 0.2), p = randomTensor([4, 3], &rng, minMagnitude: 0.2)
        assertClose(
            Tensor.infoNCE(anchor: a, positive: p, temperature: 0.5),
            shape: [],
            [referenceInfoNCE(a, p, temperature: 0.5)],
            atol: 1e-5,
            rtol: 1e-5
        )
        assertGradientsMatch("infoNCE", inputs: [a, p]) { Tensor.infoNCE(anchor: a, positive: p, temperature: 0.5) }
        // the same view as anchor and positive: one tensor feeds both sides of the product
        assertGradientsMatch("infoNCE(x, x)", inputs: [a]) { Tensor.infoNCE(anchor: a, positive: a, temperature: 0.7) }
    }

    /// Orthonormal, perfectly matched rows at a low temperature give a near-zero loss; swapped rows a large one.
    func testInfoNCEHandComputed() {
        let eye = Tensor(shape: [2, 2], value: [1, 0, 0, 1])
        // logits = I/τ: loss = log(1 + e^{−1/τ}) per row
        let tau: Float = 0.25
        assertClose(
            Tensor.infoNCE(anchor: eye, positive: eye, temperature: tau),
            shape: [],
            [Foundation.log(1 + Foundation.exp(-4.0))]
        )
        let swapped = Tensor(shape: [2, 2], value: [0, 1, 1, 0])
        assertClose(
            Tensor.infoNCE(anchor: eye, positive: swapped, temperature: tau),
            shape: [],
            [Foundation.log(1 + Foundation.exp(4.0))],
            atol: 1e-5
        )
    }

    /// Distance correlation in Double, straight from its definition (double-centred distance matrices).
    private func referenceDistanceCorrelation(_ x: [Float], _ y: [Float]) -> Double {
        let n = x.count
        func centered(_ v: [Float]) -> [[Double]] {
            let d = (0..<n).map { i in (0..<n).map { j in (Double(v[i] - v[j]) * Double(v[i] - v[j]) + 1e-8).squareRoot() } }
            let rows = d.map { $0.reduce(0, +) / Double(n) }
            let cols = (0..<n).map { j in d.map { $0[j] }.reduce(0, +) / Double(n) }
            let all = rows.reduce(0, +) / Double(n)
            return (0..<n).map { i in (0..<n).map { j in d[i][j] - rows[i] - cols[j] + all } }
        }
        let a = centered(x), b = centered(y)
        func cov(_ p: [[Double]], _ q: [[Double]]) -> Double {
            var s = 0.0
            for i in 0..<n { for j in 0..<n { s += p[i][j] * q[i][j] } }
            return (s / Double(n * n) + 1e-8).squareRoot()
        }
        return cov(a, b) / (cov(a, a) * cov(b, b) + 1e-8).squareRoot()
    }

    /// SINE's prototype loss: values against the definition, 1 for an affine copy, and gradients.
    func testDistanceCorrelation() {
        // Components well apart: |xᵢ − xⱼ| has a kink where two meet, which finite differences would straddle.
        let x = Tensor(shape: [6], value: [0.1, 0.5, -0.7, 1.2, -0.3, 0.9], requiresGrad: true)
        let y = Tensor(shape: [6], value: [-0.4, 0.8, 0.2, -1.1, 0.6, 1.5], requiresGrad: true)
        assertClose(Tensor.distanceCorrelation(x, y), shape: [], [referenceDistanceCorrelation(x.value, y.value)], atol: 1e-4, rtol: 1e-4)
        let affine = Tensor(shape: [6], value: x.value.map { 3 * $0 - 1 })
        assertClose(Tensor.distanceCorrelation(x, affine), shape: [], [1], atol: 1e-3)
        assertGradientsMatch("distanceCorrelation", inputs: [x, y]) { Tensor.distanceCorrelation(x, y) }
    }
}
