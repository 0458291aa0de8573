import Foundation
import TacitData
import TacitEval
import TacitTensor
import TacitTestSupport
import XCTest

@testable import TacitModels

/// EmoRec: the graph-attention ops, the feedback graph, the graph encoder and the Hawkes Transformer
/// against finite differences; the variants' switches; learning on MovieLens-100k under the paper's
/// protocol, polarity head included.
final class EmoRecTests: XCTestCase {
    /// 3 users × 6 items rated 1–5 (the ratings taxonomy: 5 / 4 / 3 / ≤ 2 are the four kinds), times a day apart.
    func tinyTrainingSet() -> TrainingSet {
        let rows: [(Int32, Int32, Float)] = [
            (0, 0, 5), (0, 1, 4), (0, 2, 3), (0, 3, 1), (0, 4, 5),
            (1, 1, 5), (1, 2, 2), (1, 5, 4), (1, 0, 3),
            (2, 3, 4), (2, 4, 1), (2, 5, 5), (2, 1, 4), (2, 1, 2),  // (2, 1) re-rated: the later 2 counts
        ]
        let interactions = rows.enumerated().map { t, r in
            Interaction(user: r.0, item: r.1, behavior: 0, timestamp: Int64(t) * 86_400, value: r.2)
        }
        return TrainingSet(userCount: 3, itemCount: 6, taxonomy: .ratings, interactions: interactions)
    }

    // MARK: - Ops

    func testEdgeAggregateMatchesADenseSumAndItsGradients() {
        var rng = SeededRNG(seed: 1)
        // 4 targets (target 3 has no edges) × 5 sources; the repeated pair (0, 1) is one edge.
        let edges = GraphEdges(rows: 4, cols: 5, targets: [0, 0, 1, 1, 1, 2, 0], sources: [1, 4, 0, 2, 4, 3, 1])
        XCTAssertEqual(edges.count, 6)
        XCTAssertEqual(edges.inDegrees(), [2, 3, 1, 0])
        // Widths that reach the kernels' 64- and 16-column blocks and their scalar tails.
        for d in [3, 19, 83] {
            let x = randomTensor([5, d], &rng)
            let w = randomTensor([6], &rng)
            let y = Tensor.edgeAggregate(edges, weights: w, x)
            var expected = [Double](repeating: 0, count: 4 * d)
            for e in 0..<edges.count {
                for j in 0..<d {
                    expected[Int(edges.target[e]) * d + j] += Double(w.value[e]) * Double(x.value[Int(edges.source[e]) * d + j])
                }
            }
            assertClose(y, shape: [4, d], expected)
            assertGradientsMatch("edgeAggregate d \(d)", inputs: [w, x]) { Tensor.edgeAggregate(edges, weights: w, x) }
            let logits = randomTensor([6, 1], &rng)
            assertGradientsMatch("edgeSoftmax·leakyRelu d \(d)", inputs: [logits, x]) {
                Tensor.edgeAggregate(edges, weights: logits.leakyRelu().edgeSoftmax(edges), x)
            }
            // α sums to 1 over each target's edges
            let alpha = Tensor.withoutGrad { logits.edgeSoftmax(edges) }.value
            for t in 0..<3 {
                let sum = (edges.rowStart[t]..<edges.rowStart[t + 1]).reduce(Float(0)) { $0 + alpha[$1] }
                XCTAssertEqual(sum, 1, accuracy: 1e-5)
            }
        }
    }

    func testEdgeAggregateWithoutEdgesIsZeroAndPassesNoGradient() {
        var rng = SeededRNG(seed: 2)
        let edges = GraphEdges(rows: 3, cols: 2, targets: [], sources: [])
        let x = randomTensor([2, 4], &rng)
        let w = Tensor(shape: [0], value: [], requiresGrad: true)
        let y = Tensor.edgeAggregate(edges, weights: w, x)
        XCTAssertEqual(y.shape, [3, 4])
        XCTAssertEqual(y.value, [Float](repeating: 0, count: 12))
        y.sum().backward()
        XCTAssertTrue(x.grad.allSatisfy { $0 == 0 }, "\(x.grad)")
    }

    // MARK: - Graph

    func testFeedbackGraphHasOneRelationFamilyPerKindAndDiffGATRepelsNegatives() {
        let train = tinyTrainingSet()
        let graph = FeedbackGraph.heterogeneous(train, signed: true)
        XCTAssertEqual(graph.nodeCounts, [3, 6, 3, 3, 3, 3])
        XCTAssertEqual(graph.relations.count, 16)
        func relation(_ name: String) -> FeedbackGraph.Relation { graph.relations.first { $0.name == name }! }
        // user 2's re-rated item 1 counts once, as explicit negative (its latest rating, 2)
        let explicitNegative = relation("explicitNegative→item").edges
        XCTAssertEqual(zip(explicitNegative.target, explicitNegative.source).map { [$0, $1] }, [[1, 2], [2, 1], [3, 0], [4, 2]])
        XCTAssertFalse(
            zip(relation("implicitPositive→item").edges.target, relation("implicitPositive→item").edges.source)
                .contains { $0 == 1 && $1 == 2 }
        )
        for r in graph.relations {
            let negative = r.name.hasPrefix("implicitNegative→") || r.name.hasPrefix("explicitNegative→")
            XCTAssertEqual(r.sign, negative ? -1 : 1, r.name)
        }
        XCTAssertTrue(FeedbackGraph.heterogeneous(train, signed: false).relations.allSatisfy { $0.sign == 1 })
        XCTAssertEqual(FeedbackGraph.bipartite(train).relations.map(\.edges.count), [13, 13])
    }

    func testGraphEncoderGradients() {
        let train = tinyTrainingSet()
        for (convolution, signed) in [(FeedbackGraphEncoder.Convolution.gat, false), (.gat, true), (.sage, false)] {
            var rng = SeededRNG(seed: 4)
            let encoder = FeedbackGraphEncoder(
                graph: .heterogeneous(train, signed: signed),
                convolution: convolution,
                dim: 3,
                layers: 2,
                dropout: 0,
                rng: &rng
            )
            // Far from the initialization's near-uniform attention, so every path carries weight.
            for p in encoder.parameters where p.shape.count == 2 { p.value = p.value.map { $0 * 2 } }
            assertGradientsMatch("graph encoder \(convolution) signed \(signed)", inputs: encoder.parameters, atol: 4e-3, rtol: 4e-2) {
                var r = SeededRNG(seed: 0)
                let h = encoder.encode(training: false, rng: &r)
                return [h[FeedbackGraph.user], h[FeedbackGraph.item]]
            }
        }
    }

    func testSignedAggregationChangesTheEmbeddings() {
        let train = tinyTrainingSet()
        func users(signed: Bool) -> [Float] {
            var rng = SeededRNG(seed: 4)
            let encoder = FeedbackGraphEncoder(
                graph: .heterogeneous(train, signed: signed),
                convolution: .gat,
                dim: 4,
                layers: 2,
                dropout: 0,
                rng: &rng
            )
            var r = SeededRNG(seed: 0)
            return Tensor.withoutGrad { encoder.encode(training: false, rng: &r)[FeedbackGraph.user].value }
        }
        XCTAssertNotEqual(users(signed: true), users(signed: false))
    }

    // MARK: - Hawkes Transformer

    static func tinyHawkes(learnableDecay: Bool = true) -> HawkesEncoder.Settings {
        var s = HawkesEncoder.Settings()
        s.transformer = TransformerEncoder.Settings(dim: 4, heads: 2, blocks: 1, innerSize: 6, dropout: 0, maxLength: 5)
        s.decayPerDay = 0.3
        s.learnableDecay = learnableDecay
        s.window = 3
        return s
    }

    static let events: [[HawkesEncoder.Event]] = [
        [
            .init(item: 0, kind: .explicitPositive, time: 0), .init(item: 3, kind: .explicitNegative, time: 86_400),
            .init(item: 2, kind: .implicitNegative, time: 3 * 86_400), .init(item: 1, kind: .implicitPositive, time: 10 * 86_400),
        ],
        [.init(item: 5, kind: .implicitPositive, time: 0), .init(item: 4, kind: .explicitPositive, time: 2 * 86_400)],
    ]

    func testHawkesEncoderGradientsIncludingTheDecay() {
        var rng = SeededRNG(seed: 6)
        let hawkes = HawkesEncoder(itemCount: 6, settings: Self.tinyHawkes(), rng: &rng)
        for p in hawkes.parameters where p.shape.count == 2 { p.value = p.value.map { $0 * 25 } }
        XCTAssertTrue(hawkes.parameters.contains { $0 === hawkes.decay })
        assertGradientsMatch("hawkes encoder", inputs: hawkes.parameters, atol: 4e-3, rtol: 4e-2) {
            var r = SeededRNG(seed: 0)
            return hawkes.encode(Self.events.map { $0[...] }, training: false, rng: &r).hidden
        }
    }

    /// The kernel reads real time: the same items at other times encode differently, and with λ = 0
    /// (and no time feature) they would not.
    func testHawkesEncodingDependsOnRealTimeGaps() {
        var rng = SeededRNG(seed: 6)
        let hawkes = HawkesEncoder(itemCount: 6, settings: Self.tinyHawkes(learnableDecay: false), rng: &rng)
        for p in hawkes.parameters where p.shape.count == 2 { p.value = p.value.map { $0 * 25 } }
        var later = Self.events[0]
        later[0].time -= 30 * 86_400
        func last(_ e: [HawkesEncoder.Event]) -> [Float] {
            var r = SeededRNG(seed: 0)
            let (hidden, length) = Tensor.withoutGrad { hawkes.encode([e[...]], training: false, rng: &r) }
            return Array(hidden.value[((length - 1) * 4)..<(length * 4)])
        }
        let near = last(Self.events[0]), far = last(later)
        XCTAssertGreaterThan(zip(near, far).map { abs($0 - $1) }.max()!, 1e-3)
        hawkes.decay.value = [0]
        hawkes.timeWeight.value = hawkes.timeWeight.value.map { _ in 0 }
        assertClose(last(Self.events[0]), last(later), atol: 1e-5)
    }

    /// Only time differences reach the encoder, so the clock's origin cannot change it: `tacit backtest` replays
    /// a dataset ending at the wall clock, and EmoRec's lists at a fixed seed used to differ from run to run
    /// because the kernel's Δt came from absolute times (t_i / 86,400 − t_j / 86,400, rounded differently at each
    /// origin).
    func testHawkesEncodingIsTheSameWhateverTheClocksOrigin() {
        var s = Self.tinyHawkes(learnableDecay: false)
        s.transformer.maxLength = 50
        s.decayPerDay = 1_000  // events minutes apart, a kernel that tells them apart: a Δt rounded differently shows
        var rng = SeededRNG(seed: 6)
        let hawkes = HawkesEncoder(itemCount: 6, settings: s, rng: &rng)
        for p in hawkes.parameters where p.shape.count == 2 { p.value = p.value.map { $0 * 25 } }
        var gaps = SeededRNG(seed: 7)
        let offsets: [[Int64]] = (0..<500).map { _ in
            var t: Int64 = 0
            return (0..<49).map { _ in
                t += Int64(gaps.nextInt(below: 600))
                return t
            }
        }
        func encoded(from origin: Int64) -> [Float] {
            let sequences = offsets.map { o in
                o.enumerated().map { k, t in HawkesEncoder.Event(item: Int32(k % 6), kind: .explicitPositive, time: origin + t) }[...]
            }
            var r = SeededRNG(seed: 0)
            return Tensor.withoutGrad { hawkes.encode(sequences, training: false, rng: &r).hidden.value }
        }
        let a = encoded(from: 1_777_990_998), b = encoded(from: 1_777_991_019), c = encoded(from: 893_286_638)
        XCTAssertTrue(
            a == b && a == c,
            "differs at \(zip(a, b).filter { $0 != $1 }.count) / \(zip(a, c).filter { $0 != $1 }.count) of \(a.count) values"
        )
    }

    // MARK: - The model

    func testVariantsMapToThePapersSwitches() {
        typealias V = EmoRec.Variant
        XCTAssertEqual(
            V.allCases.map(\.paperName),
            [
                "BaseGAT", "EmoGAT", "diffGAT", "EmoSAGE-THP", "EmoSAGE-THP+use_negatives",
                "EmoGAT-THP+extra_task", "diffGAT-THP+extra_task",
            ]
        )
        XCTAssertEqual(V.allCases.filter(\.heterogeneous).count, 6)
        XCTAssertEqual(V.allCases.filter(\.signed), [.diffGAT, .diffGATTHPExtraTask])
        XCTAssertEqual(V.allCases.filter(\.sequence), [.emoSAGETHP, .emoSAGETHPNegatives, .emoGATTHPExtraTask, .diffGATTHPExtraTask])
        XCTAssertEqual(V.allCases.filter { $0.convolution == .sage }, [.emoSAGETHP, .emoSAGETHPNegatives])
        XCTAssertEqual(V.allCases.filter(\.polarityHead), [.emoGATTHPExtraTask, .diffGATTHPExtraTask])
        XCTAssertEqual(V.allCases.filter(\.trueNegatives), [.emoSAGETHPNegatives])
        XCTAssertEqual(V(name: "diffGAT-THP+extra_task"), .diffGATTHPExtraTask)
        XCTAssertNil(V(name: "diffGAT-THP"))
        // Every variant builds and trains a step on the tiny set; `+use_negatives` draws rated-≤3 items.
        for v in V.allCases {
            var s = EmoRec.Settings()
            s.variant = v
            s.dim = 4
            s.hawkes = Self.tinyHawkes()
            s.windowBatch = 2
            let model = EmoRec(train: tinyTrainingSet(), settings: s)
            var rng = SeededRNG(seed: 1)
            XCTAssertTrue(model.trainEpoch(rng: &rng).isFinite, v.paperName)
            XCTAssertEqual(model.scores(users: [0, 2]).count, 12, v.paperName)
            XCTAssertEqual(model.polarity(histories: [Self.events[0]], items: [1]) != nil, v.polarityHead)
        }
        var s = EmoRec.Settings()
        s.variant = .emoSAGETHPNegatives
        let model = EmoRec(train: tinyTrainingSet(), settings: s)
        XCTAssertEqual(model.negatives, [[2, 3], [0, 2], [1, 4]])
        var rng = SeededRNG(seed: 2)
        for _ in 0..<20 { XCTAssertTrue([0, 2].contains(model.negative(for: 1, rng: &rng))) }
    }

    /// A history's user brings their graph embedding; an unknown user scores on the sequence alone.
    func testScoresCombineTheGraphUserWithTheSequence() {
        var s = EmoRec.Settings()
        s.dim = 4
        s.hawkes = Self.tinyHawkes()
        let model = EmoRec(train: tinyTrainingSet(), settings: s)
        let history = Self.events[0]
        let known = model.scores(histories: [history], users: [0])
        let unknown = model.scores(histories: [history], users: [-1])
        let (gu, gi) = model.graphEmbeddings()
        let graphPart = Tensor.matmul(Tensor.gather(gu, [0]), gi, transB: true).value
        assertClose(known, zip(unknown, graphPart).map { $0 + $1 }, atol: 1e-4)
    }

    func movieLens() throws -> Split {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: LearningTests.ml100k), "no \(LearningTests.ml100k): run scripts/setup.sh")
        return EvaluationProtocol.leaveLast10.split(try DatasetLoader.load("ml-100k"), seed: 1)
    }

    /// diffGAT-THP+extra_task on MovieLens-100k, leave-10-last-out: the loss falls, the ranking beats a
    /// random one many times over, and the polarity head tells the held-out positives from negatives
    /// better than chance. (Against popularity see docs/emorec.md: on MovieLens-100k the margin is
    /// small, so asserting it would test the dataset rather than the code.)
    func testEmoRecLearnsAndItsPolarityHeadSeparatesKinds() throws {
        let split = try movieLens()
        var s = EmoRec.Settings()
        s.dim = 32
        s.learningRate = 2e-3
        let model = EmoRec(train: split.train, settings: s)
        var rng = SeededRNG(seed: 5)
        let losses = (0..<4).map { _ in model.trainEpoch(rng: &rng) }
        XCTAssertLessThan(losses.last!, losses.first! * 0.8, "\(losses)")
        let result = Evaluator(split: split, protocol: .leaveLast10).evaluate(model, on: .test)
        let random = 10.0 / Double(split.train.itemCount)
        XCTAssertGreaterThan(result["Recall@10"]!, 5 * random, "\(result)")
        XCTAssertNotNil(result["NegShare@10"])
        // Polarity of each user's first held-out interaction, after their training history.
        let histories = split.train.histories()
        var probabilities: [Float] = [], labels: [Bool] = []
        let users = split.testUsers.filter { !histories[Int($0)].isEmpty }
        let events = users.map { u in histories[Int(u)].map { HawkesEncoder.Event($0, taxonomy: split.train.taxonomy) } }
        let firsts = users.map { split.testEvents[Int($0)][0] }
        probabilities = model.polarity(histories: events, items: firsts.map(\.item))!
        labels = firsts.map { split.train.taxonomy.feedback(of: $0).isPositive }
        let auc = Metrics.auc(
            positives: zip(probabilities, labels).filter(\.1).map(\.0),
            negatives: zip(probabilities, labels).filter { !$0.1 }.map(\.0)
        )!
        XCTAssertGreaterThan(auc, 0.6, "polarity AUC \(auc)")
    }
}
