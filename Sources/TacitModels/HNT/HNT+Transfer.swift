import TacitData
import TacitTensor

// MARK: - Negative-transfer suppression (eqs. 10–17)

extension HNT {
    /// Per auxiliary behavior k, LightGCN embeddings `e^k` of every node (mean over layers 0…L):
    /// [(U + I, d)], in `graphs.auxiliary` order.
    func auxiliaryEmbeddings(_ x0: Tensor) -> [Tensor] {
        // Only the transfer, δ and the contrastive loss read them: `hesitation-only` skips 2 × L
        // propagations a step, with the same results.
        guard settings.transfer || settings.negativeTransfer || settings.contrastive else { return [] }
        return graphs.auxiliaryGraphs.map { LightGCN.layerMean($0, from: x0, layers: settings.embedding.layers) }
    }

    /// Target-behavior embeddings (eqs. 16–17): each layer is the LightGCN step over the buy graph
    /// plus the transfer feature `T = Σ_k m_{k→k*} − δ_{k→k*}`; the result is the sum over layers (the mean with
    /// `averageLayers`).
    /// x0: (U + I, d), auxiliary: [(U + I, d)] → (U + I, d).
    func targetEmbeddings(_ x0: Tensor, auxiliary: [Tensor]) -> Tensor {
        let n = x0.shape[0], d = settings.embedding.dim
        let heads = headExpansion
        // Q and V depend on the auxiliary embeddings only: once for all layers.
        let q = auxiliary.map { Tensor.matmul($0, query) }
        let v = auxiliary.map { Tensor.matmul($0, value) }
        let delta = settings.negativeTransfer && !auxiliary.isEmpty ? negativeTransfer(auxiliary) : nil
        var layer = x0, sum = x0
        for _ in 0..<settings.embedding.layers {
            var next = Tensor.sparseMatmul(targetGraph, layer)
            if settings.transfer && !auxiliary.isEmpty {
                // β^h_{k,k*} (eq. 12): per node and head, softmax over auxiliary behaviors of the
                // scaled dot product of W_Q^h e^k and W_K^h e^{k*}. Per-head sums are a product with
                // the (d, H) head-membership matrix.
                let k = Tensor.matmul(layer, key)
                let logits = q.map { Tensor.matmul($0 * k, heads, transB: true).reshaped([n, settings.heads, 1]) }
                let beta = Tensor.concat(logits, axis: 2).scaled(by: 1 / Float(d / settings.heads).squareRoot()).softmax()
                for b in auxiliary.indices {
                    // α (eq. 11): head h's value slice weighted by β^h; m (eq. 10): α ⊙ σ(W (e^k ⊙ e^{k*})).
                    let betaB = Tensor.matmul(beta.slice(axis: 2, b..<(b + 1)).reshaped([n, settings.heads]), heads)
                    let gate = Tensor.matmul(auxiliary[b] * layer, transfer[b]).sigmoid()
                    next = next + betaB * v[b] * gate
                }
                if let delta { next = next - delta }
            }
            layer = next
            sum = sum + layer
        }
        return settings.averageLayers ? sum.scaled(by: 1 / Float(settings.embedding.layers + 1)) : sum
    }

    /// (H, d) 0/1 matrix: row h marks the d/H columns of head h.
    static func headExpansion(dim d: Int, heads h: Int) -> Tensor {
        let width = d / h
        var m = [Float](repeating: 0, count: h * d)
        for r in 0..<h { for c in (r * width)..<((r + 1) * width) { m[r * d + c] = 1 } }
        return Tensor(shape: [h, d], value: m)
    }

    /// Σ_k δ_{k→k*} for every node (eqs. 14–15): the mean auxiliary embedding of users (items) active
    /// in both k and the target minus that of those active in k only, times the similarity factor.
    /// → (U + I, d): user rows carry the user δ, item rows the item δ.
    func negativeTransfer(_ auxiliary: [Tensor]) -> Tensor {
        let d = settings.embedding.dim
        var total: Tensor?
        for b in auxiliary.indices {
            func meanRow(_ nodes: [Int32]) -> Tensor {
                nodes.isEmpty ? Tensor(zeros: [d]) : Tensor.gather(auxiliary[b], nodes).mean(axis: 0)
            }
            let both = graphs.activeBoth[b], only = graphs.activeOnly[b]
            let du = meanRow(both.users) - meanRow(only.users)
            let di = meanRow(both.items) - meanRow(only.items)
            let delta = Tensor.concat([du.reshaped([1, d]), di.reshaped([1, d])], axis: 0).scaled(by: deltaScale.value[b])
            total = total.map { $0 + delta } ?? delta
        }
        return Tensor.gather(total!, nodeSide)
    }

    /// The similarity factor of eq. 15, `1 − mean_{i∈𝓘_k} max_{j∈𝓘_{k*}} cos(e_i^k, e_j^{k*})`, from
    /// the current embeddings, over at most 4,096 sampled items of 𝓘_k (the mean of a uniform sample).
    func refreshDeltaScale(rng: inout SeededRNG) {
        guard !graphs.auxiliary.isEmpty, !graphs.targetItems.isEmpty else { return }
        Tensor.withoutGrad {
            let x0 = layer0
            let auxiliary = auxiliaryEmbeddings(x0)
            let target = targetEmbeddings(x0, auxiliary: auxiliary)
            let targetRows = Tensor.gather(target, graphs.targetItems).l2NormalizedRows()
            for b in auxiliary.indices {
                var items = graphs.activeBoth[b].items + graphs.activeOnly[b].items
                if items.count > 4096 {
                    rng.shuffle(&items)
                    items = Array(items.prefix(4096))
                }
                let rows = Tensor.gather(auxiliary[b], items).l2NormalizedRows()
                var best = [Float](repeating: -1, count: items.count)
                let chunk = 4096
                for start in stride(from: 0, to: graphs.targetItems.count, by: chunk) {
                    let part = targetRows.slice(axis: 0, start..<min(graphs.targetItems.count, start + chunk))
                    let sims = Tensor.matmul(rows, part, transB: true)
                    let width = part.shape[0]
                    sims.value.withUnsafeBufferPointer { s in
                        for r in 0..<items.count {
                            var m = best[r]
                            for c in 0..<width where s[r * width + c] > m { m = s[r * width + c] }
                            best[r] = m
                        }
                    }
                }
                deltaScale.value[b] = 1 - best.reduce(0, +) / Float(max(1, best.count))
            }
        }
    }

    /// λ2's term (eq. 13): per auxiliary behavior, InfoNCE between a node's behavior-k and target
    /// embeddings against the batch's other nodes, for the batch's users and for its items.
    func contrastiveLoss(
        auxiliary: [Tensor],
        target: Tensor,
        users: [Int32],
        items: [Int32],
        rng: inout SeededRNG
    ) -> Tensor {
        let cap = 1024  // in-batch negatives: a 1024 × 1024 logit matrix per term
        var seen = Set<Int32>()
        let u = Array(users.filter { seen.insert($0).inserted }.prefix(cap))
        seen.removeAll()
        let i = Array(items.filter { seen.insert($0).inserted }.prefix(cap)).map { $0 + Int32(userCount) }
        var loss: Tensor?
        for a in auxiliary {
            let term =
                Tensor.infoNCE(anchor: Tensor.gather(a, u), positive: Tensor.gather(target, u), temperature: settings.temperature)
                + Tensor.infoNCE(anchor: Tensor.gather(a, i), positive: Tensor.gather(target, i), temperature: settings.temperature)
            loss = loss.map { $0 + term } ?? term
        }
        return loss ?? Tensor(scalar: 0)
    }
}
