import Foundation
import TacitTestSupport
import XCTest

@testable import TacitTensor

/// Binary ops with broadcasting, scalar ops and unary activations.
final class ElementwiseGradientTests: XCTestCase {
    /// NumPy-broadcast `f(a, b)` computed index by index in Double.
    private func referenceBinary(_ a: Tensor, _ b: Tensor, _ f: (Double, Double) -> Double) -> ([Int], [Double]) {
        let rank = max(a.rank, b.rank)
        let pa = [Int](repeating: 1, count: rank - a.rank) + a.shape
        let pb = [Int](repeating: 1, count: rank - b.rank) + b.shape
        let out = (0..<rank).map { max(pa[$0], pb[$0]) }
        let sa = strides(of: pa), sb = strides(of: pb)
        let n = out.reduce(1, *)
        let values = (0..<n).map { i -> Double in
            let idx = multiIndex(i, out)
            var ia = 0, ib = 0
            for d in 0..<rank {
                ia += (pa[d] == 1 ? 0 : idx[d]) * sa[d]
                ib += (pb[d] == 1 ? 0 : idx[d]) * sb[d]
            }
            return f(Double(a.value[ia]), Double(b.value[ib]))
        }
        return (out, values)
    }

    /// Shape pairs covering every broadcast path: same shape, scalar on either side, suffix on either side,
    /// a leading-axis column, and the general (blocked) case, including a per-sequence attention kernel
    /// shared across heads.
    private let shapeCases: [(String, [Int], [Int])] = [
        ("same (3,4)", [3, 4], [3, 4]),
        ("tensor ∘ scalar ()", [3, 4], []),
        ("tensor ∘ (1)", [2, 3], [1]),
        ("scalar () ∘ tensor", [], [3, 2]),
        ("suffix (4,3) ∘ (3)", [4, 3], [3]),
        ("suffix (2,3,4) ∘ (3,4)", [2, 3, 4], [3, 4]),
        ("suffix (2,3,4) ∘ (1,4)", [2, 3, 4], [1, 4]),
        ("prefix-extended (3) ∘ (4,3)", [3], [4, 3]),
        ("leading axis (4,1) ∘ (4,3)", [4, 1], [4, 3]),
        ("leading axis (4,3) ∘ (4,1)", [4, 3], [4, 1]),
        ("general (2,1,3) ∘ (1,4,1)", [2, 1, 3], [1, 4, 1]),
        ("general (2,1,3) ∘ (4,1)", [2, 1, 3], [4, 1]),
        ("general (3,1) ∘ (1,2)", [3, 1], [1, 2]),
        ("heads (2,2,3,3) ∘ (2,1,3,3)", [2, 2, 3, 3], [2, 1, 3, 3]),
    ]

    private typealias BinaryOp = (name: String, op: (Tensor, Tensor) -> Tensor, ref: (Double, Double) -> Double)
    private let binaryOps: [BinaryOp] = [
        ("+", { $0 + $1 }, { $0 + $1 }),
        ("−", { $0 - $1 }, { $0 - $1 }),
        ("*", { $0 * $1 }, { $0 * $1 }),
        ("/", { $0 / $1 }, { $0 / $1 }),
    ]

    /// Forward values of + − * / for every broadcast case, against an index-by-index reference.
    func testBinaryForwardAllBroadcastCases() {
        var rng = SeededRNG(seed: 100)
        for (caseName, sa, sb) in shapeCases {
            let a = randomTensor(sa, &rng, requiresGrad: false)
            let b = randomTensor(sb, &rng, minMagnitude: 0.5, maxMagnitude: 1.5, requiresGrad: false)
            for (name, op, ref) in binaryOps {
                let (shape, expected) = referenceBinary(a, b, ref)
                assertClose(op(a, b), shape: shape, expected, "\(name) \(caseName)")
            }
        }
    }

    /// Gradients of + − * / w.r.t. both operands for every broadcast case: a broadcast operand's gradient
    /// must sum over the axes it was repeated along.
    func testBinaryGradientsAllBroadcastCases() {
        var rng = SeededRNG(seed: 101)
        for (caseName, sa, sb) in shapeCases {
            let a = randomTensor(sa, &rng)
            let b = randomTensor(sb, &rng, minMagnitude: 0.7, maxMagnitude: 1.5)
            for (name, op, _) in binaryOps {
                assertGradientsMatch("a \(name) b, \(caseName)", inputs: [a, b]) { op(a, b) }
            }
        }
    }

    /// A hand-worked broadcast: a row vector added to each row, a column scaling each row.
    func testBroadcastHandComputed() {
        let m = Tensor(shape: [2, 3], value: [1, 2, 3, 4, 5, 6])
        let row = Tensor(shape: [3], value: [10, 20, 30])
        let col = Tensor(shape: [2, 1], value: [2, -1])
        assertClose(m + row, shape: [2, 3], [11, 22, 33, 14, 25, 36])
        assertClose(m * col, shape: [2, 3], [2, 4, 6, -4, -5, -6])
        assertClose(col - row, shape: [2, 3], [-8, -18, -28, -11, -21, -31])
        let x = Tensor(shape: [2, 1, 2], value: [1, 2, 3, 4]), y = Tensor(shape: [1, 3, 1], value: [10, 20, 30])
        assertClose(x + y, shape: [2, 3, 2], [11, 12, 21, 22, 31, 32, 13, 14, 23, 24, 33, 34])
    }

    /// The broadcast gradient of a hand-worked case: d(Σ m ⊙ col)/dcol sums each row.
    func testBroadcastGradientHandComputed() {
        let m = Tensor(shape: [2, 3], value: [1, 2, 3, 4, 5, 6], requiresGrad: true)
        let col = Tensor(shape: [2, 1], value: [2, -1], requiresGrad: true)
        (m * col).sum().backward()
        XCTAssertEqual(col.grad, [6, 15])
        XCTAssertEqual(m.grad, [2, 2, 2, -1, -1, -1])
    }

    /// x ⊙ x and x + x: both operand slots are the same tensor, so both contributions must accumulate.
    func testSameTensorInBothOperands() {
        var rng = SeededRNG(seed: 102)
        let x = randomTensor([3, 2], &rng, minMagnitude: 0.5)
        assertGradientsMatch("x * x", inputs: [x]) { x * x }
        assertGradientsMatch("x / x + x", inputs: [x]) { x / x + x }
        (x * x).sum().backward()
        assertClose(x.grad, x.value.map { 2 * Double($0) }, "d(x²)/dx")
    }

    // MARK: scalar ops

    /// x + s, x − s, x · s, s · x, −x and scaled(by:): values and gradients.
    func testScalarOps() {
        var rng = SeededRNG(seed: 110)
        let x = randomTensor([2, 3], &rng)
        let v = x.value.map(Double.init)
        let cases: [(String, (Tensor) -> Tensor, (Double) -> Double)] = [
            ("x + 2.5", { $0 + 2.5 }, { $0 + 2.5 }),
            ("x − 1.5", { $0 - 1.5 }, { $0 - 1.5 }),
            ("x * −3", { $0 * -3 }, { $0 * -3 }),
            ("0.5 * x", { 0.5 * $0 }, { 0.5 * $0 }),
            ("−x", { -$0 }, { -$0 }),
            ("x.scaled(by: 4)", { $0.scaled(by: 4) }, { 4 * $0 }),
        ]
        for (name, op, ref) in cases {
            assertClose(op(x), shape: [2, 3], v.map(ref), name)
            assertGradientsMatch(name, inputs: [x]) { op(x) }
        }
    }

    // MARK: unary ops

    private static func geluReference(_ x: Double) -> Double {
        0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
    }

    private typealias UnaryCase = (
        name: String, op: (Tensor) -> Tensor, ref: (Double) -> Double,
        minMagnitude: Float, maxMagnitude: Float, positive: Bool
    )
    private let unaryCases: [UnaryCase] = [
        ("sigmoid", { $0.sigmoid() }, { 1 / (1 + Foundation.exp(-$0)) }, 0, 3, false),
        ("logSigmoid", { $0.logSigmoid() }, { -Foundation.log(1 + Foundation.exp(-$0)) }, 0, 3, false),
        ("softplus", { $0.softplus() }, { Foundation.log(1 + Foundation.exp($0)) }, 0, 3, false),
        ("relu", { $0.relu() }, { max(0, $0) }, 0.1, 2, false),
        ("elu", { $0.elu() }, { $0 > 0 ? $0 : Foundation.exp($0) - 1 }, 0.1, 2, false),
        ("tanh", { $0.tanh() }, { Foundation.tanh($0) }, 0, 2, false),
        ("exp", { $0.exp() }, { Foundation.exp($0) }, 0, 1.5, false),
        ("log", { $0.log() }, { Foundation.log($0) }, 0.5, 3, true),
        ("squared", { $0.squared() }, { $0 * $0 }, 0, 2, false),
        ("gelu", { $0.gelu() }, geluReference, 0, 3, false),
        ("sqrt", { $0.sqrt() }, { $0.squareRoot() }, 0.5, 3, true),
    ]

    /// Forward values of every activation against the textbook formula in Double.
    func testUnaryForward() {
        var rng = SeededRNG(seed: 120)
        for c in unaryCases {
            let x = randomTensor(
                [4, 5],
                &rng,
                minMagnitude: c.minMagnitude,
                maxMagnitude: c.maxMagnitude,
                positive: c.positive,
                requiresGrad: false
            )
            assertClose(c.op(x), shape: [4, 5], x.value.map { c.ref(Double($0)) }, atol: 1e-6, rtol: 1e-5, c.name)
        }
    }

    /// Gradients of every activation (inputs kept away from the ReLU/ELU kink and from log's pole).
    func testUnaryGradients() {
        var rng = SeededRNG(seed: 121)
        for c in unaryCases {
            let x = randomTensor(
                [4, 5],
                &rng,
                minMagnitude: c.minMagnitude,
                maxMagnitude: c.maxMagnitude,
                positive: c.positive
            )
            assertGradientsMatch(c.name, inputs: [x]) { c.op(x) }
        }
    }

    /// Sigmoid, logSigmoid and softplus stay finite and accurate for large |x| (no overflow in e^x).
    func testUnaryStabilityAtLargeMagnitude() {
        let x = Tensor(shape: [4], value: [-100, -30, 30, 100], requiresGrad: true)
        assertClose(
            x.sigmoid(),
            shape: [4],
            [Foundation.exp(-100.0), Foundation.exp(-30.0), 1, 1],
            atol: 1e-12,
            rtol: 1e-5,
            "sigmoid"
        )
        assertClose(
            x.softplus(),
            shape: [4],
            [Foundation.exp(-100.0), Foundation.exp(-30.0), 30, 100],
            atol: 1e-12,
            rtol: 1e-5,
            "softplus"
        )
        assertClose(
            x.logSigmoid(),
            shape: [4],
            [-100, -30, -Foundation.exp(-30.0), -Foundation.exp(-100.0)],
            atol: 1e-12,
            rtol: 1e-5,
            "logSigmoid"
        )
        (x.logSigmoid().sum() + x.softplus().sum()).backward()
        // d logσ(x) + d softplus(x) = σ(−x) + σ(x) = 1
        assertClose(x.grad, [1.0, 1, 1, 1], "logSigmoid' + softplus'")
    }

    /// ReLU and ELU on both sides of the kink: exact values and one-sided derivatives.
    func testReluEluHandComputed() {
        let x = Tensor(shape: [4], value: [-2, -0.5, 0.5, 2], requiresGrad: true)
        assertClose(x.relu(), shape: [4], [0, 0, 0.5, 2])
        assertClose(x.elu(), shape: [4], [Foundation.expm1(-2.0), Foundation.expm1(-0.5), 0.5, 2])
        x.relu().sum().backward()
        XCTAssertEqual(x.grad, [0, 0, 1, 1])
        x.zeroGrad()
        x.elu().sum().backward()
        assertClose(x.grad, [Foundation.exp(-2.0), Foundation.exp(-0.5), 1, 1])
    }
}
