import Foundation
import TacitTestSupport
import XCTest

@testable import TacitTensor

/// softmax, logSoftmax (with masks), layerNorm, dropout, l2NormalizedRows.
final class NormalizationGradientTests: XCTestCase {
    /// Softmax over the last axis in Double; masked entries (mask value 0, mask repeated over leading
    /// axes) get probability 0, and a fully masked row is all zeros.
    private func referenceSoftmax(_ x: Tensor, mask: [Float]? = nil) -> [Double] {
        let n = x.shape.last!
        var out = [Double](repeating: 0, count: x.count)
        for r in 0..<(x.count / n) {
            let kept = (0..<n).filter { mask == nil || mask![(r * n + $0) % mask!.count] != 0 }
            guard !kept.isEmpty else { continue }
            let mx = kept.map { Double(x.value[r * n + $0]) }.max()!
            let z = kept.reduce(0.0) { $0 + Foundation.exp(Double(x.value[r * n + $1]) - mx) }
            for j in kept { out[r * n + j] = Foundation.exp(Double(x.value[r * n + j]) - mx) / z }
        }
        return out
    }

    /// log of the reference softmax, −∞ where masked (unmasked probabilities are > 0 at these scales).
    private func referenceLogSoftmax(_ x: Tensor, mask: [Float]? = nil) -> [Double] {
        referenceSoftmax(x, mask: mask).map { $0 > 0 ? Foundation.log($0) : -.infinity }
    }

    /// 3 rows: partly masked, fully masked, unmasked.
    private let rowMask: [Float] = [1, 1, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1]

    // MARK: softmax

    /// A hand-worked softmax: [0, ln 2, ln 3] → [1/6, 2/6, 3/6]; shifting the row changes nothing.
    func testSoftmaxHandComputed() {
        let x = Tensor(shape: [1, 3], value: [0, Float(Foundation.log(2.0)), Float(Foundation.log(3.0))])
        assertClose(x.softmax(), shape: [1, 3], [1.0 / 6, 2.0 / 6, 3.0 / 6])
        assertClose((x + 100).softmax(), shape: [1, 3], [1.0 / 6, 2.0 / 6, 3.0 / 6])
        assertClose(x.logSoftmax(), shape: [1, 3], [Foundation.log(1.0 / 6), Foundation.log(2.0 / 6), Foundation.log(3.0 / 6)])
    }

    /// Unmasked softmax and logSoftmax of a 3-D tensor: values and gradients.
    func testSoftmaxUnmasked() {
        var rng = SeededRNG(seed: 400)
        let x = randomTensor([2, 3, 4], &rng, maxMagnitude: 2)
        assertClose(x.softmax(), shape: [2, 3, 4], referenceSoftmax(x))
        assertClose(x.logSoftmax(), shape: [2, 3, 4], referenceLogSoftmax(x))
        assertGradientsMatch("softmax", inputs: [x]) { x.softmax() }
        assertGradientsMatch("logSoftmax", inputs: [x]) { x.logSoftmax() }
    }

    /// Large logits do not overflow (the row maximum is subtracted). logSoftmax forms x − (max + log Σ) in
    /// Float, so near |x| = 1000 its absolute error is about one ulp of 1000 (6e-5).
    func testSoftmaxLargeLogits() {
        let x = Tensor(shape: [2, 2], value: [1000, 1000, -1000, 0])
        assertClose(x.softmax(), shape: [2, 2], [0.5, 0.5, 0, 1])
        assertClose(x.logSoftmax(), shape: [2, 2], [-Foundation.log(2.0), -Foundation.log(2.0), -1000, 0], atol: 1e-4)
    }

    /// A full-shape mask with a fully masked row: masked probabilities are 0, the dead row is all zeros,
    /// and gradient checks pass.
    func testSoftmaxMasked() {
        var rng = SeededRNG(seed: 401)
        let x = randomTensor([3, 4], &rng, maxMagnitude: 2)
        let mask = Tensor(shape: [3, 4], value: rowMask)
        let y = x.softmax(mask: mask)
        assertClose(y, shape: [3, 4], referenceSoftmax(x, mask: rowMask))
        XCTAssertEqual(Array(y.value[4..<8]), [0, 0, 0, 0], "fully masked row")
        XCTAssertEqual(y.value[0] + y.value[1] + y.value[3], 1, accuracy: 1e-6)
        assertGradientsMatch("softmax(mask:)", inputs: [x]) { x.softmax(mask: mask) }
    }

    /// logSoftmax with the same mask: −∞ on masked entries and on the whole dead row.
    func testLogSoftmaxMasked() {
        var rng = SeededRNG(seed: 402)
        let x = randomTensor([3, 4], &rng, maxMagnitude: 2)
        let mask = Tensor(shape: [3, 4], value: rowMask)
        let y = x.logSoftmax(mask: mask)
        assertClose(y, shape: [3, 4], referenceLogSoftmax(x, mask: rowMask))
        XCTAssertTrue(y.value[4..<8].allSatisfy { $0 == -.infinity }, "fully masked row is −∞")
        XCTAssertEqual(y.value[2], -.infinity)
        assertGradientsMatch("logSoftmax(mask:)", inputs: [x]) { x.logSoftmax(mask: mask) }
    }

    /// Masked entries and fully masked rows get exactly zero gradient even when the upstream gradient
    /// there is non-zero, and that upstream gradient does not leak into the unmasked entries: the outputs at
    /// masked positions are constants (0 or −∞). Expected: softmax dxₖ = pₖ(gₖ − Σᵢ pᵢgᵢ), logSoftmax
    /// dxₖ = gₖ − pₖ Σᵢ gᵢ with i over unmasked entries only.
    func testMaskedEntriesGetZeroGradient() {
        var rng = SeededRNG(seed: 403)
        let mask = Tensor(shape: [3, 4], value: rowMask)
        let upstream = Tensor(shape: [3, 4], value: (0..<12).map { Float($0) * 0.3 - 1.5 })
        let g = upstream.value.map(Double.init)
        for log in [false, true] {
            let op = log ? "logSoftmax" : "softmax"
            let x = randomTensor([3, 4], &rng, maxMagnitude: 2)
            let y = log ? x.logSoftmax(mask: mask) : x.softmax(mask: mask)
            // (−∞ · w) makes the loss value non-finite for logSoftmax, but backward only needs w.
            (y * upstream).sum().backward()
            XCTAssertEqual(y.grad, upstream.value, "upstream reaches the masked entries")
            let p = referenceSoftmax(x, mask: rowMask)
            var expected = [Double](repeating: 0, count: 12)
            for r in 0..<3 {
                let kept = (0..<4).map { r * 4 + $0 }.filter { rowMask[$0] != 0 }
                let sumG = kept.reduce(0.0) { $0 + g[$1] }, sumPG = kept.reduce(0.0) { $0 + p[$1] * g[$1] }
                for k in kept { expected[k] = log ? g[k] - p[k] * sumG : p[k] * (g[k] - sumPG) }
            }
            assertClose(x.grad, expected, "\(op) gradient with upstream on masked entries")
            for i in 0..<12 where rowMask[i] == 0 { XCTAssertEqual(x.grad[i], 0, "\(op) grad at masked \(i)") }
            XCTAssertNotEqual(x.grad[0], 0, "unmasked entries do get a gradient")
        }
    }

    /// A (T, n) mask broadcast over the batch axis of a (B, T, n) input (the causal attention mask).
    func testSoftmaxSuffixMaskBroadcast() {
        var rng = SeededRNG(seed: 404)
        let x = randomTensor([2, 3, 3], &rng, maxMagnitude: 2)
        let causal: [Float] = [1, 0, 0, 1, 1, 0, 1, 1, 1]
        let mask = Tensor(shape: [3, 3], value: causal)
        assertClose(x.softmax(mask: mask), shape: [2, 3, 3], referenceSoftmax(x, mask: causal))
        assertClose(x.logSoftmax(mask: mask), shape: [2, 3, 3], referenceLogSoftmax(x, mask: causal))
        XCTAssertEqual(x.softmax(mask: mask).value[9], 1, "first query of batch 1 sees only itself")
        assertGradientsMatch("softmax(causal mask)", inputs: [x]) { x.softmax(mask: mask) }
        assertGradientsMatch("logSoftmax(causal mask)", inputs: [x]) { x.logSoftmax(mask: mask) }
    }

    // MARK: layerNorm

    /// (x − μ)/√(σ² + ε)·γ + β per row, in Double.
    private func referenceLayerNorm(_ x: Tensor, _ gamma: Tensor, _ beta: Tensor, epsilon: Double) -> [Double] {
        let d = x.shape.last!
        var out: [Double] = []
        for r in 0..<(x.count / d) {
            let row = (0..<d).map { Double(x.value[r * d + $0]) }
            let mean = row.reduce(0, +) / Double(d)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(d)
            for j in 0..<d {
                out.append((row[j] - mean) / (variance + epsilon).squareRoot() * Double(gamma.value[j]) + Double(beta.value[j]))
            }
        }
        return out
    }

    /// A hand-worked row: [1, 2, 3] has mean 2 and variance 2/3, so x̂ = [−1.2247, 0, 1.2247].
    func testLayerNormHandComputed() {
        let x = Tensor(shape: [1, 3], value: [1, 2, 3])
        let y = Tensor.layerNorm(
            x,
            gamma: Tensor(shape: [3], value: [1, 1, 1]),
            beta: Tensor(shape: [3], value: [0, 0, 0]),
            epsilon: 0
        )
        let s = (1.5).squareRoot()
        assertClose(y, shape: [1, 3], [-s, 0, s])
        let z = Tensor.layerNorm(
            x,
            gamma: Tensor(shape: [3], value: [2, 1, 1]),
            beta: Tensor(shape: [3], value: [0, 5, 0]),
            epsilon: 0
        )
        assertClose(z, shape: [1, 3], [-2 * s, 5, s])
    }

    /// 2-D layerNorm: values and gradients for x, γ and β.
    func testLayerNorm2D() {
        var rng = SeededRNG(seed: 410)
        let x = randomTensor([4, 5], &rng, maxMagnitude: 2)
        let gamma = randomTensor([5], &rng, minMagnitude: 0.5, maxMagnitude: 1.5)
        let beta = randomTensor([5], &rng)
        assertClose(
            Tensor.layerNorm(x, gamma: gamma, beta: beta),
            shape: [4, 5],
            referenceLayerNorm(x, gamma, beta, epsilon: 1e-5),
            atol: 1e-5,
            rtol: 1e-4
        )
        assertGradientsMatch("layerNorm 2-D", inputs: [x, gamma, beta], h: 5e-3) {
            Tensor.layerNorm(x, gamma: gamma, beta: beta)
        }
    }

    /// 3-D layerNorm with a larger ε; also gradients for x alone when γ, β are constants.
    func testLayerNorm3D() {
        var rng = SeededRNG(seed: 411)
        let x = randomTensor([2, 3, 4], &rng, maxMagnitude: 2)
        let gamma = randomTensor([4], &rng, minMagnitude: 0.5, maxMagnitude: 1.5)
        let beta = randomTensor([4], &rng)
        assertClose(
            Tensor.layerNorm(x, gamma: gamma, beta: beta, epsilon: 0.1),
            shape: [2, 3, 4],
            referenceLayerNorm(x, gamma, beta, epsilon: 0.1),
            atol: 1e-5,
            rtol: 1e-4
        )
        assertGradientsMatch("layerNorm 3-D", inputs: [x, gamma, beta], h: 5e-3) {
            Tensor.layerNorm(x, gamma: gamma, beta: beta, epsilon: 0.1)
        }
        let g = gamma.detached(), b = beta.detached()
        assertGradientsMatch("layerNorm, constant γ β", inputs: [x], h: 5e-3) { Tensor.layerNorm(x, gamma: g, beta: b) }
    }

    // MARK: dropout

    /// Not training (or p = 0): values unchanged and the gradient is the identity.
    func testDropoutIdentityWhenNotTraining() {
        var rng = SeededRNG(seed: 420)
        let x = randomTensor([3, 4], &rng)
        var dropRNG = SeededRNG(seed: 1)
        var before = dropRNG
        XCTAssertEqual(x.dropout(0.5, training: false, rng: &dropRNG).value, x.value)
        XCTAssertEqual(x.dropout(0, training: true, rng: &dropRNG).value, x.value)
        XCTAssertEqual(dropRNG.next(), before.next(), "no random numbers drawn when dropout is off")
        x.dropout(0.5, training: false, rng: &dropRNG).sum().backward()
        XCTAssertEqual(x.grad, [Float](repeating: 1, count: 12))
    }

    /// Training: each entry is either 0 or x/(1−p); the gradient is exactly that mask; the same seed
    /// gives the same mask and another seed a different one.
    func testDropoutTrainingMask() {
        var rng = SeededRNG(seed: 421)
        let p: Float = 0.4
        let x = randomTensor([5, 6], &rng, minMagnitude: 0.1)
        var r1 = SeededRNG(seed: 9)
        let y = x.dropout(p, training: true, rng: &r1)
        let scale = 1 / (1 - p)
        var kept = 0
        for i in 0..<x.count {
            if y.value[i] == 0 { continue }
            kept += 1
            XCTAssertEqual(y.value[i], x.value[i] * scale, accuracy: 1e-6)
        }
        XCTAssertTrue(kept > 0 && kept < x.count, "some kept, some dropped (\(kept) of \(x.count))")
        y.sum().backward()
        for i in 0..<x.count { XCTAssertEqual(x.grad[i], y.value[i] == 0 ? 0 : scale, accuracy: 1e-6) }
        var r2 = SeededRNG(seed: 9), r3 = SeededRNG(seed: 10)
        XCTAssertEqual(x.dropout(p, training: true, rng: &r2).value, y.value, "same seed, same mask")
        XCTAssertNotEqual(x.dropout(p, training: true, rng: &r3).value, y.value, "other seed, other mask")
    }

    /// With the mask fixed by reseeding per evaluation, dropout passes a gradient check.
    func testDropoutGradientCheck() {
        var rng = SeededRNG(seed: 422)
        let x = randomTensor([4, 5], &rng)
        assertGradientsMatch("dropout(0.3)", inputs: [x]) {
            var maskRNG = SeededRNG(seed: 77)
            return x.dropout(0.3, training: true, rng: &maskRNG).tanh()
        }
    }

    /// Over many entries the dropped fraction is close to p and the mean is preserved.
    func testDropoutRateAndMean() {
        let x = Tensor(zeros: [10_000], fill: 1)
        var r = SeededRNG(seed: 5)
        let y = x.dropout(0.25, training: true, rng: &r)
        let dropped = Double(y.value.filter { $0 == 0 }.count) / 10_000
        XCTAssertEqual(dropped, 0.25, accuracy: 0.02)
        XCTAssertEqual(Double(y.value.reduce(0, +)) / 10_000, 1, accuracy: 0.03)
    }

    // MARK: l2NormalizedRows

    /// Rows scaled to unit norm (hand-worked 3-4-5 row), reference values and gradients.
    func testL2NormalizedRows() {
        let fixed = Tensor(shape: [2, 2], value: [3, 4, 0, -2])
        assertClose(fixed.l2NormalizedRows(), shape: [2, 2], [0.6, 0.8, 0, -1])
        var rng = SeededRNG(seed: 430)
        let x = randomTensor([4, 3], &rng, minMagnitude: 0.2)
        let y = x.l2NormalizedRows()
        for r in 0..<4 {
            let norm = (0..<3).reduce(0.0) { $0 + Double(x.value[r * 3 + $1]) * Double(x.value[r * 3 + $1]) }.squareRoot()
            assertClose(Array(y.value[(r * 3)..<(r * 3 + 3)]), (0..<3).map { Double(x.value[r * 3 + $0]) / norm }, "row \(r)")
        }
        assertGradientsMatch("l2NormalizedRows", inputs: [x]) { x.l2NormalizedRows() }
        let x3 = randomTensor([2, 2, 3], &rng, minMagnitude: 0.2)
        assertGradientsMatch("l2NormalizedRows 3-D", inputs: [x3]) { x3.l2NormalizedRows() }
    }

    /// An all-zero row stays zero (divided by ε, not by 0) and its gradient is finite.
    func testL2NormalizedZeroRow() {
        let x = Tensor(shape: [2, 2], value: [0, 0, 1, 1], requiresGrad: true)
        let y = x.l2NormalizedRows()
        XCTAssertEqual(Array(y.value[0..<2]), [0, 0])
        y.sum().backward()
        XCTAssertTrue(x.grad.allSatisfy(\.isFinite))
    }
}
