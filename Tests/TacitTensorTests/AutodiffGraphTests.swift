import TacitTestSupport
import XCTest

@testable import TacitTensor

/// The autodiff machinery itself: grad mode, graph recording and release, leaves and constants.
final class AutodiffGraphTests: XCTestCase {
    /// Under withoutGrad nothing is recorded: results do not require grad and hold no parents or closure.
    func testWithoutGradRecordsNoGraph() {
        let x = Tensor(shape: [2, 2], value: [1, 2, 3, 4], requiresGrad: true)
        let w = Tensor(shape: [2, 2], value: [1, 0, 0, 1], requiresGrad: true)
        let outputs: [Tensor] = Tensor.withoutGrad {
            let h = Tensor.matmul(x, w)
            return [h, h.tanh(), h + x, h.sum(), Tensor.gather(x, [1, 0]), x.softmax(), x.reshaped([4])]
        }
        for (i, y) in outputs.enumerated() {
            XCTAssertFalse(y.requiresGrad, "output \(i)")
            XCTAssertTrue(y.parents.isEmpty, "output \(i)")
            XCTAssertNil(y.backwardFn, "output \(i)")
        }
        XCTAssertEqual(outputs[0].value, [1, 2, 3, 4], "values are still computed")
        // and grad mode is back on afterwards
        XCTAssertTrue(Tensor.isGradEnabled)
        XCTAssertTrue((x * 2).requiresGrad)
    }

    /// Nested withoutGrad restores the outer mode on exit, also when the body throws.
    func testWithoutGradNestingAndThrowing() {
        struct Failure: Error {}
        Tensor.withoutGrad {
            XCTAssertFalse(Tensor.isGradEnabled)
            Tensor.withoutGrad { XCTAssertFalse(Tensor.isGradEnabled) }
            XCTAssertFalse(Tensor.isGradEnabled)
        }
        XCTAssertThrowsError(try Tensor.withoutGrad { () throws -> Int in throw Failure() })
        XCTAssertTrue(Tensor.isGradEnabled)
    }

    /// Ops on constants only record nothing; a constant mixed with a parameter records the graph.
    func testConstantsRecordNothing() {
        let c = Tensor(shape: [2], value: [1, 2])
        let p = Tensor(shape: [2], value: [3, 4], requiresGrad: true)
        let y = (c * c).exp()
        XCTAssertFalse(y.requiresGrad)
        XCTAssertTrue(y.parents.isEmpty)
        let z = c * p
        XCTAssertTrue(z.requiresGrad)
        XCTAssertEqual(z.parents.count, 2)
        z.sum().backward()
        XCTAssertTrue(c.grad.isEmpty, "constants never get a gradient")
        XCTAssertEqual(p.grad, [1, 2])
    }

    /// backward releases the graph: every intermediate loses its parents and closure, leaves keep gradients.
    func testBackwardReleasesGraph() {
        let x = Tensor(shape: [2, 3], value: [1, 2, 3, 4, 5, 6], requiresGrad: true)
        let w = Tensor(shape: [3, 2], value: [1, 0, 0, 1, 1, 1], requiresGrad: true)
        let h = Tensor.matmul(x, w)
        let a = h.tanh()
        let loss = (a * h).mean()
        XCTAssertFalse(h.parents.isEmpty)
        XCTAssertNotNil(a.backwardFn)
        loss.backward()
        for (name, t) in [("h", h), ("a", a), ("loss", loss)] {
            XCTAssertTrue(t.parents.isEmpty, "\(name) parents released")
            XCTAssertNil(t.backwardFn, "\(name) closure released")
        }
        XCTAssertEqual(x.grad.count, 6)
        XCTAssertEqual(w.grad.count, 6)
    }

    /// Intermediates are freed once backward has run and the caller drops them (no retain cycles
    /// through backward closures).
    func testIntermediatesAreDeallocated() {
        let x = Tensor(shape: [3], value: [1, 2, 3], requiresGrad: true)
        weak var weakIntermediate: Tensor?
        do {
            let h = x.exp() * x
            weakIntermediate = h
            h.sum().backward()
        }
        XCTAssertNil(weakIntermediate)
    }

    /// detached copies values but cuts the graph.
    func testDetached() {
        let x = Tensor(shape: [2], value: [1, 2], requiresGrad: true)
        let d = (x * 3).detached()
        XCTAssertEqual(d.value, [3, 6])
        XCTAssertFalse(d.requiresGrad)
        let loss = (d * x).sum()
        loss.backward()
        XCTAssertEqual(x.grad, [3, 6], "only the direct path")
    }

    /// backward on a scalar that requires no grad is a no-op; zeroGrad forgets the gradient.
    func testBackwardNoOpAndZeroGrad() {
        let c = Tensor(scalar: 2)
        c.backward()
        XCTAssertTrue(c.grad.isEmpty)
        let p = Tensor(shape: [2], value: [1, 2], requiresGrad: true)
        (p * p).sum().backward()
        XCTAssertEqual(p.grad, [2, 4])
        p.zeroGrad()
        XCTAssertTrue(p.grad.isEmpty)
    }

    /// A long chain (deeper than a recursive DFS would like) back-propagates with the iterative traversal.
    func testDeepChain() {
        let x = Tensor(shape: [1], value: [0.5], requiresGrad: true)
        var y = x
        for _ in 0..<3000 { y = y + 0.001 }
        let loss = (y * x).sum()
        loss.backward()
        // d/dx [(x + 3)·x] = 2x + 3
        XCTAssertEqual(x.grad[0], 2 * 0.5 + 3, accuracy: 1e-3)
    }

    /// Leaf constructors and accessors.
    func testLeafBasics() {
        let z = Tensor(zeros: [2, 3], fill: 1.5, requiresGrad: true)
        XCTAssertEqual(z.count, 6)
        XCTAssertEqual(z.rank, 2)
        XCTAssertEqual(z.value, [Float](repeating: 1.5, count: 6))
        XCTAssertTrue(z.requiresGrad)
        let s = Tensor(scalar: 4)
        XCTAssertEqual(s.shape, [])
        XCTAssertEqual(s.item, 4)
        XCTAssertFalse(s.requiresGrad)
        XCTAssertTrue(Tensor(shape: [3], value: [1, 2, 3]).description.contains("[3]"))
    }
}
