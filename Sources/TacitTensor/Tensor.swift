import Foundation

/// A dense Float32 tensor in row-major order that records how it was computed, so that
/// `backward()` can propagate gradients to every tensor with `requiresGrad` that it depends on.
///
/// Tensors are reference types: parameters keep their identity across steps while the graph of
/// intermediates built by one forward pass is released when the loss goes out of scope.
/// A tensor is used from one task at a time; models hand snapshots to other tasks as plain arrays.
public final class Tensor {
    /// Extent of each axis, outermost first.
    public let shape: [Int]
    /// The values, `shape.reduce(1, *)` of them.
    public var value: [Float]
    /// The gradient of the last `backward()` with respect to this tensor; empty until one reaches it.
    public internal(set) var grad: [Float] = []
    /// Whether gradients flow to (and through) this tensor.
    public let requiresGrad: Bool

    @usableFromInline var parents: [Tensor] = []
    /// Accumulates `self.grad` into the parents' gradients.
    @usableFromInline var backwardFn: ((Tensor) -> Void)?

    /// A leaf tensor (a parameter when `requiresGrad`, else a constant).
    public init(shape: [Int], value: [Float], requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
        precondition(
            value.count == shape.reduce(1, *),
            "shape \(shape) needs \(shape.reduce(1, *)) values, got \(value.count)"
        )
        self.shape = shape
        self.value = value
        self.requiresGrad = requiresGrad
    }

    /// A constant or parameter filled with `fill`.
    public convenience init(zeros shape: [Int], fill: Float = 0, requiresGrad: Bool = false) {
        self.init(
            shape: shape,
            value: [Float](repeating: fill, count: shape.reduce(1, *)),
            requiresGrad: requiresGrad
        )
    }

    /// A scalar constant.
    public convenience init(scalar: Float) {
        self.init(shape: [], value: [scalar])
    }

    /// The result of an op: records `parents` and `backward` only when a gradient can flow.
    @usableFromInline
    init(result shape: [Int], value: [Float], parents: [Tensor], backward: @escaping (Tensor) -> Void) {
        self.shape = shape
        self.value = value
        let needsGrad = Tensor.isGradEnabled && parents.contains { $0.requiresGrad }
        self.requiresGrad = needsGrad
        if needsGrad {
            self.parents = parents
            self.backwardFn = backward
        }
    }

    public var count: Int { value.count }
    public var rank: Int { shape.count }
    /// The single value of a scalar (or one-element) tensor.
    public var item: Float {
        precondition(value.count == 1, "item of a tensor of shape \(shape)")
        return value[0]
    }

    // MARK: - Gradient mode

    @TaskLocal static var gradEnabled = true
    @usableFromInline static var isGradEnabled: Bool { gradEnabled }

    /// Runs `body` without recording a graph (evaluation, serving, finite differences).
    public static func withoutGrad<R>(_ body: () throws -> R) rethrows -> R {
        try $gradEnabled.withValue(false, operation: body)
    }

    // MARK: - Gradients

    /// Adds into this tensor's gradient, allocating it (as zeros) on first use.
    public func accumulateGrad(_ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        if grad.isEmpty { grad = [Float](repeating: 0, count: value.count) }
        grad.withUnsafeMutableBufferPointer { body($0) }
    }

    /// Forgets the gradient (parameters call this before each step).
    public func zeroGrad() { grad = [] }

    /// Back-propagates from this scalar through every recorded op, in reverse topological order.
    public func backward() {
        precondition(value.count == 1, "backward() needs a scalar, got shape \(shape)")
        guard requiresGrad else { return }
        let order = topologicalOrder()
        grad = [1]
        for node in order.reversed() {
            guard let fn = node.backwardFn, !node.grad.isEmpty else { continue }
            fn(node)
        }
        // Intermediates keep nothing alive once backward is done.
        for node in order where node.backwardFn != nil {
            node.parents = []
            node.backwardFn = nil
        }
    }

    /// Nodes reachable from self, parents before children (iterative DFS: graphs can be deep).
    private func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Int)] = [(self, 0)]
        visited.insert(ObjectIdentifier(self))
        while let (node, next) = stack.popLast() {
            if next < node.parents.count {
                stack.append((node, next + 1))
                let parent = node.parents[next]
                if parent.requiresGrad, visited.insert(ObjectIdentifier(parent)).inserted {
                    stack.append((parent, 0))
                }
            } else {
                order.append(node)
            }
        }
        return order
    }

    /// A copy of the values that records nothing (a constant).
    public func detached() -> Tensor { Tensor(shape: shape, value: value) }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = value.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), values: [\(head)\(value.count > 8 ? ", …" : "")])"
    }
}

/// Element count of a shape.
@inlinable func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }
