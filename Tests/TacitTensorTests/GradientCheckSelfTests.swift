import TacitTestSupport
import XCTest

@testable import TacitTensor

/// The gradient checker itself must be able to fail: every other gradient test relies on it.
final class GradientCheckSelfTests: XCTestCase {
    /// A correct custom unary op (x³, derivative 3x²) passes.
    func testAcceptsCorrectDerivative() {
        var rng = SeededRNG(seed: 1)
        let x = randomTensor([3, 4], &rng)
        let report = gradientCheck(inputs: [x]) { [x.unary({ $0 * $0 * $0 }, derivative: { x, _ in 3 * x * x })] }
        XCTAssertTrue(report.passed, "worst: \(String(describing: report.worst))")
        XCTAssertEqual(report.checked, 12)
    }

    /// A wrong derivative (2x² instead of 3x²) is caught, and the report points at a real element.
    func testDetectsWrongDerivative() throws {
        var rng = SeededRNG(seed: 2)
        let x = randomTensor([3, 4], &rng, minMagnitude: 0.5)
        let report = gradientCheck(inputs: [x]) { [x.unary({ $0 * $0 * $0 }, derivative: { x, _ in 2 * x * x })] }
        XCTAssertFalse(report.passed)
        XCTAssertEqual(report.mismatches, 12)
        let worst = try XCTUnwrap(report.worst)
        XCTAssertEqual(worst.input, 0)
        XCTAssertTrue((0..<12).contains(worst.element))
        XCTAssertEqual(worst.numeric / worst.analytic, 1.5, accuracy: 0.05)
    }

    /// A derivative that is 10% off for a single element is caught and located.
    func testDetectsSingleWrongElement() {
        var rng = SeededRNG(seed: 3)
        let x = randomTensor([2, 5], &rng, minMagnitude: 0.5)
        let target = x.value[7]
        let report = gradientCheck(inputs: [x]) {
            [x.unary({ $0 * $0 }, derivative: { v, _ in v == target ? 2.2 * v : 2 * v })]
        }
        XCTAssertEqual(report.mismatches, 1)
        XCTAssertEqual(report.worst?.element, 7)
    }

    /// A gradient that never reaches one of the inputs is a mismatch, not a silent pass.
    func testDetectsMissingGradient() {
        var rng = SeededRNG(seed: 4)
        let x = randomTensor([4], &rng, minMagnitude: 0.2)
        let y = randomTensor([4], &rng, minMagnitude: 0.2)
        // y's contribution goes through a detached copy: the forward depends on y, the graph does not.
        let report = gradientCheck(inputs: [x, y]) { [x * Tensor(shape: [4], value: y.value)] }
        XCTAssertEqual(report.inputsWithoutGradient, [1])
        XCTAssertEqual(report.mismatches, 4)
        XCTAssertEqual(report.worst?.input, 1)
    }

    /// An output computed without a graph is reported (every analytic gradient would be zero).
    func testDetectsOutputWithoutGraph() {
        let x = Tensor(shape: [2], value: [1, 2], requiresGrad: true)
        let report = gradientCheck(inputs: [x]) { [Tensor.withoutGrad { x.exp() }] }
        XCTAssertFalse(report.outputRecordedGraph)
        XCTAssertFalse(report.passed)
    }

    /// Non-finite outputs get weight 0 and do not poison the numeric objective.
    func testIgnoresNonFiniteOutputs() {
        let x = Tensor(shape: [3], value: [0.5, 1, 2], requiresGrad: true)
        let mask = Tensor(shape: [3], value: [1, 0, 1])
        let report = gradientCheck(inputs: [x]) { [x.logSoftmax(mask: mask)] }
        XCTAssertTrue(report.passed, "worst: \(String(describing: report.worst))")
    }

    /// The checker leaves inputs as it found them (values restored, gradients cleared).
    func testRestoresInputs() {
        var rng = SeededRNG(seed: 5)
        let x = randomTensor([3, 3], &rng)
        let before = x.value
        _ = gradientCheck(inputs: [x]) { [x.tanh()] }
        XCTAssertEqual(x.value, before)
        XCTAssertTrue(x.grad.isEmpty)
    }
}
