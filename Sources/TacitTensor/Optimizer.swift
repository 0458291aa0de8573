import Foundation

/// Adam (Kingma & Ba 2015) with optional L2 penalty folded into the gradient (`weightDecay`,
/// as torch.optim.Adam does) or decoupled weight decay (`decoupled`, AdamW).
public final class Adam {
    public struct Settings: Sendable, Equatable {
        public var learningRate: Float
        public var beta1: Float
        public var beta2: Float
        public var epsilon: Float
        public var weightDecay: Float
        public var decoupled: Bool

        public init(
            learningRate: Float = 1e-3,
            beta1: Float = 0.9,
            beta2: Float = 0.999,
            epsilon: Float = 1e-8,
            weightDecay: Float = 0,
            decoupled: Bool = false
        ) {
            self.learningRate = learningRate
            self.beta1 = beta1
            self.beta2 = beta2
            self.epsilon = epsilon
            self.weightDecay = weightDecay
            self.decoupled = decoupled
        }
    }

    public var settings: Settings
    public private(set) var parameters: [Tensor]
    private var m: [[Float]]
    private var v: [[Float]]
    private var step = 0

    public init(_ parameters: [Tensor], settings: Settings = Settings()) {
        precondition(parameters.allSatisfy(\.requiresGrad), "Adam: every parameter must require grad")
        self.parameters = parameters
        self.settings = settings
        m = parameters.map { [Float](repeating: 0, count: $0.count) }
        v = parameters.map { [Float](repeating: 0, count: $0.count) }
    }

    /// Clears the gradients of all parameters.
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }

    /// One update from the current gradients; parameters without a gradient are left alone
    /// (their moments do not decay either, as for sparse rows in lazy Adam).
    public func step(clearGradients: Bool = true) {
        step += 1
        let s = settings
        let bc1 = 1 - Foundation.pow(s.beta1, Float(step))
        let bc2 = 1 - Foundation.pow(s.beta2, Float(step))
        let lr = s.learningRate
        Profiler.measure(.optimizer) {
            for (k, p) in parameters.enumerated() where !p.grad.isEmpty {
                let n = p.count
                p.value.withUnsafeMutableBufferPointer { w in
                    p.grad.withUnsafeBufferPointer { g in
                        m[k].withUnsafeMutableBufferPointer { mk in
                            v[k].withUnsafeMutableBufferPointer { vk in
                                // L2 folded into the gradient (Adam) or decoupled (AdamW); branches hoisted
                                // out of the loop so it vectorizes.
                                let l2 = s.decoupled ? 0 : s.weightDecay
                                let shrink = 1 - (s.decoupled ? lr * s.weightDecay : 0)
                                let b1 = s.beta1, b2 = s.beta2, eps = s.epsilon
                                let step1 = lr / bc1, inv2 = 1 / bc2
                                Compute.parallelFor(n, minChunk: 1 << 15) { range in
                                    for i in range {
                                        let gi = g[i] + l2 * w[i]
                                        let m1 = b1 * mk[i] + (1 - b1) * gi
                                        let v1 = b2 * vk[i] + (1 - b2) * gi * gi
                                        mk[i] = m1
                                        vk[i] = v1
                                        w[i] = w[i] * shrink - step1 * m1 / ((v1 * inv2).squareRoot() + eps)
                                    }
                                }
                            }
                        }
                    }
                }
                if clearGradients { p.zeroGrad() }
            }
        }
    }

    /// Adds a parameter (e.g. when a model grows new rows it replaces a table).
    public func replace(_ old: Tensor, with new: Tensor) {
        guard let k = parameters.firstIndex(where: { $0 === old }) else { return }
        let keep = min(old.count, new.count)
        var mk = [Float](repeating: 0, count: new.count), vk = [Float](repeating: 0, count: new.count)
        mk[..<keep] = m[k][..<keep]
        vk[..<keep] = v[k][..<keep]
        parameters[k] = new
        m[k] = mk
        v[k] = vk
    }
}

/// Parameter initializers.
public enum Initializer {
    /// Xavier/Glorot uniform: U(−a, a), a = √(6 / (fanIn + fanOut)).
    public static func xavierUniform(_ shape: [Int], rng: inout SeededRNG) -> Tensor {
        let (fanIn, fanOut) = fans(shape)
        let a = (6 / Float(fanIn + fanOut)).squareRoot()
        return Tensor(
            shape: shape,
            value: (0..<elementCount(shape)).map { _ in (rng.nextFloat() * 2 - 1) * a },
            requiresGrad: true
        )
    }

    /// Xavier/Glorot normal: N(0, 2 / (fanIn + fanOut)).
    public static func xavierNormal(_ shape: [Int], rng: inout SeededRNG) -> Tensor {
        let (fanIn, fanOut) = fans(shape)
        return normal(shape, std: (2 / Float(fanIn + fanOut)).squareRoot(), rng: &rng)
    }

    /// N(0, std²).
    public static func normal(_ shape: [Int], std: Float, rng: inout SeededRNG) -> Tensor {
        Tensor(shape: shape, value: (0..<elementCount(shape)).map { _ in rng.nextNormal() * std }, requiresGrad: true)
    }

    /// Constant.
    public static func constant(_ shape: [Int], _ value: Float) -> Tensor {
        Tensor(zeros: shape, fill: value, requiresGrad: true)
    }

    /// (fan-in, fan-out) as PyTorch computes them: for 2-D (rows, cols) = (cols, rows) of an
    /// (out, in) weight; we store weights as (in, out), so fan-in is the first extent.
    static func fans(_ shape: [Int]) -> (Int, Int) {
        switch shape.count {
        case 0: return (1, 1)
        case 1: return (shape[0], shape[0])
        default:
            let receptive = shape.dropFirst(2).reduce(1, *)
            return (shape[0] * receptive, shape[1] * receptive)
        }
    }
}
