import TacitTensor

/// A two-layer perceptron, `W₂ · relu(W₁ x + b₁) + b₂`, Xavier-initialized: HNT's discriminator,
/// conversion scorer and behavior feature network.
/// x: (N, inputs) → (N, outputs).
public struct MLP {
    public let w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor
    public var parameters: [Tensor] { [w1, b1, w2, b2] }

    public init(inputs: Int, hidden: Int, outputs: Int, rng: inout SeededRNG) {
        w1 = Initializer.xavierNormal([inputs, hidden], rng: &rng)
        b1 = Initializer.constant([hidden], 0)
        w2 = Initializer.xavierNormal([hidden, outputs], rng: &rng)
        b2 = Initializer.constant([outputs], 0)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        Tensor.linear(Tensor.linear(x, w1, b1).relu(), w2, b2)
    }
}
