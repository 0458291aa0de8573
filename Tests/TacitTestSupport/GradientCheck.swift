import Foundation
import TacitTensor
import XCTest

// MARK: - Finite-difference gradient check

/// The outcome of one finite-difference gradient check.
public struct GradientCheckReport {
    /// One compared gradient entry.
    public struct Entry {
        public var input: Int
        public var element: Int
        public var analytic: Double
        public var numeric: Double
        /// |a − n| / (atol + rtol · max(|a|, |n|)); above 1 is a mismatch.
        public var excess: Double
    }

    public var checked = 0
    public var mismatches = 0
    /// The entry with the largest `excess` (the worst agreement), if any entry was compared.
    public var worst: Entry?
    /// Whether at least one output recorded a graph (an op that silently drops it would pass otherwise).
    public var outputRecordedGraph = false
    /// Inputs whose `grad` stayed empty after backward (treated as zeros in the comparison).
    public var inputsWithoutGradient: [Int] = []

    public var passed: Bool { mismatches == 0 && outputRecordedGraph }
}

/// Compares reverse-mode gradients with central differences.
///
/// The scalar checked is L = Σₖ Σᵢ wₖᵢ · outₖᵢ with fixed random weights w (|w| ∈ [0.5, 1.5], random sign),
/// so every output element contributes. Outputs that are not finite at the unperturbed point (e.g. the −∞
/// of a masked log-softmax) get weight 0. The numeric side evaluates L in Double from the Float outputs
/// under `Tensor.withoutGrad`; the analytic side runs `backward()` on the same L built from tensor ops.
public func gradientCheck(
    inputs: [Tensor],
    h: Float = 1e-2,
    atol: Double = 2e-3,
    rtol: Double = 2e-2,
    seed: UInt64 = 0x5EED,
    build: () -> [Tensor]
) -> GradientCheckReport {
    precondition(inputs.allSatisfy(\.requiresGrad), "gradientCheck: every input must require grad")
    var report = GradientCheckReport()
    for x in inputs { x.zeroGrad() }

    // Analytic gradients.
    let outputs = build()
    var rng = SeededRNG(seed: seed)
    let weights: [[Float]] = outputs.map { out in
        out.value.map { v in
            let magnitude = rng.nextFloat() + 0.5
            let sign: Float = rng.nextFloat() < 0.5 ? -1 : 1
            return v.isFinite ? sign * magnitude : 0
        }
    }
    var loss: Tensor?
    for (out, w) in zip(outputs, weights) where out.requiresGrad {
        report.outputRecordedGraph = true
        let term = (out * Tensor(shape: out.shape, value: w)).sum()
        loss = loss.map { $0 + term } ?? term
    }
    loss?.backward()
    let analytic: [[Float]] = inputs.enumerated().map { k, x in
        if x.grad.isEmpty {
            report.inputsWithoutGradient.append(k)
            return [Float](repeating: 0, count: x.count)
        }
        return x.grad
    }

    // Numeric gradients.
    func objective() -> Double {
        Tensor.withoutGrad {
            let outs = build()
            precondition(outs.count == weights.count, "gradientCheck: build returned a different number of outputs")
            var total: Double = 0
            for (out, w) in zip(outs, weights) {
                precondition(out.count == w.count, "gradientCheck: output size changed between evaluations")
                for i in 0..<w.count where w[i] != 0 { total += Double(w[i]) * Double(out.value[i]) }
            }
            return total
        }
    }
    for (k, x) in inputs.enumerated() {
        for i in 0..<x.count {
            let original = x.value[i]
            let up = original + h, down = original - h
            x.value[i] = up
            let lUp = objective()
            x.value[i] = down
            let lDown = objective()
            x.value[i] = original
            let numeric = (lUp - lDown) / Double(up - down)
            let a = Double(analytic[k][i])
            let excess = abs(a - numeric) / (atol + rtol * max(abs(a), abs(numeric)))
            report.checked += 1
            if !(excess <= 1) { report.mismatches += 1 }  // NaN counts as a mismatch
            if report.worst == nil || !(excess <= report.worst!.excess) {
                report.worst = .init(input: k, element: i, analytic: a, numeric: numeric, excess: excess)
            }
        }
    }
    for x in inputs { x.zeroGrad() }
    return report
}

/// Fails the test (naming the op, input index and element index of the worst mismatch) unless every
/// analytic gradient entry of every input agrees with its central difference.
@discardableResult
public func assertGradientsMatch(
    _ op: String,
    inputs: [Tensor],
    h: Float = 1e-2,
    atol: Double = 2e-3,
    rtol: Double = 2e-2,
    seed: UInt64 = 0x5EED,
    file: StaticString = #filePath,
    line: UInt = #line,
    _ build: () -> [Tensor]
) -> GradientCheckReport {
    let report = gradientCheck(inputs: inputs, h: h, atol: atol, rtol: rtol, seed: seed, build: build)
    if ProcessInfo.processInfo.environment["GRADCHECK_VERBOSE"] != nil, let w = report.worst {
        // Margin report for tuning tolerances: excess near 1 means the check is close to failing.
        print(
            String(
                format: "gradcheck %-40@ worst excess %.3f (input %d, element %d, analytic %.5g, numeric %.5g)",
                op as NSString,
                w.excess,
                w.input,
                w.element,
                w.analytic,
                w.numeric
            )
        )
    }
    if !report.outputRecordedGraph {
        XCTFail("\(op): no output requires grad, so no gradient can flow", file: file, line: line)
    }
    if report.mismatches > 0, let w = report.worst {
        XCTFail(
            """
            \(op): \(report.mismatches) of \(report.checked) gradient entries disagree; worst at input \(w.input), \
            element \(w.element) (shape \(inputs[w.input].shape)): analytic \(w.analytic), numeric \(w.numeric) \
            (excess \(String(format: "%.2f", w.excess))×, atol \(atol), rtol \(rtol), h \(h))
            """,
            file: file,
            line: line
        )
    }
    if report.checked != inputs.reduce(0, { $0 + $1.count }) {
        XCTFail("\(op): checked \(report.checked) entries", file: file, line: line)
    }
    return report
}

/// Single-output form of `assertGradientsMatch`.
@discardableResult
public func assertGradientsMatch(
    _ op: String,
    inputs: [Tensor],
    h: Float = 1e-2,
    atol: Double = 2e-3,
    rtol: Double = 2e-2,
    seed: UInt64 = 0x5EED,
    file: StaticString = #filePath,
    line: UInt = #line,
    _ build: () -> Tensor
) -> GradientCheckReport {
    assertGradientsMatch(op, inputs: inputs, h: h, atol: atol, rtol: rtol, seed: seed, file: file, line: line) {
        [build()]
    }
}

// MARK: - Test data

/// A tensor of uniform values in ±[minMagnitude, maxMagnitude] (random sign), or in
/// [minMagnitude, maxMagnitude] when `positive`. A margin above 0 keeps inputs away from kinks
/// (ReLU/ELU at 0) and singularities (log, division).
public func randomTensor(
    _ shape: [Int],
    _ rng: inout SeededRNG,
    minMagnitude: Float = 0,
    maxMagnitude: Float = 1,
    positive: Bool = false,
    requiresGrad: Bool = true
) -> Tensor {
    let n = shape.reduce(1, *)
    var values = [Float]()
    values.reserveCapacity(n)
    for _ in 0..<n {
        let magnitude = minMagnitude + (maxMagnitude - minMagnitude) * rng.nextFloat()
        let negative = !positive && rng.nextFloat() < 0.5
        values.append(negative ? -magnitude : magnitude)
    }
    return Tensor(shape: shape, value: values, requiresGrad: requiresGrad)
}

/// Uniform values in [-1, 1) without a sign bias (what most forward tests need).
public func randomValues(_ count: Int, _ rng: inout SeededRNG, scale: Float = 1) -> [Float] {
    (0..<count).map { _ in (rng.nextFloat() * 2 - 1) * scale }
}

// MARK: - Value assertions

/// Asserts equal shapes and |actual − expected| ≤ atol + rtol·|expected| element by element,
/// naming the first element that differs. Infinite expectations must match exactly.
public func assertClose(
    _ actual: Tensor,
    shape: [Int],
    _ expected: [Double],
    atol: Double = 1e-5,
    rtol: Double = 1e-5,
    _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath,
    line: UInt = #line
) {
    XCTAssertEqual(actual.shape, shape, "shape \(message())", file: file, line: line)
    assertClose(actual.value, expected, atol: atol, rtol: rtol, message(), file: file, line: line)
}

/// Element-wise closeness of two value arrays (see the tensor form).
public func assertClose(
    _ actual: [Float],
    _ expected: [Double],
    atol: Double = 1e-5,
    rtol: Double = 1e-5,
    _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath,
    line: UInt = #line
) {
    guard actual.count == expected.count else {
        XCTFail("\(message()): \(actual.count) values, expected \(expected.count)", file: file, line: line)
        return
    }
    for i in 0..<actual.count {
        let a = Double(actual[i]), e = expected[i]
        let ok = e.isInfinite ? a == e : abs(a - e) <= atol + rtol * abs(e)
        if !ok {
            XCTFail("\(message()): element \(i) is \(a), expected \(e)", file: file, line: line)
            return
        }
    }
}

/// `assertClose` for Float expectations.
public func assertClose(
    _ actual: [Float],
    _ expected: [Float],
    atol: Double = 1e-5,
    rtol: Double = 1e-5,
    _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath,
    line: UInt = #line
) {
    assertClose(actual, expected.map(Double.init), atol: atol, rtol: rtol, message(), file: file, line: line)
}

// MARK: - Dense references (Double, naive loops)

/// Row-major strides of a shape.
public func strides(of shape: [Int]) -> [Int] {
    var s = [Int](repeating: 1, count: shape.count)
    if shape.count > 1 { for d in stride(from: shape.count - 2, through: 0, by: -1) { s[d] = s[d + 1] * shape[d + 1] } }
    return s
}

/// Multi-index of flat position `i` in `shape`.
public func multiIndex(_ i: Int, _ shape: [Int]) -> [Int] {
    var rest = i
    var idx = [Int](repeating: 0, count: shape.count)
    for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] > 0 {
        idx[d] = rest % shape[d]
        rest /= shape[d]
    }
    return idx
}

/// C = op(A) · op(B) by the textbook triple loop; A stored (rows × cols) as given.
public func referenceMatmul(
    _ a: [Float],
    _ aShape: [Int],
    _ b: [Float],
    _ bShape: [Int],
    transA: Bool,
    transB: Bool
) -> [Double] {
    let (m, k) = transA ? (aShape[1], aShape[0]) : (aShape[0], aShape[1])
    let n = transB ? bShape[0] : bShape[1]
    func A(_ i: Int, _ p: Int) -> Double { Double(transA ? a[p * aShape[1] + i] : a[i * aShape[1] + p]) }
    func B(_ p: Int, _ j: Int) -> Double { Double(transB ? b[j * bShape[1] + p] : b[p * bShape[1] + j]) }
    var c = [Double](repeating: 0, count: m * n)
    for i in 0..<m { for j in 0..<n { for p in 0..<k { c[i * n + j] += A(i, p) * B(p, j) } } }
    return c
}
