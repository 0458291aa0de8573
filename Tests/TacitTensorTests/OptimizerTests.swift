import Foundation
import TacitTestSupport
import XCTest

@testable import TacitTensor

/// Adam / AdamW updates against hand-computed and reference values, convergence, and initializers.
final class OptimizerTests: XCTestCase {
    /// Sets a parameter's gradient to `g` (through a graph, since `grad` is only written by backward).
    private func setGradient(_ p: Tensor, _ g: [Float]) {
        p.zeroGrad()
        (p * Tensor(shape: p.shape, value: g)).sum().backward()
        XCTAssertEqual(p.grad, g)
    }

    /// Adam in Double, straight from Kingma & Ba (with torch's L2 and AdamW's decoupled decay).
    private struct ReferenceAdam {
        var s: Adam.Settings
        var m: [Double], v: [Double], t = 0
        init(_ s: Adam.Settings, count: Int) {
            self.s = s
            m = [Double](repeating: 0, count: count)
            v = m
        }
        mutating func step(_ w: inout [Double], _ g: [Double]) {
            t += 1
            let b1 = Double(s.beta1), b2 = Double(s.beta2), lr = Double(s.learningRate), wd = Double(s.weightDecay)
            for i in 0..<w.count {
                var gi = g[i]
                if !s.decoupled { gi += wd * w[i] }
                m[i] = b1 * m[i] + (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                let mHat = m[i] / (1 - Foundation.pow(b1, Double(t))), vHat = v[i] / (1 - Foundation.pow(b2, Double(t)))
                if s.decoupled { w[i] -= lr * wd * w[i] }
                w[i] -= lr * mHat / (vHat.squareRoot() + Double(s.epsilon))
            }
        }
    }

    // MARK: one step by hand

    /// Step 1 has m̂ = g and v̂ = g², so each weight moves by lr · sign(g) (and not at all where g = 0).
    func testAdamFirstStepHandComputed() {
        let w = Tensor(shape: [4], value: [1, -2, 0.5, -1], requiresGrad: true)
        let adam = Adam([w], settings: .init(learningRate: 0.1))
        setGradient(w, [0.5, -0.1, 0, 0.05])
        adam.step()
        assertClose(w.value, [0.9, -1.9, 0.5, -1.1], atol: 1e-6)
        XCTAssertTrue(w.grad.isEmpty, "step clears gradients by default")
    }

    /// Coupled weight decay (torch Adam): g ← g + λw before the moments. Element 2 (g = 0) decays by lr,
    /// element 3's effective gradient changes sign (0.05 − 0.1·1 < 0), so it moves the other way.
    func testAdamFirstStepCoupledWeightDecay() {
        let w = Tensor(shape: [4], value: [1, -2, 0.5, -1], requiresGrad: true)
        let adam = Adam([w], settings: .init(learningRate: 0.1, weightDecay: 0.1))
        setGradient(w, [0.5, -0.1, 0, 0.05])
        adam.step()
        assertClose(w.value, [0.9, -1.9, 0.4, -0.9], atol: 1e-6)
    }

    /// Decoupled weight decay (AdamW): w ← w − lr·λ·w − lr·sign(g) on step 1.
    func testAdamFirstStepDecoupledWeightDecay() {
        let w = Tensor(shape: [4], value: [1, -2, 0.5, -1], requiresGrad: true)
        let adam = Adam([w], settings: .init(learningRate: 0.1, weightDecay: 0.1, decoupled: true))
        setGradient(w, [0.5, -0.1, 0, 0.05])
        adam.step()
        assertClose(w.value, [0.89, -1.88, 0.495, -1.09], atol: 1e-6)
    }

    /// Several steps with changing gradients match the Double reference (bias correction beyond step 1),
    /// for plain, coupled and decoupled settings.
    func testAdamMatchesReferenceOverSteps() {
        let settings: [Adam.Settings] = [
            .init(learningRate: 0.05),
            .init(learningRate: 0.05, beta1: 0.8, beta2: 0.99, weightDecay: 0.2),
            .init(learningRate: 0.05, epsilon: 1e-3, weightDecay: 0.2, decoupled: true),
        ]
        for s in settings {
            var rng = SeededRNG(seed: 800)
            let w = randomTensor([6], &rng)
            var reference = ReferenceAdam(s, count: 6)
            var wRef = w.value.map(Double.init)
            let adam = Adam([w], settings: s)
            for _ in 0..<5 {
                let g = randomValues(6, &rng)
                setGradient(w, g)
                adam.step()
                reference.step(&wRef, g.map(Double.init))
            }
            assertClose(w.value, wRef, atol: 1e-6, rtol: 1e-5, "\(s)")
        }
    }

    /// A parameter without a gradient is left alone and its moments do not decay (lazy Adam); when it
    /// later gets a gradient, the bias correction uses the global step count.
    func testAdamSkipsParametersWithoutGradient() {
        let a = Tensor(shape: [2], value: [1, 1], requiresGrad: true)
        let b = Tensor(shape: [2], value: [3, -3], requiresGrad: true)
        let adam = Adam([a, b], settings: .init(learningRate: 0.1))
        setGradient(a, [1, -1])
        adam.step()
        XCTAssertEqual(b.value, [3, -3])
        setGradient(b, [2, -4])
        adam.step()
        XCTAssertEqual(a.value, [0.9, 1.1], "a had no gradient on step 2")
        // b: m = 0.1 g, v = 0.001 g², t = 2 → update = (0.1/0.19) / √(0.001/0.001999) · sign(g)
        let u = (0.1 / 0.19) / (0.001 / (1 - 0.999 * 0.999)).squareRoot()
        assertClose(b.value, [3 - 0.1 * u, -3 + 0.1 * u], atol: 1e-5)
    }

    /// step(clearGradients: false) keeps the gradients; zeroGrad clears every parameter.
    func testAdamGradientClearing() {
        let a = Tensor(shape: [1], value: [1], requiresGrad: true), b = Tensor(shape: [1], value: [2], requiresGrad: true)
        let adam = Adam([a, b])
        setGradient(a, [1])
        setGradient(b, [1])
        adam.step(clearGradients: false)
        XCTAssertEqual(a.grad, [1])
        adam.zeroGrad()
        XCTAssertTrue(a.grad.isEmpty && b.grad.isEmpty)
    }

    /// Replacing a parameter with a larger one keeps the moments of the old entries and starts the new ones
    /// at zero: the old entries continue exactly as an unreplaced twin does.
    func testAdamReplaceKeepsMoments() {
        let s = Adam.Settings(learningRate: 0.1)
        let p = Tensor(shape: [2], value: [1, 2], requiresGrad: true), twin = Tensor(shape: [2], value: [1, 2], requiresGrad: true)
        let adam = Adam([p], settings: s), twinAdam = Adam([twin], settings: s)
        setGradient(p, [0.3, -0.2])
        adam.step()
        setGradient(twin, [0.3, -0.2])
        twinAdam.step()
        let grown = Tensor(shape: [3], value: p.value + [5], requiresGrad: true)
        adam.replace(p, with: grown)
        XCTAssertTrue(adam.parameters[0] === grown)
        setGradient(grown, [0.1, 0.4, 1])
        adam.step()
        setGradient(twin, [0.1, 0.4])
        twinAdam.step()
        XCTAssertEqual(Array(grown.value[0..<2]), twin.value)
        // a fresh entry at step 2: m̂ = 0.1g/0.19, v̂ = 0.001g²/0.001999
        let u = (0.1 / 0.19) / (0.001 / (1 - 0.999 * 0.999)).squareRoot()
        XCTAssertEqual(Double(grown.value[2]), 5 - 0.1 * u, accuracy: 1e-5)
    }

    /// Adam drives a separable quadratic Σ (w − c)² to its minimum.
    func testAdamMinimizesQuadratic() {
        var rng = SeededRNG(seed: 810)
        let w = randomTensor([5], &rng, maxMagnitude: 3)
        let target = Tensor(shape: [5], value: [1, -2, 0.5, 3, -0.25])
        let adam = Adam([w], settings: .init(learningRate: 0.05))
        let initial = ((w - target).squared()).sum().item
        for _ in 0..<800 {
            let loss = (w - target).squared().sum()
            loss.backward()
            adam.step()
        }
        let final = ((w - target).squared()).sum().item
        XCTAssertLessThan(final, 1e-4, "from \(initial)")
        assertClose(w.value, target.value, atol: 5e-3, rtol: 0)
    }

    // MARK: initializers

    /// Xavier uniform stays inside ±√(6/(fanIn + fanOut)) and nearly reaches it; seeded, so reproducible.
    func testXavierUniform() {
        var r1 = SeededRNG(seed: 1), r2 = SeededRNG(seed: 1)
        let w = Initializer.xavierUniform([30, 20], rng: &r1)
        let bound = (6.0 / 50).squareRoot()
        XCTAssertTrue(w.requiresGrad)
        XCTAssertEqual(w.shape, [30, 20])
        XCTAssertTrue(w.value.allSatisfy { abs(Double($0)) <= bound })
        XCTAssertGreaterThan(Double(w.value.map(abs).max()!), 0.95 * bound)
        XCTAssertEqual(Initializer.xavierUniform([30, 20], rng: &r2).value, w.value)
    }

    /// Xavier normal and normal have the requested standard deviation (60k draws, 3% tolerance).
    func testNormalInitializers() {
        var rng = SeededRNG(seed: 2)
        func std(_ t: Tensor) -> Double {
            let n = Double(t.count), mean = t.value.reduce(0.0) { $0 + Double($1) } / n
            return (t.value.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n).squareRoot()
        }
        XCTAssertEqual(std(Initializer.xavierNormal([200, 300], rng: &rng)), (2.0 / 500).squareRoot(), accuracy: 0.03 * (2.0 / 500).squareRoot())
        XCTAssertEqual(std(Initializer.normal([300, 200], std: 0.1, rng: &rng)), 0.1, accuracy: 0.003)
        let c = Initializer.constant([2, 2], 0.5)
        XCTAssertEqual(c.value, [0.5, 0.5, 0.5, 0.5])
        XCTAssertTrue(c.requiresGrad)
    }

    /// Fan computation: weights are stored (in, out); extra axes multiply both fans.
    func testFans() {
        XCTAssertEqual(Initializer.fans([]).0, 1)
        XCTAssertTrue(Initializer.fans([7]) == (7, 7))
        XCTAssertTrue(Initializer.fans([4, 6]) == (4, 6))
        XCTAssertTrue(Initializer.fans([4, 6, 3]) == (12, 18))
    }
}
