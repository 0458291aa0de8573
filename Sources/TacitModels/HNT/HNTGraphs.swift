import TacitData
import TacitTensor

/// The graphs HNT propagates over, built once from the training set. Nodes are users `0..<U` then
/// items `U..<U+I`, as in `SparseMatrix.normalizedBipartite`.
struct HNTGraphs {
    /// A multi-behavior graph whose entries keep their behavior (the relation, by behavior code),
    /// normalized by the node degrees of the whole multigraph (each distinct (u, i, b) edge counts
    /// once), so `Σ_b A_b` is the graph's `D^{-1/2} A D^{-1/2}` and eq. 3 can scale each
    /// behavior's messages by its own `w_b` in one pass.
    struct Multigraph {
        var matrix: MultiRelationMatrix
        var edgeCount: Int
    }

    /// Hesitation module (eqs. 1, 2, 6): G⁺ (every behavior of bought pairs), G⁺_aux (the same pairs
    /// without their buy edges); G⁻_aux (auxiliary edges of pairs never bought) enters through `auxAll`.
    let plus: Multigraph
    let auxPlus: Multigraph
    /// Every auxiliary edge, G⁺_aux ∪ G⁻_aux: the conversion scorer reads both its positive and
    /// its negative pairs off this one graph (see `HNT`).
    let auxAll: Multigraph
    /// Distinct (user, item) pairs of G⁺_aux (labelled 1 by eq. 8) and of G⁻_aux (labelled 0;
    /// the hesitation set is chosen among them, eq. 9).
    let auxPlusPairs: (users: [Int32], items: [Int32])
    let auxMinusPairs: (users: [Int32], items: [Int32])
    /// The auxiliary-only pairs as a matrix: user u's pairs are `auxMinusPairs` indices
    /// `auxMinus.rowStart[u] ..< auxMinus.rowStart[u + 1]` (pairs() is user-major, in this order).
    let auxMinus: UserItemMatrix

    /// Negative-transfer module: one LightGCN graph per auxiliary behavior (in `auxiliary` order)
    /// and the target graph (eq. 16).
    let auxiliary: [Int]
    let auxiliaryGraphs: [SparseMatrix]
    let target: SparseMatrix
    let targetPairs: (users: [Int32], items: [Int32])
    /// Per auxiliary behavior, node indices of users/items active in it and in the target behavior
    /// (𝓘⁺ of eq. 14) and of those active in it only (𝓘⁻), for δ⁰.
    let activeBoth: [(users: [Int32], items: [Int32])]
    let activeOnly: [(users: [Int32], items: [Int32])]
    /// Node indices of items active in the target behavior (the j of eq. 15).
    let targetItems: [Int32]

    init(train: TrainingSet) {
        let U = train.userCount, I = train.itemCount, B = train.taxonomy.behaviors.count
        let targetCode = Int(train.taxonomy.targetCode)
        let bought = train.target
        auxiliary = train.taxonomy.auxiliaryCodes.map(Int.init).filter { train.byBehavior[$0].nonZeros > 0 }

        // Distinct (u, i, b) edges, split three ways.
        var plusEdges: [(Int32, Int32, Int)] = [], auxPlusEdges: [(Int32, Int32, Int)] = [], auxMinusEdges: [(Int32, Int32, Int)] = []
        for b in train.byBehavior.indices where b == targetCode || auxiliary.contains(b) {
            let p = train.byBehavior[b].pairs()
            for k in p.users.indices {
                let (u, i) = (p.users[k], p.items[k])
                if bought.contains(u, i) {
                    plusEdges.append((u, i, b))
                    if b != targetCode { auxPlusEdges.append((u, i, b)) }
                } else if b != targetCode {
                    auxMinusEdges.append((u, i, b))
                }
            }
        }
        plus = HNTGraphs.multigraph(plusEdges, users: U, items: I, behaviors: B)
        auxPlus = HNTGraphs.multigraph(auxPlusEdges, users: U, items: I, behaviors: B)
        auxAll = HNTGraphs.multigraph(auxPlusEdges + auxMinusEdges, users: U, items: I, behaviors: B)
        auxPlusPairs = UserItemMatrix(userCount: U, itemCount: I, users: auxPlusEdges.map(\.0), items: auxPlusEdges.map(\.1)).pairs()
        auxMinus = UserItemMatrix(userCount: U, itemCount: I, users: auxMinusEdges.map(\.0), items: auxMinusEdges.map(\.1))
        auxMinusPairs = auxMinus.pairs()

        auxiliaryGraphs = auxiliary.map { b in
            let p = train.byBehavior[b].pairs()
            return SparseMatrix.normalizedBipartite(users: U, items: I, edgeUsers: p.users, edgeItems: p.items)
        }
        let t = bought.pairs()
        targetPairs = t
        target = SparseMatrix.normalizedBipartite(users: U, items: I, edgeUsers: t.users, edgeItems: t.items)

        let targetUserActive = (0..<U).map { bought.items(of: Int32($0)).count > 0 }
        var targetItemActive = [Bool](repeating: false, count: I)
        for i in t.items { targetItemActive[Int(i)] = true }
        targetItems = (0..<I).filter { targetItemActive[$0] }.map { Int32(U + $0) }
        var both: [(users: [Int32], items: [Int32])] = [], only: [(users: [Int32], items: [Int32])] = []
        for b in auxiliary {
            let m = train.byBehavior[b]
            var itemActive = [Bool](repeating: false, count: I)
            for i in m.items { itemActive[Int(i)] = true }
            let users = (0..<U).filter { m.items(of: Int32($0)).count > 0 }
            let items = (0..<I).filter { itemActive[$0] }
            both.append(
                (
                    users.filter { targetUserActive[$0] }.map { Int32($0) },
                    items.filter { targetItemActive[$0] }.map { Int32(U + $0) }
                )
            )
            only.append(
                (
                    users.filter { !targetUserActive[$0] }.map { Int32($0) },
                    items.filter { !targetItemActive[$0] }.map { Int32(U + $0) }
                )
            )
        }
        activeBoth = both
        activeOnly = only
    }

    static func multigraph(_ edges: [(Int32, Int32, Int)], users U: Int, items I: Int, behaviors: Int) -> Multigraph {
        var degree = [Float](repeating: 0, count: U + I)
        for (u, i, _) in edges {
            degree[Int(u)] += 1
            degree[U + Int(i)] += 1
        }
        var r = [Int32](), c = [Int32](), v = [Float](), b = [Int32]()
        r.reserveCapacity(2 * edges.count)
        c.reserveCapacity(2 * edges.count)
        v.reserveCapacity(2 * edges.count)
        b.reserveCapacity(2 * edges.count)
        for (u, i, behavior) in edges {
            let a = u, n = Int32(U) + i
            let x = 1 / (degree[Int(a)] * degree[Int(n)]).squareRoot()
            r.append(a)
            c.append(n)
            r.append(n)
            c.append(a)
            v.append(x)
            v.append(x)
            b.append(Int32(behavior))
            b.append(Int32(behavior))
        }
        let matrix = MultiRelationMatrix(size: U + I, relationCount: behaviors, rowIndex: r, colIndex: c, values: v, relation: b)
        return Multigraph(matrix: matrix, edgeCount: edges.count)
    }
}
